"""``cppcc-themes ui``: the MLflow UI on 127.0.0.1 over the project's tracking store."""

from __future__ import annotations

import argparse
import sys

from cppcc_themes.experiments.commands import EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ui", help="serve the MLflow UI on 127.0.0.1 over the project's store")
    parser.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI or "
                        "sqlite:///mlflow.db")
    parser.add_argument("--port", type=int, default=5000)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from cppcc_themes.experiments.tracking import offline_environment, resolve_tracking_uri

    offline_environment()
    uri = resolve_tracking_uri(args.tracking_uri)
    # One worker: this is a 2-core machine and the UI is for one person.
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
               "--host", "127.0.0.1", "--port", str(args.port), "--workers", "1"]
    print(f"MLflow UI on http://127.0.0.1:{args.port} over {uri} (Ctrl-C stops it)")
    try:
        return subprocess.call(command, env=os.environ.copy())
    except KeyboardInterrupt:
        return EXIT_OK
