"""The labelled files themselves: schema, label ids, duplicates, counts, report ids."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cppcc_themes.features.normalize import normalize_text
from cppcc_themes.train.data import SOURCE_FOLDERS, DataError, load_paragraphs
from cppcc_themes.train.themes import theme_ids

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "labels"
TRAINING_SOURCES = ("gold", "authored")
MIN_PER_CLASS = 120


def _records(source: str) -> list[tuple[Path, int, dict]]:
    rows = []
    for path in sorted((LABELS / SOURCE_FOLDERS[source]).glob("*.jsonl")):
        if path.name.endswith(".unlabelled.jsonl"):
            continue
        with path.open(encoding="utf-8") as handle:
            rows += [(path, number, json.loads(line))
                     for number, line in enumerate(handle, 1) if line.strip()]
    return rows


@pytest.fixture(scope="module")
def records() -> dict[str, list[tuple[Path, int, dict]]]:
    return {source: _records(source) for source in SOURCE_FOLDERS}


def test_every_source_has_records(records):
    assert all(records[source] for source in SOURCE_FOLDERS), {
        source: len(rows) for source, rows in records.items()}


def test_schema_report_id_source_and_text(records):
    problems = []
    for source, rows in records.items():
        for path, number, record in rows:
            where = f"{path.name}:{number}"
            if not isinstance(record.get("report_id"), str) or not record["report_id"].strip():
                problems.append(f"{where}: no report_id")
            if record.get("source") != source:
                problems.append(f"{where}: source {record.get('source')!r} in {source} folder")
            if not isinstance(record.get("text"), str) or not record["text"].strip():
                problems.append(f"{where}: empty text")
            if not isinstance(record.get("labels"), list):
                problems.append(f"{where}: labels is not a list")
    assert not problems, problems[:20]


def test_label_ids_come_from_themes_toml_only(records):
    known = set(theme_ids(LABELS))
    bad = [(path.name, number, record["labels"]) for rows in records.values()
           for path, number, record in rows
           if set(record["labels"]) - known or len(set(record["labels"])) != len(record["labels"])]
    assert not bad, bad[:20]


def test_no_paragraph_text_twice_across_sources(records):
    seen: dict[str, str] = {}
    twice = []
    for rows in records.values():
        for path, number, record in rows:
            key = normalize_text(record["text"])
            where = f"{path.relative_to(LABELS)}:{number}"
            if key in seen:
                twice.append((seen[key], where, record["text"][:40]))
            seen.setdefault(key, where)
    assert not twice, twice[:20]


def test_enough_examples_per_theme_and_no_theme_in_training_sources(records):
    counts = Counter()
    for source in TRAINING_SOURCES:
        for _, _, record in records[source]:
            counts.update(record["labels"] or ["none"])
    print("training sources per class:", dict(counts))
    short = {name: counts[name] for name in [*theme_ids(LABELS), "none"]
             if counts[name] < MIN_PER_CLASS}
    assert not short, short


def test_gold_report_ids_never_overlap_other_sources(records):
    ids = {source: {record["report_id"] for _, _, record in rows}
           for source, rows in records.items()}
    for other in set(SOURCE_FOLDERS) - {"gold"}:
        assert not ids["gold"] & ids[other], (other, ids["gold"] & ids[other])


def test_loader_gives_class_labels_over_the_taxonomy(records):
    dataset = load_paragraphs(list(SOURCE_FOLDERS), LABELS)
    assert dataset.column_names == ["report_id", "source", "text", "heading", "labels"]
    assert dataset.features["labels"].feature.names == theme_ids(LABELS)
    assert Counter(dataset["source"]) == {source: len(rows) for source, rows in records.items()}


def test_a_users_jsonl_file_or_folder_is_a_source(tmp_path):
    mine = tmp_path / "mine" / "reports.jsonl"
    mine.parent.mkdir()
    mine.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"report_id": "my-1", "source": "mine", "text": "围绕营商环境开展专题协商。",
         "labels": ["economy"]},
        {"report_id": "my-1", "source": "mine", "text": "各位委员:", "labels": []},
    ]) + "\n", encoding="utf-8")
    (mine.parent / "skipped.unlabelled.jsonl").write_text("not read\n", encoding="utf-8")
    by_file = load_paragraphs([str(mine)], LABELS)
    by_folder = load_paragraphs(["gold", str(mine.parent)], LABELS)
    assert by_file["source"] == ["mine", "mine"]
    assert by_file["labels"] == [[theme_ids(LABELS).index("economy")], []]
    assert Counter(by_folder["source"])["mine"] == 2


def test_a_missing_or_bad_source_is_named(tmp_path):
    with pytest.raises(DataError, match="nothere.jsonl: no such file"):
        load_paragraphs([str(tmp_path / "nothere.jsonl")], LABELS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"report_id": "x", "source": "s", "text": "好", "labels": ["sports"]}\n',
                   encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:1: unknown theme ids \['sports'\]"):
        load_paragraphs([str(bad)], LABELS)


# Lines and pages of the written web-page sources, as their READMEs and labels/README.md state.
WEB_SOURCES = {"real-style": (679, 70), "web-style": (435, 44)}


@pytest.mark.parametrize("source", sorted(WEB_SOURCES))
def test_web_page_sources_have_their_stated_lines_and_pages(records, source):
    lines, pages = WEB_SOURCES[source]
    rows = [record for _, _, record in records[source]]
    assert (len(rows), len({r["report_id"] for r in rows})) == (lines, pages)
    assert all(r["report_id"].startswith(f"{source}-") for r in rows)
    themes = Counter(label for r in rows for label in r["labels"])
    assert set(themes) == set(theme_ids(LABELS)) and min(themes.values()) >= 19, themes


def test_real_style_heading_is_the_nearest_heading_line_above_on_its_page(records):
    """Derived from page order: a line sits under the last ``kind == "heading"`` line of its
    page (a heading line under the one before it). The 8 lines dropped as duplicates of other
    sources' text (stock greetings, page residue, one heading) keep their place in ``index``."""
    elsewhere = {normalize_text(record["text"]) for source, rows in records.items()
                 if source != "real-style" for _, _, record in rows}
    last: dict[str, str | None] = {}
    previous_index: dict[str, int] = {}
    for _, _, record in records["real-style"]:
        page = record["report_id"]
        assert record["index"] > previous_index.get(page, -1), record
        previous_index[page] = record["index"]
        expected = last.get(page)
        if record["heading"] != expected:
            # Only a heading line dropped as a duplicate may stand between.
            assert normalize_text(record["heading"]) in elsewhere, record
        if record["kind"] == "heading":
            last[page] = record["text"]


def test_loader_reads_headings_and_empty_string_when_absent():
    dataset = load_paragraphs(["gold", "authored", "real-style"], LABELS)
    by_source = {}
    for source, heading in zip(dataset["source"], dataset["heading"], strict=True):
        by_source.setdefault(source, Counter())[bool(heading)] += 1
    assert by_source["authored"] == {False: 996}
    assert by_source["gold"][True] > 40 and by_source["real-style"][True] > 100, by_source
