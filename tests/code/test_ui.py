"""`cppcc-themes ui`: a real MLflow server over a temporary store, a real browser, real signals."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cppcc_themes.experiments.cli import main

SEARCH = """
name = "ui-search"
[data]
sources = ["gold"]
[features]
word_ngrams = [1, 1]
[search]
[[search.space]]
model.classifier = ["logreg"]
model.C = [1.0, 10.0]
[output]
package = ""
register = "cppcc-themes"
"""
THEMES = ["ideology", "economy", "livelihood", "united_front", "self_construction"]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_open(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _processes():
    """(pid, parent pid, process group) of every live process, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent, group = stat.rsplit(")", 1)[1].split()[:3]
        if state != "Z":
            yield int(entry.name), int(parent), int(group)


def _group_members(group):
    return [pid for pid, _, pid_group in _processes() if pid_group == group]


@pytest.fixture(scope="module")
def store_with_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui-store")
    config = folder / "search.toml"
    config.write_text(SEARCH, encoding="utf-8")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    assert main(["train", str(config), "--tracking-uri", uri, "--quiet"]) == 0
    return uri


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_ui(uri, port, preexec_fn=None):
    process = subprocess.Popen(
        [sys.executable, "-m", "cppcc_themes.experiments.cli", "ui", "--tracking-uri", uri,
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=preexec_fn)
    for line in process.stdout:
        if line.startswith("http://"):
            return process, line.strip()
    pytest.fail(f"ui printed no address: {process.communicate()[1][-2000:]}")


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "preexec_fn"), [
    (signal.SIGINT, None), (signal.SIGTERM, None),
    # Started in the background of a script: SIGINT arrives ignored and must still stop it.
    (signal.SIGINT, _ignore_sigint)])
def test_a_signal_stops_the_server_and_all_its_processes(store_with_runs, signum, preexec_fn):
    port = _free_port()
    ui, url = _start_ui(store_with_runs, port, preexec_fn)
    assert url.startswith(f"http://127.0.0.1:{port}/#/experiments/")
    assert "workflowType=machine_learning" in url
    [server] = [pid for pid, parent, _ in _processes() if parent == ui.pid]
    group = os.getpgid(server)
    assert group != os.getpgid(ui.pid)  # its own group, stopped as a whole
    members = _group_members(group)
    assert server in members and _port_open(port)
    ui.send_signal(signum)
    try:
        _, err = ui.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        # Leave nothing serving after a failure.
        ui.kill()
        ui.communicate()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        pytest.fail(f"the ui was still running 60 s after signal {signum}")
    assert ui.returncode == 0, err[-2000:]
    deadline = time.monotonic() + 10
    while _group_members(group) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_members(group) == []
    assert not _port_open(port)


@pytest.mark.slow
def test_the_ui_opens_on_the_runs_table_with_f1_columns_in_a_browser(store_with_runs, tmp_path,
                                                                     root):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian's chromium: `make test-ui` installs it")
    pytest.importorskip("playwright")
    # `make test-ui` refreshes the screenshot in docs/; otherwise it goes to a temporary folder.
    screenshot = Path(os.environ.get("CPPCC_THEMES_UI_SCREENSHOT", tmp_path / "runs.png"))
    page_file = tmp_path / "page.json"
    port = _free_port()
    done = subprocess.run(
        [sys.executable, str(root / "scripts" / "screenshot_ui.py"), "--tracking-uri",
         store_with_runs, "--port", str(port), "--output", str(screenshot),
         "--text-output", str(page_file)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    page = json.loads(page_file.read_text(encoding="utf-8"))
    text, columns = page["text"], page["columns"]
    # The runs of the search, in model-training mode, with macro-F1 and per-theme F1 columns.
    for name in ("ui-search", "classifier=logreg C=1.0", "classifier=logreg C=10.0"):
        assert name in text
    assert "macro_f1" in text
    assert {"metrics.`macro_f1`", *(f"metrics.`{t}_f1`" for t in THEMES)} <= set(columns)
    assert "Model training" in text
    assert "gold (" in text  # the Dataset column names the training data
    assert "Information about UI telemetry" not in text
    assert "Welcome to MLflow" not in text
    assert screenshot.stat().st_size > 20_000
    assert not _port_open(port)
