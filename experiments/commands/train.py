"""``cppcc-themes train CONFIG``: run an experiment, log it to MLflow, package the model."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, print_error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="run an experiment (or a search), log it to MLflow, package the model")
    parser.add_argument("config", nargs="?", default="baseline",
                        help="experiment TOML file, e.g. experiments/baseline.toml, or the name "
                             "of one shipped with the package, e.g. baseline (the default)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: "
                        "$MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    parser.add_argument("--experiment", default="cppcc-themes", help="MLflow experiment name")
    parser.add_argument("--output", help="package the model here instead of the config's folder")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="run the search's fold fits on the Dask cluster whose scheduler "
                             "is at ADDRESS (e.g. tcp://10.0.0.5:8786); results are identical "
                             "to one process. Needs the dask extra on client and workers")
    parser.set_defaults(func=run)


class ProgressBar:
    """Rich progress on stderr: the current candidate's folds and all folds, each with its ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False)
        self.overall_task: Any = None
        self.candidate_task: Any = None
        self.candidates = 0
        self.folds = 0

    def start(self, candidates: int, folds_per_candidate: int) -> None:
        self.candidates, self.folds = candidates, folds_per_candidate
        self.progress.start()
        self.overall_task = self.progress.add_task(
            f"all {candidates} candidate(s), folds", total=candidates * folds_per_candidate)

    def candidate(self, index: int, name: str) -> None:
        description = f"candidate {index + 1}/{self.candidates}: {name}"
        if self.candidate_task is not None:
            self.progress.remove_task(self.candidate_task)
        # A new task per candidate: its ETA comes from this candidate's folds only.
        self.candidate_task = self.progress.add_task(description, total=self.folds)

    def fold(self, done: int, total: int, report: str) -> None:
        self.progress.update(self.candidate_task, completed=done, total=total)
        self.progress.advance(self.overall_task)

    def finishing(self, message: str) -> None:
        self.progress.console.print(message)

    def stop(self) -> None:
        self.progress.stop()


def experiment_file(name: str) -> Path:
    """``name`` as a path if it exists, else the experiment of that name shipped with the
    package (``baseline`` -> ``cppcc_themes/experiments/baseline.toml``)."""
    path = Path(name)
    if path.exists():
        return path
    shipped = Path(__file__).resolve().parents[1] / path.with_suffix(".toml").name
    return shipped if path.parent == Path(".") and shipped.is_file() else path


def run(args: argparse.Namespace) -> int:
    from cppcc_themes.experiments.config import ConfigError, load_config
    from cppcc_themes.experiments.search import expand_candidates, search_metric
    from cppcc_themes.experiments.tracking import TrackingError, resolve_tracking_uri
    from cppcc_themes.train.locate import package_dir_for

    try:
        config = load_config(experiment_file(args.config))
        expand_candidates(config)
        search_metric(config)
    except ConfigError as error:
        print_error(str(error))
        return EXIT_FATAL
    uri = resolve_tracking_uri(args.tracking_uri)
    from cppcc_themes.experiments.dask_cluster import ClusterUnavailable
    from cppcc_themes.experiments.lifecycle import Interrupted, interrupts_as_killed_runs
    from cppcc_themes.experiments.runner import run_experiment

    bar = None if args.quiet else ProgressBar()
    try:
        with interrupts_as_killed_runs(uri), _joblib_backend(getattr(args, "dask", None)):
            outcome = run_experiment(config, uri, reporter=bar,
                                     package_dir=args.output or package_dir_for(config.package),
                                     experiment_name=args.experiment)
    except Interrupted as error:
        if bar is not None:
            bar.stop()
            bar = None
        marked = ("unfinished MLflow runs marked KILLED" if error.marking_error is None else
                  f"MLflow runs not marked KILLED ({error.marking_error[:200]})")
        print_error(f"{config.path}: interrupted by {error.signal_name}; {marked}")
        return error.exit_code
    except (TrackingError, ClusterUnavailable) as error:
        print_error(str(error))
        return EXIT_FATAL
    except (ValueError, OSError, ImportError) as error:
        print_error(f"{config.path}: {error}")
        return EXIT_FATAL
    except Exception as error:  # MLflow's own errors, e.g. a store that fails mid-run
        if type(error).__module__.split(".")[0] != "mlflow":
            raise
        first_line = (str(error).strip().splitlines() or [""])[0]
        print_error(f"{config.path}: MLflow failed ({type(error).__name__}: {first_line[:300]})")
        return EXIT_FATAL
    finally:
        if bar is not None:
            bar.stop()
    m = outcome.metrics
    print(f"run {outcome.run_id} in {uri}")
    if outcome.yardstick and len(outcome.leaderboard) > 1:
        print(f"nested search over {len(outcome.leaderboard)} candidates; shipped: "
              f"{outcome.winner}; the nested figures below are the honest ones")
    elif len(outcome.leaderboard) > 1:
        print(f"search over {len(outcome.leaderboard)} candidates; winner: {outcome.winner} "
              "(its score is the best of many, so optimistic)")
    print(f"leave-one-report-out on real reports: macro-F1 {m['macro_f1']:.3f} "
          f"(95% paragraph bootstrap {m['macro_f1_ci_low']:.3f}-{m['macro_f1_ci_high']:.3f}), "
          f"micro-F1 {m['micro_f1']:.3f}, no-theme F1 {m['none_f1']:.3f}, "
          f"Brier {m['brier_mean']:.3f}")
    for line in _yardstick_lines(outcome.yardstick):
        print(line)
    if outcome.package_dir:
        print(f"model packaged in {outcome.package_dir}")
    if outcome.registered_version:
        print(f"registered as {config.register} version {outcome.registered_version}")
    return EXIT_OK


def _joblib_backend(address: str | None) -> Any:
    """Where the search's joblib work runs: this machine, or the Dask cluster at ``address``
    (``ClusterUnavailable`` if its scheduler cannot be reached)."""
    if not address:
        return contextlib.nullcontext()
    from cppcc_themes.experiments.dask_cluster import dask_joblib_backend

    return dask_joblib_backend(address)


def _yardstick_lines(yardstick: dict[str, Any] | None) -> list[str]:
    """The closing figures of a yardstick run: nested first, each group on its own."""
    if not yardstick:
        return []
    lines = []
    for kind, title in (("nested", "nested (honest)"), ("shipped", "this configuration"),
                        ("optimistic", "best candidate (optimistic)")):
        for group, label in (("gold", "gold, leave one report out"),
                             ("real-style", "real-style, grouped page folds")):
            figures = yardstick.get(kind, {}).get(group)
            if figures:
                low, high = figures["interval"]
                lines.append(f"{title}: {label}: macro-F1 {figures['macro_f1']:.3f} "
                             f"(95% bootstrap over {'reports' if group == 'gold' else 'pages'} "
                             f"{low:.3f}-{high:.3f})")
    return lines
