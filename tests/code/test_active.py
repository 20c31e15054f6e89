"""Active selection: uncertain first, theme by theme, no near-duplicates, reports balanced."""

from __future__ import annotations

import json

import numpy as np
from scipy import sparse

from cppcc_themes.experiments.cli import main
from cppcc_themes.train.active import select_batch, uncertainty


def test_uncertainty_is_one_at_the_threshold_and_zero_at_certainty():
    u = uncertainty(np.array([[0.5, 0.0, 1.0, 0.75]]), 0.5)
    assert u.tolist() == [[1.0, 0.0, 0.0, 0.5]]
    assert uncertainty(np.array([[0.2]]), [0.2])[0, 0] == 1.0


def test_picks_the_most_uncertain_row_of_each_theme_in_turn():
    probabilities = np.array([[0.5, 0.0], [0.9, 0.01], [0.0, 0.45], [0.1, 0.0]])
    features = sparse.identity(4, format="csr")
    picks = select_batch(probabilities, features, ["r1", "r2", "r3", "r4"], 2)
    assert [(p.row, p.theme) for p in picks] == [(0, 0), (2, 1)]


def test_near_duplicates_are_not_picked_together():
    probabilities = np.array([[0.5], [0.5], [0.3]])
    features = sparse.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]]))
    picks = select_batch(probabilities, features, ["a", "b", "c"], 2)
    assert sorted(p.row for p in picks) == [0, 2]


def test_no_report_gives_more_than_its_share_until_the_pool_runs_out():
    rng = np.random.default_rng(0)
    probabilities = np.vstack([np.full((20, 1), 0.5), rng.uniform(0.0, 0.2, (20, 1))])
    features = sparse.csr_matrix(rng.random((40, 30)))
    groups = ["busy"] * 20 + [f"r{i}" for i in range(20)]
    picks = select_batch(probabilities, features, groups, 10, max_similarity=1.01)
    from_busy = sum(groups[p.row] == "busy" for p in picks)
    assert len(picks) == 10 and 0 < from_busy <= 1
    # Asking for more than the other reports can give relaxes the cap.
    assert len(select_batch(probabilities, features, groups, 40, max_similarity=1.01)) == 40


def test_suggest_reads_a_table_of_reports_by_its_text_column(tmp_path, root, packaged_model_dir):
    # The project's own corpus is a folder of tables; `suggest` reads them as `tag` does.
    table = root / "labels/corpus/gov-work-reports-2026/2026_上海市_政府工作报告.csv"
    batch = tmp_path / "batch.jsonl"
    args = [str(table), "--n", "5", "--out", str(batch), "--model", str(packaged_model_dir),
            "--labelled"]
    assert main(["suggest", *args]) == 2  # no column named `text`
    assert not batch.exists()
    assert main(["suggest", *args[:-1], "--text-column", "full_text", "--id-column", "province",
                 "--labelled"]) == 0
    picks = [json.loads(line) for line in batch.read_text(encoding="utf-8").splitlines()]
    assert len(picks) == 5 and {pick["report"] for pick in picks} == {"上海市"}
