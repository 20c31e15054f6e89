"""`mlflow models serve` on the registered champion answers POST /invocations with theme names.

Run as the README shows it: the environment's bin folder on PATH (MLflow starts `uvicorn` from
PATH), the tracking URI exported, `--env-manager local`.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cppcc_themes.experiments.cli import main

CONFIG = """
name = "served"
[data]
sources = ["gold"]
[features]
word_ngrams = [1, 1]
[output]
package = ""
register = "cppcc-themes"
"""
THEMES = {"ideology", "economy", "livelihood", "united_front", "self_construction"}


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_served_champion_answers_with_theme_names(tmp_path):
    config = tmp_path / "served.toml"
    config.write_text(CONFIG, encoding="utf-8")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["train", str(config), "--tracking-uri", uri, "--quiet"]) == 0
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
           "MLFLOW_TRACKING_URI": uri}
    server = subprocess.Popen(
        ["mlflow", "models", "serve", "-m", "models:/cppcc-themes@champion",
         "--env-manager", "local", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.communicate()[1][-2000:]
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the model server did not start"
                time.sleep(0.5)
        body = json.dumps({"dataframe_records": [
            {"text": "坚持和加强党对人民政协工作的全面领导,"
                     "深入学习贯彻习近平新时代中国特色社会主义思想"},
            {"text": "围绕推动高质量发展建言资政", "heading": "二、服务发展"},
        ]}).encode()
        request = urllib.request.Request(f"{base}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    first, second = answer["predictions"]
    assert set(first) == THEMES | {"themes"}
    assert "ideology" in first["themes"]
    assert set(second["themes"]) <= THEMES
    assert all(0.0 <= first[theme] <= 1.0 for theme in THEMES)
