"""Benchmark 5: `cppcc-themes ui` start-up, until the runs page's data answers.

Timed from the command's start to the moment the server answers both its health check and an
experiments search (what the runs page asks first), side by side with `import mlflow` in a
fresh process, the floor under any MLflow server. Target: ready in under 10 s. Each start
ends with the Ctrl-C a user would press; the slowest exit after it is printed too, and a UI
that does not exit within a minute is reported (with what it was waiting on), not waited for.
"""

from __future__ import annotations

import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.common import BIN, Workspace, child_env, heading, median_seconds, row, verdict

TARGET_SECONDS = 10.0
REPEAT = 3
IMPORT_MLFLOW = [sys.executable, "-c", "import mlflow"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


STOP_TIMEOUT_SECONDS = 60


class UiDidNotStop(RuntimeError):
    """`cppcc-themes ui` was still running a minute after its Ctrl-C."""


def _waiting_on(pid: int) -> str:
    """What a stuck process waits on: its kernel wait channel and its child processes."""
    proc = Path("/proc") / str(pid)
    try:
        wchan = (proc / "wchan").read_text() or "running"
    except OSError:
        wchan = "unknown"
    children = subprocess.run(["ps", "-o", "pid=,stat=,args=", "--ppid", str(pid)],
                              capture_output=True, text=True).stdout.strip()
    return f"wait channel {wchan}; children: {children or 'none'}"


def _stop(ui: subprocess.Popen) -> float:
    """Send the Ctrl-C a user would press; return the seconds until the command exits."""
    start = time.perf_counter()
    ui.send_signal(signal.SIGINT)
    try:
        ui.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        stuck = _waiting_on(ui.pid)
        ui.kill()
        ui.wait()
        raise UiDidNotStop(f"cppcc-themes ui still running {STOP_TIMEOUT_SECONDS} s after "
                           f"Ctrl-C ({stuck})") from None
    return time.perf_counter() - start


def _ready_seconds(uri: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds until the UI answers, and seconds from its Ctrl-C until it exits."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    ui = subprocess.Popen([str(BIN / "cppcc-themes"), "ui", "--tracking-uri", uri, "--port",
                           str(port)], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        while True:
            if ui.poll() is not None:
                raise RuntimeError(f"cppcc-themes ui exited with {ui.returncode}")
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).read()
                urllib.request.urlopen(f"{base}/ajax-api/2.0/mlflow/experiments/search"
                                       "?max_results=10", timeout=10).read()
                ready = time.perf_counter() - start
                break
            except OSError:
                time.sleep(0.1)
    except BaseException:
        ui.kill()
        ui.wait()
        raise
    return ready, _stop(ui)


def run(workspace: Workspace) -> None:
    """Print the median start-up of the UI and of a bare `import mlflow`."""
    env = child_env(workspace.cache)
    uri = f"sqlite:///{workspace.root / 'ui-bench.db'}"
    heading(f"5. cppcc-themes ui: start until the runs page's data answers, median of {REPEAT}")
    try:
        _ready_seconds(uri, env)  # creates the store's tables once
        starts = [_ready_seconds(uri, env) for _ in range(REPEAT)]
    except UiDidNotStop as error:
        row("cppcc-themes ui, stop after Ctrl-C", f"FAIL  {error}")
        return
    ready = statistics.median(seconds for seconds, _ in starts)
    floor = median_seconds(IMPORT_MLFLOW, REPEAT, env)
    row("python -c 'import mlflow' (floor)", f"{floor:6.2f} s")
    passed = verdict(ready, TARGET_SECONDS, higher_is_better=False)
    row("cppcc-themes ui, ready", f"{ready:6.2f} s  {ready / floor:.2f}x the floor  {passed} "
        f"(target < {TARGET_SECONDS:.0f} s)")
    row("cppcc-themes ui, exit after Ctrl-C", f"{max(stop for _, stop in starts):6.2f} s  "
        f"(slowest of {REPEAT})")
