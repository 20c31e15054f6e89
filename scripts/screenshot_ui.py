"""Screenshot the MLflow run comparison served by ``cppcc-themes ui``, in headless Chromium.

    .venv/bin/python scripts/screenshot_ui.py [--tracking-uri sqlite:///mlflow.db]
        [--parent search] [--runs 6] [--output docs/mlflow-compare.png]

Installs Debian's ``chromium`` with apt-get when it is missing (needs root), starts the UI on
127.0.0.1 with one worker, opens the comparison of the best child runs of the latest search
named ``--parent``, saves the screenshot, and stops the server it started.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def chromium() -> str:
    """Path of the chromium binary, installed from Debian's archive if needed."""
    found = shutil.which("chromium")
    if found:
        return found
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "chromium"], check=True)
    return shutil.which("chromium") or sys.exit("chromium did not install")


def best_child_runs(uri: str, parent_name: str, count: int) -> tuple[str, list[str]]:
    """Experiment id and the ids of the best ``count`` children of the latest such parent."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("cppcc-themes")
    if experiment is None:
        sys.exit(f"{uri}: no experiment cppcc-themes; run a search first")
    [parent] = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.run_kind = 'search' and attributes.run_name = '{parent_name}' "
                      "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"], max_results=1) or [None]
    if parent is None:
        sys.exit(f"{uri}: no finished search named {parent_name!r}")
    children = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["metrics.macro_f1 DESC"], max_results=count)
    return experiment.experiment_id, [run.info.run_id for run in children]


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(1)
    sys.exit(f"{url} did not answer within {seconds:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    parser.add_argument("--parent", default="search", help="name of the search parent run")
    parser.add_argument("--runs", type=int, default=6, help="how many best children to compare")
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--output", default=str(ROOT / "docs" / "mlflow-compare.png"))
    args = parser.parse_args()
    browser = chromium()
    experiment_id, run_ids = best_child_runs(args.tracking_uri, args.parent, args.runs)
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "cppcc-themes"), "ui", "--tracking-uri",
         args.tracking_uri, "--port", str(args.port)],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_for(base + "/health", 90)
        query = urllib.parse.urlencode({"runs": json.dumps(run_ids),
                                        "experiments": json.dumps([experiment_id])})
        url = f"{base}/#/compare-runs?{query}"
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                            "--window-size=1600,1400", "--virtual-time-budget=20000",
                            f"--screenshot={args.output}", url], check=True, timeout=180,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        # The UI command runs mlflow in a child process: stop the whole group we started.
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(f"saved {args.output} ({len(run_ids)} runs compared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
