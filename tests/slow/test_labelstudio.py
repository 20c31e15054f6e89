"""Label Studio for real: install it into a throwaway environment, start it on 127.0.0.1,
create a project with our labelling config, import our tasks through its API, annotate one
through the API, export, and import the export with `cppcc-themes annotate import`.

Slow (an install of ~160 packages, then Label Studio's start-up): `make test-labelstudio`.
Skips, saying why, where label-studio cannot be installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cppcc_themes.experiments.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "0123456789abcdef0123456789abcdef01234567"
BATCH = [
    {"id": "r1#3", "report": "r1", "index": 3, "heading": "一、加强思想政治引领",
     "text": "深入学习贯彻习近平新时代中国特色社会主义思想，筑牢团结奋斗的共同思想政治基础。",
     "themes": ["ideology"], "scores": {"ideology": 0.62}, "uncertainty": 0.76},
    {"id": "r1#9", "report": "r1", "index": 9, "heading": "二、助推高质量发展",
     "text": "围绕优化营商环境开展专题协商，提出意见建议30余条。", "themes": [],
     "scores": {"economy": 0.41}, "uncertainty": 0.82},
]


def _install(venv: Path) -> Path:
    uv = ROOT / ".tools" / "bin" / "uv"
    commands = ([[str(uv), "venv", "-q", str(venv), "--python", sys.executable],
                 [str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                  "label-studio"]] if uv.exists() else
                [[sys.executable, "-m", "venv", str(venv)],
                 [str(venv / "bin" / "pip"), "install", "-q", "label-studio"]])
    for command in commands:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=1500)
        except subprocess.TimeoutExpired:
            pytest.skip("label-studio did not install within 25 minutes")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"label-studio cannot be installed here: {last}")
    return venv / "bin" / "label-studio"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LabelStudio:
    """A minimal client of Label Studio's REST API (legacy token authentication)."""

    def __init__(self, url: str):
        self.url = url

    def call(self, method: str, path: str, body: object | None = None) -> object:
        request = urllib.request.Request(
            self.url + path, method=method,
            data=None if body is None else json.dumps(body).encode("utf-8"),
            headers={"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read() or b"null")

    def wait(self, process: subprocess.Popen, log: Path, seconds: float = 600) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"label-studio exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(2)
        pytest.fail("label-studio did not answer /health within 10 minutes")


def test_label_studio_round_trip(tmp_path: Path, capsys):
    command = _install(tmp_path / "ls-venv")
    port = _free_port()
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(tmp_path / "ls-data"),
           "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
           "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "DJANGO_DB": "sqlite"}
    log = tmp_path / "label-studio.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(command), "start", "--no-browser", "--host", f"http://127.0.0.1:{port}",
             "--internal-host", "127.0.0.1", "--port", str(port),
             "--username", "annotator@example.org", "--password", "not-a-secret-1",
             "--user-token", TOKEN, "--enable-legacy-api-token"],
            stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        studio = LabelStudio(f"http://127.0.0.1:{port}")
        studio.wait(process, log)
        batch = tmp_path / "batch.jsonl"
        batch.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in BATCH),
                         encoding="utf-8")
        tasks_file = tmp_path / "tasks.json"
        assert main(["annotate", "export", str(batch), "--out", str(tasks_file)]) == 0
        config = (tmp_path / "tasks.config.xml").read_text(encoding="utf-8")

        project = studio.call("POST", "/api/projects",
                              {"title": "cppcc-themes test", "label_config": config})
        studio.call("POST", f"/api/projects/{project['id']}/import",
                    json.loads(tasks_file.read_text(encoding="utf-8")))
        listed = studio.call("GET", f"/api/tasks?project={project['id']}")
        tasks = listed["tasks"] if isinstance(listed, dict) else listed
        assert len(tasks) == 2
        first = next(t for t in tasks if t["data"]["id"] == "r1#9")
        studio.call("POST", f"/api/tasks/{first['id']}/annotations", {
            "result": [{"from_name": "themes", "to_name": "text", "type": "choices",
                        "value": {"choices": ["economy", "self_construction"]}}],
            "was_cancelled": False})
        exported = studio.call(
            "GET", f"/api/projects/{project['id']}/export?exportType=JSON"
                   "&download_all_tasks=true")
        export_file = tmp_path / "project-export.json"
        export_file.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)

    labels_dir = tmp_path / "labels"
    assert main(["annotate", "import", str(export_file), "--name", "studio",
                 "--labels-dir", str(labels_dir)]) == 0
    [record] = [json.loads(line) for line in
                (labels_dir / "studio" / "project-export.jsonl").read_text("utf-8").splitlines()]
    assert record["id"] == "r1#9" and record["report_id"] == "r1" and record["index"] == 9
    assert record["labels"] == ["economy", "self_construction"]
    assert record["annotator"] and record["time"] and record["source"] == "studio"
    assert "1 left unlabelled" in capsys.readouterr().out
