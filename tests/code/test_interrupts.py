"""Ctrl-C, SIGTERM and kill -9 during `cppcc-themes train`, with real signals and a real store.

A small search runs in a subprocess against a temporary sqlite store; once its first candidate
is logged, the test signals it, then reads the store: the parent and the unfinished candidate
are KILLED, finished candidates stay FINISHED, the packaged model is untouched, and the process
printed one line without a traceback. A rerun then finishes cleanly.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SEARCH = """
name = "interrupted-search"
[data]
sources = ["gold"]
[features]
word_ngrams = [1, 1]
[search]
[[search.space]]
model.classifier = ["logreg"]
model.C = [1.0, 3.0, 10.0, 30.0, 100.0, 300.0]
[output]
package = "{package}"
"""


def _runs(uri):
    from mlflow.tracking import MlflowClient

    from cppcc_themes.experiments.tracking import store_lock

    # The train process may be creating the store's tables: do not race it.
    with store_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("cppcc-themes")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id])


def _start_train(tmp_path, root, uri):
    package = tmp_path / "model"
    package.mkdir(exist_ok=True)
    (package / "sentinel.txt").write_text("the old model", encoding="utf-8")
    config = tmp_path / "search.toml"
    config.write_text(SEARCH.format(package=package), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "cppcc_themes.experiments.cli", "train", str(config),
         "--tracking-uri", uri, "--quiet"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_finished_child(process, uri, seconds=240):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        runs = _runs(uri)
        if any(r.info.status == "FINISHED" and r.data.tags.get("run_kind") == "candidate"
               for r in runs):
            return
        time.sleep(0.5)
    process.kill()
    pytest.fail("no candidate finished in time")


# SIGTERM runs in `make test`; Ctrl-C takes the same path and runs with the slow tests.
@pytest.mark.parametrize("signum", [pytest.param(signal.SIGINT, marks=pytest.mark.slow),
                                    signal.SIGTERM])
def test_signal_marks_runs_killed_with_one_line_and_a_rerun_finishes(tmp_path, root, signum):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = _start_train(tmp_path, root, uri)
    _wait_for_finished_child(process, uri)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum
    assert "Traceback" not in err
    # MLflow's own INFO lines about creating a new store come before the signal.
    lines = [line for line in err.splitlines() if line.strip() and " INFO mlflow." not in line]
    assert len(lines) == 1, err
    assert f"interrupted by {signal.Signals(signum).name}" in lines[0]
    runs = _runs(uri)
    [parent] = [r for r in runs if r.data.tags.get("run_kind") == "search"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "KILLED"
    assert {r.info.status for r in children} <= {"FINISHED", "KILLED"}
    assert any(r.info.status == "FINISHED" for r in children)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    assert os.listdir(tmp_path / "model") == ["sentinel.txt"]
    # A rerun restarts cleanly and ships a model.
    rerun = subprocess.run(
        [sys.executable, "-m", "cppcc_themes.experiments.cli", "train",
         str(tmp_path / "search.toml"), "--tracking-uri", uri, "--quiet"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert (tmp_path / "model" / "metadata.json").exists()
    finished = [r for r in _runs(uri) if r.data.tags.get("run_kind") == "search"
                and r.info.status == "FINISHED"]
    assert len(finished) == 1


@pytest.mark.slow
def test_runs_of_a_killed_process_are_marked_killed_by_the_next_run(tmp_path, root):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = _start_train(tmp_path, root, uri)
    _wait_for_finished_child(process, uri)
    process.kill()  # kill -9: nothing in the process can react
    process.communicate(timeout=60)
    assert {r.info.status for r in _runs(uri)} >= {"RUNNING"}
    from cppcc_themes.experiments.lifecycle import TAG_ENDED, mark_stale_runs

    marked = mark_stale_runs(uri, "cppcc-themes")
    runs = _runs(uri)
    assert marked and not [r for r in runs if r.info.status == "RUNNING"]
    for run in runs:
        if run.info.run_id in marked:
            assert run.info.status == "KILLED"
            assert f"process {process.pid}" in run.data.tags[TAG_ENDED]


def test_a_running_run_of_a_live_process_is_left_alone(tmp_path):
    import mlflow

    from cppcc_themes.experiments.lifecycle import mark_stale_runs, process_tags
    from cppcc_themes.experiments.tracking import ensure_experiment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ensure_experiment(uri, "cppcc-themes")
    alive = mlflow.start_run(run_name="alive", tags=process_tags())
    dead_tags = {**process_tags(), "cppcc_themes.pid": "999999999"}
    dead = mlflow.MlflowClient(uri).create_run(alive.info.experiment_id, tags=dead_tags)
    try:
        assert mark_stale_runs(uri, "cppcc-themes") == [dead.info.run_id]
        assert mlflow.MlflowClient(uri).get_run(alive.info.run_id).info.status == "RUNNING"
    finally:
        mlflow.end_run()


def test_a_child_that_asked_to_die_with_its_parent_does_when_the_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", """
import subprocess, sys, time
from cppcc_themes.experiments.lifecycle import die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         preexec_fn=die_with_parent)
print(child.pid, flush=True)
time.sleep(120)
"""], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()  # kill -9: the parent cannot stop its child itself
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        try:  # reaped by init once dead; a zombie still has /proc, so look at its state
            if Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
        except OSError:
            break
        time.sleep(0.1)
    else:
        assert not os.path.exists(f"/proc/{child}"), "the child outlived its parent"
