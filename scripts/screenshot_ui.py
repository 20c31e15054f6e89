"""Open ``cppcc-themes ui`` in headless Chromium, as a user would, and screenshot the runs table.

    .venv/bin/python scripts/screenshot_ui.py [--tracking-uri sqlite:///mlflow.db]
        [--output docs/mlflow-runs.png] [--text-output PAGE.txt] [--port 5077]

Starts ``cppcc-themes ui`` over the store, opens the address it prints (the experiment's runs,
model-training mode, macro-F1 and per-theme F1 columns) in Debian's ``/usr/bin/chromium``
driven by playwright (no browser download), waits for the runs table, saves the screenshot
(and the page's visible text with ``--text-output``), then stops the UI with SIGINT as Ctrl-C
would. MLflow's assistant panel, which opens once on a browser's first visit to a local
server, is marked as already shown so the table has the full width. Needs
``apt-get install -y chromium`` (``make test-ui`` does it).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--hide-scrollbars"]
# MLflow's own local-storage flag: its assistant panel has been opened once already.
ASSISTANT_SHOWN = "localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true')"
READY_TIMEOUT_SECONDS = 120


def start_ui(uri: str, port: int) -> tuple[subprocess.Popen, str, float]:
    """``cppcc-themes ui`` as a subprocess; its runs address and seconds until it was ready."""
    started = time.monotonic()
    ui = subprocess.Popen(
        [sys.executable, "-m", "cppcc_themes.experiments.cli", "ui", "--tracking-uri", uri,
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True)
    deadline = started + READY_TIMEOUT_SECONDS
    assert ui.stdout is not None
    for line in ui.stdout:
        if line.startswith("http://"):
            return ui, line.strip(), time.monotonic() - started
        if time.monotonic() > deadline:
            break
    ui.kill()
    sys.exit(f"screenshot_ui.py: cppcc-themes ui did not print its address (exit {ui.poll()})")


def shoot(url: str, output: Path, width: int = 1600, height: int = 800) -> str:
    """Open ``url``, wait for the runs grid, save a screenshot; return the visible text."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height})
        try:
            page = browser.new_page()
            page.add_init_script(ASSISTANT_SHOWN)
            page.goto(url)
            page.wait_for_selector(".ag-header-cell[col-id='metrics.`macro_f1`']",
                                   timeout=90_000)
            page.wait_for_selector(".ag-row", timeout=30_000)
            page.wait_for_timeout(1500)  # let the grid finish sizing its columns
            page.screenshot(path=str(output))
            headers = page.eval_on_selector_all(
                ".ag-header-cell", "cells => cells.map(c => c.getAttribute('col-id'))")
            return json.dumps({"text": page.inner_text("body"), "columns": headers},
                              ensure_ascii=False)
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    parser.add_argument("--port", type=int, default=5077)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "mlflow-runs.png")
    parser.add_argument("--text-output", type=Path,
                        help="write the page's visible text and column ids here (JSON)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"screenshot_ui.py: {CHROMIUM} not found; apt-get install -y chromium")
    ui, url, ready = start_ui(args.tracking_uri, args.port)
    try:
        page = shoot(url, args.output.resolve())
    finally:
        ui.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal sends
        ui.wait(timeout=60)
    if args.text_output:
        args.text_output.write_text(page, encoding="utf-8")
    print(f"saved {args.output}: {url} (UI ready after {ready:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
