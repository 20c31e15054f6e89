"""``cppcc-themes ui``: the MLflow UI on 127.0.0.1, opened on the experiment's runs table.

MLflow 3's UI opens on its GenAI home. The address this command prints opens the experiment's
runs in model-training mode instead (``workflowType=machine_learning``), sorted by macro-F1
with macro-F1 and the per-theme F1 as columns: that view is an MLflow "shared view"
(an experiment tag ``mlflow.sharedViewState.<key>`` holding the view state as JSON, named by the
``viewStateShareKey`` URL parameter), written before the server starts. The experiment is also
tagged as a model-training one (``mlflow.experimentKind``), so MLflow offers runs, not traces.

The server runs in its own process group, which is stopped as a whole on Ctrl-C, SIGTERM or
when this command ends, so no worker keeps the port.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, print_error

VIEW_KEY = "cppcc-themes-runs"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
# A new store's tables are created on the first start: 45 s on this 2-core machine under load 7.
READY_TIMEOUT_SECONDS = 300
# Past this, say that the server is still starting rather than look hung.
PATIENCE_SECONDS = 10
# MLflow's server imports a module Starlette has deprecated; its warning is not the user's.
SERVER_WARNINGS = "ignore:starlette.middleware.wsgi is deprecated"
STOP_TIMEOUT_SECONDS = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ui", help="serve the MLflow UI on 127.0.0.1, opened on the experiment's runs")
    parser.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI or "
                        "sqlite:///mlflow.db")
    parser.add_argument("--experiment", default="cppcc-themes", help="MLflow experiment name")
    parser.add_argument("--port", type=int, default=5000)
    parser.set_defaults(func=run)


def _metric(key: str) -> str:
    return f"metrics.`{key}`"


def runs_view_state(themes: list[str]) -> dict[str, Any]:
    """The runs table a researcher wants first: best macro-F1 on top, the F1s as columns."""
    metrics = [_metric(key) for key in ("macro_f1", "macro_f1_ci_low", "macro_f1_ci_high",
                                         *(f"{theme}_f1" for theme in themes), "none_f1",
                                         "brier_mean")]
    attributes = ["attributes.`Dataset`", "attributes.`Models`"]
    params = ["params.`model.classifier`", "params.`features.analyzer`",
              "params.`data.sources`"]
    return {
        "searchFilter": "",
        "orderByKey": _metric("macro_f1"),
        "orderByAsc": False,
        "selectedColumns": [*attributes, *metrics, *params],
        # The grid's column ids: the metrics right after the run name, where they are seen
        # without scrolling ("1" is the selection checkbox, then name, date, duration).
        "columnOrder": ["1", "attributes.`Run Name`", *metrics, *attributes,
                        "runDateAndNestInfo", "duration", *params],
        "runListHidden": False,
        "viewMaximized": False,
    }


def _call(base: str, endpoint: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """One MLflow REST call (GET with a query, or POST with JSON) to the server at ``base``."""
    # Here, not at the top: every command imports this module to register it, and
    # urllib.request (http.client, email, ssl) took ~0.1 s of each `cppcc-themes tag` start.
    import urllib.request

    url = f"{base}/api/2.0/mlflow/{endpoint}"
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def prepare_experiment(base: str, name: str) -> str:
    """Create ``name`` if needed, tag it model-training with the runs view; return its id.

    Through the running server's REST API: this process then never imports mlflow, which
    would cost seconds of the UI's start-up.
    """
    import urllib.error
    import urllib.parse

    from cppcc_themes.train.themes import theme_ids

    query = urllib.parse.urlencode({"experiment_name": name})
    try:
        experiment_id = _call(base, f"experiments/get-by-name?{query}")["experiment"][
            "experiment_id"]
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        experiment_id = _call(base, "experiments/create", {"name": name})["experiment_id"]
    for key, value in ((KIND_TAG, MODEL_TRAINING_KIND),
                       (VIEW_TAG, json.dumps(runs_view_state(list(theme_ids()))))):
        _call(base, "experiments/set-experiment-tag",
              {"experiment_id": experiment_id, "key": key, "value": value})
    return experiment_id


def runs_url(base: str, experiment_id: str) -> str:
    """The runs table of the experiment, in model-training mode, with the prepared view."""
    return (f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
            f"&viewStateShareKey={VIEW_KEY}")


def start_server(uri: str, port: int) -> subprocess.Popen:
    """``mlflow server`` in a new process group that dies with this process."""
    from cppcc_themes.experiments.lifecycle import die_with_parent

    # One worker: this is a 2-core machine and the UI is for one person. No job runner: it
    # serves GenAI jobs (judges, trace roll-ups) this project has none of, and its process
    # slowed the start by a third.
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    warnings = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), SERVER_WARNINGS)))
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
           "PYTHONWARNINGS": warnings}
    return subprocess.Popen(command, env=env, start_new_session=True,
                            preexec_fn=die_with_parent)


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group, SIGKILL to whatever outlives it."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_SECONDS), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; its workers may still be ending: wait for the group to empty.
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(server.pid):
            time.sleep(0.1)
        if not _group_alive(server.pid):
            break


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_until_ready(server: subprocess.Popen, base: str, seconds: float) -> bool:
    """True once the server answers its health check, False if it exits or times out."""
    import urllib.request

    start = time.monotonic()
    deadline = start + seconds
    told = False
    while time.monotonic() < deadline:
        if not told and time.monotonic() - start > PATIENCE_SECONDS:
            print(f"MLflow server still starting (a new store's tables are created on its first "
                  f"start; a busy machine is slower); waiting up to {seconds:.0f} s ...",
                  file=sys.stderr, flush=True)
            told = True
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _stop_on(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from cppcc_themes.experiments.tracking import (
        TrackingError,
        check_sqlite_folder,
        offline_environment,
        resolve_tracking_uri,
    )

    offline_environment()
    uri = resolve_tracking_uri(args.tracking_uri)
    started = time.monotonic()
    try:
        check_sqlite_folder(uri)
    except TrackingError as error:
        print_error(str(error))
        return EXIT_FATAL
    base = f"http://127.0.0.1:{args.port}"
    # Both set explicitly: a command started in the background of a script inherits SIGINT
    # ignored, and then Ctrl-C or `kill -INT` would leave the server running.
    previous = {sig: signal.signal(sig, _stop_on) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = start_server(uri, args.port)
    try:
        if not wait_until_ready(server, base, READY_TIMEOUT_SECONDS):
            print_error(f"{uri}: MLflow UI did not start on port {args.port} (port in use, or "
                        "a store MLflow cannot open; its messages are above)")
            return EXIT_FATAL
        experiment_id = prepare_experiment(base, args.experiment)
        print(f"MLflow UI ready in {time.monotonic() - started:.1f} s over {uri}; the runs of "
              f"{args.experiment!r}:\n{runs_url(base, experiment_id)}\n(Ctrl-C stops it)",
              flush=True)
        server.wait()
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_server(server)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
