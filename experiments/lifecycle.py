"""Runs that end: interrupts become KILLED runs, and runs of dead processes do not stay RUNNING.

Every run this package starts is tagged with the process that started it (host, pid, the pid's
start time, an id for the invocation). Then

- Ctrl-C or SIGTERM during ``train`` marks the invocation's unfinished runs KILLED
  (:func:`interrupts_as_killed_runs`), and the command ends with one line;
- a run still RUNNING whose process is gone (kill -9, power loss) is marked KILLED by the next
  ``train`` on the same host (:func:`mark_stale_runs`), with a tag saying why;
- child processes can ask to die with their parent (:func:`die_with_parent`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Interrupted", "die_with_parent", "interrupts_as_killed_runs", "kill_invocation_runs",
           "mark_stale_runs", "process_tags"]

TAG_HOST = "cppcc_themes.host"
TAG_PID = "cppcc_themes.pid"
TAG_PID_START = "cppcc_themes.pid_start"
TAG_INVOCATION = "cppcc_themes.invocation"
TAG_ENDED = "cppcc_themes.ended"
_INVOCATION = uuid.uuid4().hex
_PR_SET_PDEATHSIG = 1


class Interrupted(KeyboardInterrupt):
    """The process got SIGINT or SIGTERM; ``signal_name`` says which.

    A ``KeyboardInterrupt``, so no ``except Exception`` on the way (MLflow's, ours) takes it
    for an error of its own.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = 128 + getattr(signal, signal_name)
        # Why the runs could not be marked KILLED, if they could not (e.g. the server is gone).
        self.marking_error: str | None = None


def _process_start(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (tells a reused pid apart), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces: count fields after its closing one.
    return stat.rsplit(")", 1)[1].split()[19]


def process_tags() -> dict[str, str]:
    """Tags naming this process, for every run it starts."""
    pid = os.getpid()
    return {TAG_HOST: socket.gethostname(), TAG_PID: str(pid),
            TAG_PID_START: _process_start(pid) or "", TAG_INVOCATION: _INVOCATION}


def _process_alive(pid: int, start: str) -> bool:
    if not Path("/proc").is_dir():  # no procfs: only ask whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    current = _process_start(pid)
    return current is not None and (not start or current == start)


def mark_stale_runs(tracking_uri: str, experiment_name: str) -> list[str]:
    """Mark KILLED the RUNNING runs started on this host by a process that is gone.

    Runs from other hosts, or without the process tags, are left alone: nothing here can tell
    whether they still run. Returns the ids marked.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    host = socket.gethostname()
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{TAG_HOST}` = '{host}'",
        max_results=1000)
    marked = []
    for run in runs:
        tags = run.data.tags
        try:
            pid = int(tags.get(TAG_PID, ""))
        except ValueError:
            continue
        if _process_alive(pid, tags.get(TAG_PID_START, "")):
            continue
        client.set_tag(run.info.run_id, TAG_ENDED,
                       f"marked KILLED by a later run: process {pid} on {host} was gone")
        client.set_terminated(run.info.run_id, status="KILLED")
        marked.append(run.info.run_id)
    return marked


def kill_invocation_runs(tracking_uri: str, reason: str) -> list[Any]:
    """Mark every unfinished run of this invocation KILLED; return those runs."""
    import mlflow
    from mlflow.tracking import MlflowClient

    # The interrupted `with start_run()` blocks have ended their runs FAILED; any left active
    # (an interrupt between starting a run and entering its block) end here.
    while mlflow.active_run() is not None:
        mlflow.end_run("KILLED")
    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(
        experiments, filter_string=f"tags.`{TAG_INVOCATION}` = '{_INVOCATION}' and "
                                   "attributes.status != 'FINISHED'", max_results=10_000)
    for run in runs:
        client.set_tag(run.info.run_id, TAG_ENDED, reason)
        client.set_terminated(run.info.run_id, status="KILLED")
    return runs


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def interrupts_as_killed_runs(tracking_uri: str) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into :class:`Interrupted`; on it, mark this invocation's runs KILLED.

    The signals are ignored while the runs are marked, so a second Ctrl-C cannot leave them
    half-marked; :class:`Interrupted` is re-raised for the caller to print its one line.
    """
    previous = {sig: signal.signal(sig, _raise_interrupted)
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except (Interrupted, KeyboardInterrupt) as error:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        interrupted = error if isinstance(error, Interrupted) else Interrupted("SIGINT")
        try:
            kill_invocation_runs(tracking_uri, f"interrupted by {interrupted.signal_name}")
        except Exception as failure:  # the store may be what failed; the next run marks them
            interrupted.marking_error = f"{type(failure).__name__}: {failure}".splitlines()[0]
        raise interrupted from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (no-op elsewhere).

    For child processes (``preexec_fn``, pool initializers): a kill -9 of the parent then
    does not leave them running.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
