"""Run the benchmarks: ``python -m benchmarks [--only NAME ...] [--scales 1,10,100]``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

NAMES = ("throughput", "cold_start", "training", "scaling", "ui_start", "search")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
    parser.add_argument("--scales", default="1,10,100", help="corpus multiples for scaling")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each command in the search benchmark (medians)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cppcc-bench-") as tmp:
        # A private cache folder, set before anything loads a dictionary.
        os.environ["CPPCC_THEMES_CACHE"] = str(Path(tmp) / "cache")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from benchmarks import cold_start, scaling, search, throughput, training, ui_start
        from benchmarks.common import (
            Workspace,
            train_default_model,
            train_model,
            write_corpus,
        )

        started = time.perf_counter()
        workspace = Workspace(Path(tmp))
        chars = write_corpus(workspace.corpus)
        print(f"cppcc-themes benchmarks on {os.cpu_count()} cores, python {sys.version.split()[0]}"
              f"; corpus: 31 reports, {chars:,} characters; load average "
              f"{os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
        if {"throughput", "cold_start", "scaling"} & set(args.only):
            for backend in ("jieba", "rjieba"):
                train_model(backend, workspace.model(backend))
            train_default_model(workspace.model("default"))
        if "throughput" in args.only:
            throughput.run(workspace, chars)
        if "cold_start" in args.only:
            cold_start.run(workspace)
        if "training" in args.only:
            training.run(workspace)
        if "scaling" in args.only:
            scaling.run(workspace, [int(s) for s in args.scales.split(",")])
        if "ui_start" in args.only:
            ui_start.run(workspace)
        if "search" in args.only:
            search.run(workspace, args.repeat)
        print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s; load average at the end "
              f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
