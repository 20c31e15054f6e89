"""Benchmark 5: `cppcc-themes ui` start-up, until the runs page's data answers.

Timed from the command's start to the moment the server answers both its health check and an
experiments search (what the runs page asks first), side by side with `import mlflow` in a
fresh process, the floor under any MLflow server. Target: ready in under 10 s.
"""

from __future__ import annotations

import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

from benchmarks.common import BIN, Workspace, child_env, heading, median_seconds, row, verdict

TARGET_SECONDS = 10.0
REPEAT = 3
IMPORT_MLFLOW = [sys.executable, "-c", "import mlflow"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ready_seconds(uri: str, env: dict[str, str]) -> float:
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
                return time.perf_counter() - start
            except OSError:
                time.sleep(0.1)
    finally:
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=60)


def run(workspace: Workspace) -> None:
    """Print the median start-up of the UI and of a bare `import mlflow`."""
    env = child_env(workspace.cache)
    uri = f"sqlite:///{workspace.root / 'ui-bench.db'}"
    heading(f"5. cppcc-themes ui: start until the runs page's data answers, median of {REPEAT}")
    _ready_seconds(uri, env)  # creates the store's tables once
    ready = statistics.median(_ready_seconds(uri, env) for _ in range(REPEAT))
    floor = median_seconds(IMPORT_MLFLOW, REPEAT, env)
    row("python -c 'import mlflow' (floor)", f"{floor:6.2f} s")
    passed = verdict(ready, TARGET_SECONDS, higher_is_better=False)
    row("cppcc-themes ui, ready", f"{ready:6.2f} s  {ready / floor:.2f}x the floor  {passed} "
        f"(target < {TARGET_SECONDS:.0f} s)")
