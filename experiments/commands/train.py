"""``cppcc-themes train CONFIG``: run an experiment, log it to MLflow, package the model."""

from __future__ import annotations

import argparse
import sys

from experiments.commands import EXIT_FATAL, EXIT_OK, print_error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="run an experiment, log it to MLflow, package the model")
    parser.add_argument("config", help="experiment TOML file, e.g. experiments/baseline.toml")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: "
                        "$MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    parser.add_argument("--experiment", default="cppcc-themes", help="MLflow experiment name")
    parser.add_argument("--output", help="package the model here instead of the config's folder")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from experiments.config import ConfigError, load_config
    from experiments.tracking import TrackingError, resolve_tracking_uri

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print_error(str(error))
        return EXIT_FATAL
    uri = resolve_tracking_uri(args.tracking_uri)
    from experiments.runner import run_experiment

    def on_fold(done: int, total: int, report: str) -> None:
        if not args.quiet:
            print(f"  fold {done}/{total} (held out {report}) done", file=sys.stderr)

    try:
        outcome = run_experiment(config, uri, package_dir=args.output, on_fold=on_fold,
                                 experiment_name=args.experiment)
    except TrackingError as error:
        print_error(str(error))
        return EXIT_FATAL
    except (ValueError, OSError) as error:
        print_error(f"{config.path}: {error}")
        return EXIT_FATAL
    m = outcome.metrics
    print(f"run {outcome.run_id} in {uri}")
    print(f"leave-one-report-out on real reports: macro-F1 {m['macro_f1']:.3f}, "
          f"micro-F1 {m['micro_f1']:.3f}, no-theme F1 {m['none_f1']:.3f}")
    if outcome.package_dir:
        print(f"model packaged in {outcome.package_dir}")
    return EXIT_OK
