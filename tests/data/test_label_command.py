"""``cppcc-themes label``: silver-label a corpus, evaluate, count; the reproducible silver file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cppcc_themes.experiments.cli import main

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "labels"
GOV_COMMAND = ["label", str(LABELS / "corpus" / "gov-work-reports-2026"), "--source",
               "silver-gov", "--require-heading", "--exclude-known"]


def test_label_a_folder_writes_silver_records(seed_paths, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for seed in ("seed-001", "seed-002"):
        shutil.copy(seed_paths[seed], corpus / f"{seed}.txt")
    out = tmp_path / "silver.jsonl"
    unlabelled = tmp_path / "silver.unlabelled.jsonl"
    code = main(["label", str(corpus), "--out", str(out), "--unlabelled", str(unlabelled)])
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    rest = [json.loads(line) for line in unlabelled.read_text(encoding="utf-8").splitlines()]
    assert code == 0
    assert len(records) + len(rest) == 19 + 37
    assert {r["report_id"] for r in records} == {"seed-001", "seed-002"}
    assert all(r["source"] == "silver" and isinstance(r["labels"], list) for r in records)
    assert all(r["labels"] is None for r in rest)
    assert {"report_id", "source", "index", "heading", "text", "labels"} <= set(records[0])
    assert "2 file(s)" in capsys.readouterr().out


def test_a_bad_file_is_named_and_the_rest_still_labelled(seed_paths, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("  \n", encoding="utf-8")
    out = tmp_path / "silver.jsonl"
    code = main(["label", str(bad), str(tmp_path / "missing.txt"), str(seed_paths["seed-000"]),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{bad}: empty file" in err and "missing.txt: no such file" in err
    assert {json.loads(line)["report_id"] for line in out.read_text("utf-8").splitlines()} == {
        "seed-000"}


def test_nothing_readable_exits_2_and_leaves_an_old_output_alone(tmp_path, capsys):
    out = tmp_path / "silver.jsonl"
    out.write_text("old\n", encoding="utf-8")
    assert main(["label", str(tmp_path / "missing.txt"), "--out", str(out)]) == 2
    assert out.read_text(encoding="utf-8") == "old\n"
    assert main(["label"]) == 2
    assert "REPORT_OR_FOLDER" in capsys.readouterr().err


def test_evaluate_prints_per_theme_precision_and_recall(capsys):
    assert main(["label", "--evaluate"]) == 0
    out = capsys.readouterr().out
    assert "coverage" in out
    for name in ("ideology", "economy", "livelihood", "united_front", "self_construction",
                 "none", "heading_section", "cues:economy"):
        assert f"`{name}`" in out


def test_stats_prints_counts_per_source(capsys):
    assert main(["label", "--stats"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines()[2:]}
    assert set(rows) == {"gold", "authored", "silver-gov", "real-style", "web-style"}


def test_the_committed_government_silver_file_is_reproducible(tmp_path):
    out = tmp_path / "gov.jsonl"
    assert main([*GOV_COMMAND, "--out", str(out)]) == 0
    committed = (LABELS / "silver" / "gov.jsonl").read_text(encoding="utf-8")
    # If segmentation or the lexicon changed on purpose, regenerate the file with
    # `cppcc-themes <GOV_COMMAND> --out labels/silver/gov.jsonl` and update labels/README.md.
    assert out.read_text(encoding="utf-8") == committed, "labels/silver/gov.jsonl is stale"
