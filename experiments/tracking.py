"""MLflow at the edge: environment, tracking URI, and a reachability check before training."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "TrackingError",
    "check_sqlite_folder",
    "check_tracking",
    "ensure_experiment",
    "log_training_data",
    "offline_environment",
    "resolve_tracking_uri",
    "set_champion",
    "store_lock",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "cppcc-themes"
# The registry alias of the model a search or experiment shipped last.
CHAMPION_ALIAS = "champion"
CONNECT_TIMEOUT_SECONDS = 3.0


class TrackingError(RuntimeError):
    """The tracking store cannot be used; the message says which and why."""


def offline_environment() -> None:
    """Settings for a machine without network: no telemetry, no hub look-ups, quick failures."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` here."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def check_tracking(uri: str) -> None:
    """Fail fast, before any training, when the tracking store cannot be reached."""
    offline_environment()
    check_sqlite_folder(uri)
    if uri.startswith(("http://", "https://")):
        _check_server_port(uri)
    from mlflow.tracking import MlflowClient

    try:
        with store_lock(uri):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as error:  # mlflow raises many types for a dead server
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise TrackingError(f"{uri}: tracking store unreachable ({type(error).__name__}: "
                            f"{first_line[:200]})") from None


def check_sqlite_folder(uri: str) -> None:
    """A ``sqlite:///`` store needs a writable folder (a check that does not import mlflow)."""
    if uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        if not folder.exists() or not os.access(folder, os.W_OK):
            raise TrackingError(f"{uri}: folder {folder} does not exist or is not writable")


def _check_server_port(uri: str) -> None:
    """A plain TCP connect with a short timeout: a dead or unroutable server fails in seconds."""
    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port),
                                      timeout=CONNECT_TIMEOUT_SECONDS):
            pass
    except OSError as error:
        raise TrackingError(f"{uri}: tracking store unreachable (cannot connect to "
                            f"{parts.hostname}:{port}: {error})") from None


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Serialise creating a sqlite store and its experiments between processes.

    Two ``train`` processes on a new ``mlflow.db`` would otherwise both create the tables, or
    both create the experiment, and one would fail. Other stores handle this themselves.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    database = Path(uri.removeprefix("sqlite:///")).resolve()
    digest = hashlib.sha256(str(database).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"cppcc-themes-store-{digest}.lock"
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_experiment(uri: str, name: str) -> str:
    """Make ``name`` the active MLflow experiment, creating it once even under concurrency."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    with store_lock(uri):
        return mlflow.set_experiment(name).experiment_id


def log_training_data(dataset: Any, sources: list[str], data_hash: str) -> None:
    """Record the labelled paragraphs as the active run's training input (the UI's Dataset)."""
    import mlflow.data

    named = mlflow.data.from_huggingface(dataset, targets="labels", name="+".join(sources),
                                         digest=data_hash[:12])
    mlflow.log_input(named, context="training")


def set_champion(model_name: str, version: str | int) -> None:
    """Point the registry alias ``champion`` of ``model_name`` at ``version``."""
    from mlflow.tracking import MlflowClient

    MlflowClient().set_registered_model_alias(model_name, CHAMPION_ALIAS, str(version))
