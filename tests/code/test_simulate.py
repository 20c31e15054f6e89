"""The simulations run for real on small settings and land in MLflow with their plots."""

from __future__ import annotations

import json
from pathlib import Path

from cppcc_themes.experiments.cli import main


def _run_artifacts(uri: str, name: str) -> tuple[dict, list[str]]:
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("cppcc-themes-simulations")
    [run] = client.search_runs([experiment.experiment_id],
                               filter_string=f"attributes.run_name = '{name}'")
    files = [f.path for f in client.list_artifacts(run.info.run_id, "simulation")]
    return run.data.metrics, files


def test_curve_compares_active_and_random_selection(tmp_path: Path, root: Path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["curve", "--config", str(root / "experiments/baseline.toml"),
                 "--sources", "gold", str(root / "labels/web-style"), "--start", "20",
                 "--step", "20",
                 "--budget", "60", "--repeats", "1", "--tracking-uri", uri,
                 "--out", str(tmp_path / "out")]) == 0
    assert "random reaches macro-F1" in capsys.readouterr().out
    metrics, files = _run_artifacts(uri, "curve")
    assert {"simulation/curve.png", "simulation/curve.json"} <= set(files)
    curve = json.loads((tmp_path / "out" / "curve.json").read_text(encoding="utf-8"))
    counts = [p["labelled"] for p in curve["mean"]["active"]]
    # 20 random labels (topped up to 3 positives per theme), then 20 more per round up to 60.
    assert counts == [p["labelled"] for p in curve["mean"]["random"]]
    assert 20 <= counts[0] < 40 and counts[-1] == 60 and counts == sorted(set(counts))
    assert 0 <= metrics["random_final_macro_f1"] <= 1


def test_check_shares_scores_held_out_reports(tmp_path: Path, root: Path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # The four real reports are held out in two folds; each is corrected with error rates
    # from the other fold's out-of-fold rows only. Web-style text only trains.
    assert main(["check-shares", "--config", str(root / "experiments/baseline.toml"),
                 "--sources", "gold", str(root / "labels/web-style"), "--scored", "gold",
                 "--rate-sources", "gold", "--folds", "2",
                 "--resamples", "200", "--tracking-uri", uri,
                 "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "4 held-out reports, 24 shares, error rates from gold rows of the other folds" in out
    assert "  gold: 24 shares, MAE raw" in out
    metrics, files = _run_artifacts(uri, "check-shares")
    assert "simulation/shares.png" in files
    assert 0 <= metrics["coverage"] <= 1 and metrics["mae_raw"] >= 0
    assert metrics["gold.cases"] == 24 and 0 <= metrics["gold.coverage"] <= 1
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "shares.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["report"] for r in rows} == {"seed-000", "seed-001", "seed-002", "seed-003"}
    assert {r["source"] for r in rows} == {"gold"} and {r["fold"] for r in rows} == {0, 1}


def test_error_rates_that_correct_a_fold_come_from_the_other_folds_only():
    from dataclasses import dataclass

    import numpy as np

    from cppcc_themes.train.simulate import fold_quantification, share_folds

    @dataclass
    class Rows:
        labels: list
        Y: np.ndarray
        sources: np.ndarray
        report_ids: np.ndarray

    rng = np.random.default_rng(0)
    sources = np.repeat(["gold", "real-style", "web-style", "authored"], [12, 30, 30, 10])
    pages = np.asarray([f"{s}-{i // 3}" for i, s in enumerate(sources)], dtype=object)
    pages[:12] = np.repeat(["r0", "r1", "r2", "r3"], 3)
    data = Rows(["a", "b"], rng.integers(0, 2, (len(sources), 2)), sources, pages)
    folds = share_folds(pages, sources, ["gold", "real-style", "web-style"], 3)
    # Whole reports and pages per fold; gold report i in fold i; authored text never held out.
    assert all(len(set(folds[pages == p])) == 1 for p in set(pages))
    assert list(folds[:12:3]) == [0, 1, 2, 0] and (folds[sources == "authored"] == -1).all()
    assert set(folds[sources == "web-style"]) == {0, 1, 2}
    probabilities = rng.random(data.Y.shape)
    decisions = (probabilities >= 0.5).astype(int)
    entry = fold_quantification(data, probabilities, decisions, folds, 1, ["gold", "real-style"])
    used = (folds >= 0) & (folds != 1) & np.isin(sources, ["gold", "real-style"])
    assert entry["rows"] == used.sum()
    assert entry["sources"]["gold"] == {"rows": 9, "groups": 3}
    # Whatever fold 1's labels and predictions are, its correction does not move...
    held = folds == 1
    flipped = Rows(data.labels, np.where(held[:, None], 1 - data.Y, data.Y), sources, pages)
    assert fold_quantification(flipped, np.where(held[:, None], 1 - probabilities,
                                                 probabilities),
                               1 - decisions, folds, 1, ["gold", "real-style"]) != entry
    assert fold_quantification(flipped, np.where(held[:, None], 1 - probabilities,
                                                 probabilities),
                               np.where(held[:, None], 1 - decisions, decisions), folds, 1,
                               ["gold", "real-style"]) == entry
