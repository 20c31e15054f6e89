"""``cppcc-themes curve`` and ``cppcc-themes check-shares``: simulations on the labelled data,
each logged as one MLflow run with its table and plot.

- ``curve``: macro-F1 against the number of labelled paragraphs, active (``suggest``'s
  selection) vs random, the labels of a pool of reports hidden and revealed batch by batch.
- ``check-shares``: do ``profile --adjusted`` shares beat raw ones on held-out reports, and do
  their 95 % intervals cover the true share?
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from cppcc_themes.experiments.commands import EXIT_FATAL, EXIT_OK, print_error

DEFAULT_SOURCES = ["gold", "authored", "labels/web-style"]
# check-shares holds out every real-like report: the seeds and both web-page sources.
SHARE_SOURCES = ["gold", "authored", "real-style", "web-style"]
SHARE_SCORED = ["gold", "web-style", "real-style"]
# What training stores error rates from (train/quantify.py, experiments/nested.py).
RATE_SOURCES = "gold+real-style"


def register(subparsers: argparse._SubParsersAction) -> None:
    curve = subparsers.add_parser(
        "curve", help="simulate labelling: macro-F1 vs labels, active vs random (MLflow run)",
        description="Hide the labels of the pool reports, let suggest's selection (or chance) "
                    "ask for them batch by batch, and score each model on held-out reports.")
    _common(curve)
    curve.add_argument("--start", type=int, default=50, help="random labels to start from")
    curve.add_argument("--step", type=int, default=50, help="labels asked per round")
    curve.add_argument("--budget", type=int, default=500, help="labels at the end")
    curve.add_argument("--test-fraction", type=float, default=0.3,
                       help="share of reports held out for scoring")
    curve.add_argument("--repeats", type=int, default=2,
                       help="random splits and starts; curves are averaged")
    curve.set_defaults(func=run_curve)
    shares = subparsers.add_parser(
        "check-shares", help="simulate adjusted shares on held-out reports (MLflow run)",
        description="Grouped folds hold reports and pages out; each held-out fold is corrected "
                    "with error rates from the out-of-fold predictions of the other folds only "
                    "(as training stores them); compare raw and adjusted shares with the true "
                    "ones, per held-out source.")
    _common(shares, SHARE_SOURCES)
    shares.add_argument("--folds", type=int, default=5,
                        help="grouped folds (default 5: the yardstick's joint folds)")
    shares.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    shares.add_argument("--scored", nargs="+", default=SHARE_SCORED, metavar="SOURCE",
                        help="source names held out (default: "
                             f"{' '.join(SHARE_SCORED)}); the others only train, as authored "
                             "text does in training")
    shares.add_argument("--rate-sources", nargs="+", default=[RATE_SOURCES], metavar="A+B",
                        help="held-out sources whose out-of-fold rows give the error rates "
                             f"(default {RATE_SOURCES}, as training stores them); several "
                             "sets are each scored on the same fits, the first is the headline")
    shares.add_argument("--pages-per-report", type=int, default=1, metavar="N",
                        help="score the held-out pages of each non-gold source N at a time "
                             "(random pages of one fold) as longer documents (default 1)")
    shares.add_argument("--jobs", type=int, default=1, help="folds fitted in parallel")
    shares.set_defaults(func=run_shares)


def _common(parser: argparse.ArgumentParser, sources: list[str] = DEFAULT_SOURCES) -> None:
    parser.add_argument("--config", default="experiments/baseline.toml",
                        help="experiment file whose features and model are simulated")
    parser.add_argument("--sources", nargs="+", default=sources,
                        help="labelled sources whose reports are simulated on (default: "
                             f"{' '.join(sources)})")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: "
                        "$MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    parser.add_argument("--experiment", default="cppcc-themes-simulations",
                        help="MLflow experiment name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", metavar="DIR", help="also keep the table and plot here")


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    from cppcc_themes.experiments.config import load_config
    from cppcc_themes.train.data import load_paragraphs
    from cppcc_themes.train.train import prepare_data

    config = load_config(args.config)
    return config, prepare_data(load_paragraphs(args.sources))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _log(args: argparse.Namespace, name: str, params: dict[str, Any], metrics: dict[str, float],
         write: Any) -> str:
    """One MLflow run with params, metrics and the files ``write(folder)`` leaves."""
    from cppcc_themes.experiments.tracking import (
        check_tracking,
        ensure_experiment,
        offline_environment,
        resolve_tracking_uri,
    )

    offline_environment()
    uri = resolve_tracking_uri(args.tracking_uri)
    check_tracking(uri)
    import mlflow

    ensure_experiment(uri, args.experiment)
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp))
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            for path in Path(tmp).iterdir():
                (Path(args.out) / path.name).write_bytes(path.read_bytes())
        with mlflow.start_run(run_name=name) as run:
            mlflow.set_tag("run_kind", "simulation")
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            mlflow.log_artifacts(tmp, artifact_path="simulation")
    print(f"run {run.info.run_id} in {uri}")
    return run.info.run_id


def run_shares(args: argparse.Namespace) -> int:
    from cppcc_themes.train.quantify import DEFAULT_METHOD, METHODS
    from cppcc_themes.train.simulate import (
        choose_method,
        fold_predictions,
        pooled_pages,
        share_folds,
        share_validation,
        split_reports,
        summarise_shares,
    )

    try:
        config, data = _load(args)
    except (ValueError, OSError) as error:
        print_error(str(error))
        return EXIT_FATAL
    variants = [[part for part in spec.split("+") if part] for spec in args.rate_sources]
    for spec, variant in zip(args.rate_sources, variants, strict=True):
        unknown = [source for source in variant if source not in args.scored]
        if not variant or unknown:
            print_error(f"--rate-sources {spec}: error rates come from held-out sources "
                        f"only (--scored: {' '.join(args.scored)})")
            return EXIT_FATAL
    if args.folds < 2 or args.resamples < 100 or args.pages_per_report < 1:
        print_error("--folds must be at least 2, --resamples at least 100 and "
                    "--pages-per-report at least 1")
        return EXIT_FATAL
    folds = share_folds(data.report_ids, data.sources, args.scored, args.folds)
    if not (folds >= 0).any():
        print_error(f"none of --scored {' '.join(args.scored)} is among the loaded sources")
        return EXIT_FATAL
    probabilities, decisions = fold_predictions(data, config.features, config.model, folds,
                                                n_jobs=args.jobs, progress=_say)
    documents = pooled_pages(data.report_ids, data.sources, folds, args.pages_per_report,
                             args.seed)
    by_variant = {"+".join(v): share_validation(data, probabilities, decisions, folds, v,
                                                resamples=args.resamples, documents=documents)
                  for v in variants}
    headline = "+".join(variants[0])
    rows = by_variant[headline]
    # The shipped method (DEFAULT_METHOD) is scored on every held-out report; beside it, the
    # method one random half of the reports would choose, scored on the other half, so that a
    # choice among methods is never judged on the figures it was made by.
    choose_on, report_on = split_reports(rows, args.seed)
    chosen = choose_method([r for r in rows if r["report"] in choose_on])
    held = [r for r in rows if r["report"] in report_on]
    summary = summarise_shares(rows, DEFAULT_METHOD)
    for name, method in (("shipped", DEFAULT_METHOD), ("chosen", chosen)):
        half = summarise_shares(held, method)
        summary.update({f"half_{name}_{key}": half[key] for key in (
            "mae_raw", "mae_adjusted", "coverage", "mean_interval_width")})
    print(f"{len(set(r['report'] for r in rows))} held-out reports, {len(rows)} shares, "
          f"error rates from {headline} rows of the other folds: "
          f"MAE raw {summary['mae_raw']:.4f}, {DEFAULT_METHOD} (--adjusted) "
          f"{summary['mae_adjusted']:.4f}; 95% interval coverage {summary['coverage']:.3f} "
          f"(mean width {summary['mean_interval_width']:.3f})")
    _print_sources(summary, "  ")
    print("all methods: " + ", ".join(
        f"{m} {summary[f'mae_{m}']:.4f}/{summary[f'coverage_{m}']:.3f}"
        for m in METHODS if f"mae_{m}" in summary) + " (MAE/coverage)")
    print(f"chosen on {len(choose_on)} reports: {chosen}; on the other {len(report_on)}: MAE "
          f"raw {summary['half_chosen_mae_raw']:.4f}, {chosen} "
          f"{summary['half_chosen_mae_adjusted']:.4f} (coverage "
          f"{summary['half_chosen_coverage']:.3f}), {DEFAULT_METHOD} "
          f"{summary['half_shipped_mae_adjusted']:.4f} (coverage "
          f"{summary['half_shipped_coverage']:.3f})")
    for name, other in list(by_variant.items())[1:]:
        figures = summarise_shares(other, DEFAULT_METHOD)
        print(f"error rates from {name} instead: {DEFAULT_METHOD} MAE "
              f"{figures['mae_adjusted']:.4f}, coverage {figures['coverage']:.3f} "
              f"(mean width {figures['mean_interval_width']:.3f})")
        _print_sources(figures, "  ")
        prefix = "rates_" + name.replace("+", "_")
        summary.update({f"{prefix}.{key}": value for key, value in figures.items()
                        if not key.startswith(("mae_", "coverage_", "width_"))
                        or key in ("mae_adjusted", "mae_raw")})

    def write(folder: Path) -> None:
        with (folder / "shares.jsonl").open("w", encoding="utf-8") as handle:
            for name, variant_rows in by_variant.items():
                for row in variant_rows:
                    handle.write(json.dumps({**row, "rates_from": name},
                                            ensure_ascii=False) + "\n")
        (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        _plot_shares(rows, DEFAULT_METHOD, folder / "shares.png")

    _log(args, "check-shares", {"config": args.config, "sources": ",".join(args.sources),
                                "scored": ",".join(args.scored),
                                "rate_sources": ",".join(args.rate_sources),
                                "folds": args.folds, "resamples": args.resamples,
                                "pages_per_report": args.pages_per_report,
                                "method": DEFAULT_METHOD, "chosen_on_half": chosen},
         summary, write)
    return EXIT_OK


def _print_sources(summary: dict[str, float], indent: str) -> None:
    """One line per held-out source: its MAE raw vs adjusted and its coverage."""
    for key in sorted(k for k in summary if k.endswith(".cases")):
        source = key[:-len(".cases")]
        print(f"{indent}{source}: {int(summary[key])} shares, MAE raw "
              f"{summary[f'{source}.mae_raw']:.4f}, adjusted "
              f"{summary[f'{source}.mae_adjusted']:.4f}, coverage "
              f"{summary[f'{source}.coverage']:.3f} (mean width "
              f"{summary[f'{source}.mean_interval_width']:.3f})")


def run_curve(args: argparse.Namespace) -> int:
    import numpy as np

    from cppcc_themes.train.simulate import learning_curve

    try:
        config, data = _load(args)
    except (ValueError, OSError) as error:
        print_error(str(error))
        return EXIT_FATAL
    reports = np.asarray(sorted(set(data.report_ids)), dtype=object)
    curves: dict[str, list[list[dict[str, float]]]] = {"active": [], "random": []}
    for repeat in range(args.repeats):
        rng = np.random.default_rng(args.seed + repeat)
        held_out = rng.choice(reports, size=max(1, round(args.test_fraction * len(reports))),
                              replace=False)
        test_mask = np.isin(data.report_ids, held_out)
        for strategy in curves:
            curves[strategy].append(learning_curve(
                data.texts, data.Y, data.report_ids, test_mask, config.features, config.model,
                start=args.start, step=args.step, budget=args.budget, strategy=strategy,
                seed=args.seed + repeat, progress=_say))
    mean = {s: _mean_curve(c) for s, c in curves.items()}
    summary = _curve_summary(mean)
    print(f"random reaches macro-F1 {summary['random_final_macro_f1']:.3f} with "
          f"{int(summary['budget'])} labels; active reaches it with "
          + (f"{int(summary['active_labels_to_match'])} "
             f"({summary['active_share_to_match']:.0%})"
             if summary["active_labels_to_match"] > 0 else "none of the budgets")
          + f"; active's final macro-F1 {summary['active_final_macro_f1']:.3f}")

    def write(folder: Path) -> None:
        (folder / "curve.json").write_text(json.dumps({"mean": mean, "runs": curves}, indent=1),
                                           encoding="utf-8")
        (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        _plot_curve(mean, folder / "curve.png")

    _log(args, "curve", {"config": args.config, "sources": ",".join(args.sources),
                         "start": args.start, "step": args.step, "budget": args.budget,
                         "repeats": args.repeats, "test_fraction": args.test_fraction},
         summary, write)
    return EXIT_OK


def _mean_curve(runs: list[list[dict[str, float]]]) -> list[dict[str, float]]:
    length = min(len(run) for run in runs)
    return [{"labelled": runs[0][i]["labelled"],
             "macro_f1": sum(run[i]["macro_f1"] for run in runs) / len(runs)}
            for i in range(length)]


def _curve_summary(mean: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    target = mean["random"][-1]["macro_f1"]
    budget = mean["random"][-1]["labelled"]
    reached = [p["labelled"] for p in mean["active"] if p["macro_f1"] >= target]
    labels_to_match = reached[0] if reached else -1
    return {"budget": float(budget), "random_final_macro_f1": target,
            "active_final_macro_f1": mean["active"][-1]["macro_f1"],
            "active_labels_to_match": float(labels_to_match),
            "active_share_to_match": labels_to_match / budget if reached else -1.0}


def _plot_curve(mean: dict[str, list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for strategy, points in mean.items():
        axis.plot([p["labelled"] for p in points], [p["macro_f1"] for p in points],
                  marker="o", label=strategy)
    axis.set_xlabel("labelled paragraphs")
    axis.set_ylabel("macro-F1 on held-out reports")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plot_shares(rows: list[dict[str, Any]], method: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True, layout="constrained")
    true = [r["true"] for r in rows]
    for axis, key in zip(axes, ("raw", method), strict=True):
        axis.scatter(true, [r[key] for r in rows], s=8, alpha=0.5)
        axis.plot([0, 1], [0, 1], color="grey", linewidth=1)
        axis.set_xlabel("true share")
        axis.set_title(f"{key} share")
    axes[0].set_ylabel("estimated share")
    figure.savefig(path, dpi=110)
    plt.close(figure)
