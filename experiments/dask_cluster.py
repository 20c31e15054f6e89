"""Scale-out on a Dask cluster: tagging partitioned by file, and joblib work such as a
hyperparameter search.

Dask is the ``dask`` extra (``pip install 'cppcc-themes[dask]'``); it is imported only when
one of these functions runs. Point them at a running scheduler, e.g. ``tcp://10.0.0.5:8786``
started with ``dask scheduler`` and ``dask worker tcp://10.0.0.5:8786`` on each machine.
Workers need this package installed (same versions as the client) and must be able to read
the input files under the paths the client gives: a shared file system, or absolute paths
that exist on every worker. The model itself is sent from the client to every worker once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["ClusterUnavailable", "dask_joblib_backend", "tag_paths_for_cli",
           "tag_paths_on_dask"]

# Files submitted ahead of the one being yielded, per worker thread: keeps every worker busy
# while bounding what the client holds for a corpus of any size.
_AHEAD_PER_THREAD = 4
# How long to keep trying to reach the scheduler before giving up.
CONNECT_TIMEOUT = "30s"


class ClusterUnavailable(RuntimeError):
    """The Dask scheduler cannot be reached; the message names its address."""


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ImportError("scale-out needs the dask extra: pip install 'cppcc-themes[dask]'") \
            from error
    return distributed


@contextlib.contextmanager
def _client(address: Any) -> Iterator[Any]:
    """A client of the scheduler at ``address``, or ``address`` itself if it is a client."""
    distributed = _import_distributed()
    if isinstance(address, distributed.Client):
        yield address
        return
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError) as error:  # refused, timed out, or not an address
        raise ClusterUnavailable(f"{address}: cannot reach the Dask scheduler "
                                 f"({type(error).__name__}: {error})") from None
    with client:
        yield client


def _tag_on_worker(model: Any, path: str, table: Any = None) -> Any:
    """Tag one input on a worker; failures come back as a one-line ReadError, as locally."""
    from cppcc_themes.train.predict import tag_path_safely

    return tag_path_safely(model, path, table)


def tag_paths_on_dask(model_or_dir: Any, inputs: Iterable[str | Path],
                      address: Any, table: Any = None) -> Iterator[tuple[str, Any]]:
    """Tag inputs on the Dask cluster at ``address``; yield ``(path, Report or ReadError)``
    per file in input order, exactly as ``train.predict.tag_paths`` does in one process.

    One task per file. ``model_or_dir`` is a loaded ``ThemeModel`` or a model directory,
    loaded and checked here first (a bad model raises ``ModelLoadError`` before the cluster is
    contacted); the model is broadcast to the workers once. ``address`` is a scheduler
    address or an existing ``distributed.Client``; ``ClusterUnavailable`` if unreachable.
    """
    from cppcc_themes.train.package import load_model
    from cppcc_themes.train.predict import ThemeModel, each_report, expand_inputs, in_input_order

    model = model_or_dir if isinstance(model_or_dir, ThemeModel) else load_model(model_or_dir)
    jobs = expand_inputs(inputs)
    with _client(address) as client:
        shared_model = client.scatter(model, broadcast=True)

        def submit(job: str) -> Any:
            return client.submit(_tag_on_worker, shared_model, job, table, pure=False)

        ahead = _AHEAD_PER_THREAD * max(1, sum(client.nthreads().values()))
        yield from each_report(in_input_order(jobs, submit, _collect, ahead))


def tag_paths_for_cli(model: Any, inputs: Iterable[str | Path],
                      address: str, table: Any = None) -> Iterator[tuple[str, Any]]:
    """``tag_paths_on_dask`` for ``cppcc-themes tag --dask``: an unreachable scheduler is a
    one-line error and exit status 2, as for any other problem that stops everything."""
    from cppcc_themes.experiments.commands import EXIT_FATAL, print_error

    try:
        yield from tag_paths_on_dask(model, inputs, address, table)
    except ClusterUnavailable as error:
        print_error(str(error))
        raise SystemExit(EXIT_FATAL) from None


def _collect(path: str, outcome: Any) -> tuple[str, Any]:
    """Wait for one file's result; a task lost on the cluster becomes that file's error."""
    from cppcc_themes.features.readers import ReadError

    if isinstance(outcome, ReadError) or not hasattr(outcome, "result"):
        return path, outcome
    try:
        return path, outcome.result()
    except Exception as error:  # a worker died or the task failed outside our code
        return path, ReadError(f"{path}: failed on the cluster ({type(error).__name__}: "
                               f"{error})")


@contextlib.contextmanager
def dask_joblib_backend(address: Any) -> Iterator[Any]:
    """Within the block, joblib-parallel work runs on the Dask cluster at ``address``.

    Anything that parallelises through joblib goes there, e.g. a search::

        with dask_joblib_backend("tcp://10.0.0.5:8786"):
            GridSearchCV(pipeline, grid, cv=GroupKFold(4), n_jobs=-1).fit(X, Y, groups=groups)

    Yields the ``distributed.Client``. ``address`` may also be an existing client.
    """
    import joblib

    with _client(address) as client, joblib.parallel_config(backend="dask"):
        yield client
