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
    # The four real reports are held out and estimate error rates; web-style text only trains.
    assert main(["check-shares", "--config", str(root / "experiments/baseline.toml"),
                 "--sources", "gold", str(root / "labels/web-style"), "--scored", "gold",
                 "--outer", "2", "--inner", "2",
                 "--resamples", "200", "--tracking-uri", uri,
                 "--out", str(tmp_path / "out")]) == 0
    assert "4 held-out reports, 24 shares" in capsys.readouterr().out
    metrics, files = _run_artifacts(uri, "check-shares")
    assert "simulation/shares.png" in files
    assert 0 <= metrics["coverage"] <= 1 and metrics["mae_raw"] >= 0
    rows = [json.loads(line) for line in
            (tmp_path / "out" / "shares.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["report"] for r in rows} == {"seed-000", "seed-001", "seed-002", "seed-003"}
