"""Label Studio and CSV round trips: what goes out, what comes back, what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cppcc_themes.experiments.cli import main
from cppcc_themes.train.annotation import (
    AnnotationError,
    csv_to_records,
    labeling_config,
    labelstudio_to_records,
    to_csv,
    to_labelstudio_tasks,
)
from cppcc_themes.train.themes import theme_ids

LABELS = theme_ids()
BATCH = [
    {"id": "r1#3", "report": "r1", "index": 3, "heading": "一、加强思想政治引领",
     "text": "深入学习贯彻习近平新时代中国特色社会主义思想。", "themes": ["ideology"],
     "scores": {"ideology": 0.55}, "uncertainty": 0.9},
    {"id": "r2#0", "report": "r2", "index": 0, "heading": None,
     "text": "各位委员：", "themes": [], "scores": {}, "uncertainty": 0.4},
]


def _export(tasks: list[dict], choices: list[list[str] | None]) -> list[dict]:
    """What Label Studio's JSON export looks like for these tasks and answers."""
    exported = []
    for number, (task, chosen) in enumerate(zip(tasks, choices, strict=True), 1):
        annotations = [] if chosen is None else [{
            "id": number, "completed_by": {"id": 1, "email": "ann@example.org"},
            "result": [{"from_name": "themes", "to_name": "text", "type": "choices",
                        "value": {"choices": chosen}}],
            "was_cancelled": False, "created_at": "2026-12-01T10:00:00Z",
            "updated_at": f"2026-12-01T10:0{number}:00Z"}]
        exported.append({"id": number, "data": task["data"], "annotations": annotations,
                         "predictions": task["predictions"]})
    return exported


def test_tasks_carry_the_models_themes_and_the_config_offers_every_theme_and_none():
    tasks = to_labelstudio_tasks(BATCH)
    assert tasks[0]["data"]["text"] == BATCH[0]["text"]
    assert tasks[0]["predictions"][0]["result"][0]["value"]["choices"] == ["ideology"]
    assert tasks[1]["predictions"][0]["result"][0]["value"]["choices"] == ["none"]
    config = labeling_config(LABELS)
    assert 'choice="multiple"' in config
    for choice in [*LABELS, "none"]:
        assert f'value="{choice}"' in config


def test_labelstudio_export_becomes_labelled_records(tmp_path: Path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_export(to_labelstudio_tasks(BATCH),
                                       [["economy", "ideology"], None])), encoding="utf-8")
    records, unlabelled = labelstudio_to_records(path, LABELS, "mine")
    assert unlabelled == 1
    [record] = records
    assert record["labels"] == ["ideology", "economy"]        # codebook order
    assert record | {"time": ""} == record | {
        "report_id": "r1", "source": "mine", "text": BATCH[0]["text"], "id": "r1#3",
        "index": 3, "heading": "一、加强思想政治引领", "annotator": "ann@example.org", "time": ""}


@pytest.mark.parametrize(("content", "problem"), [
    ({"tasks": []}, "expected a list of tasks"),
    ([{"id": 1}], "no 'data' object"),
    ("UNKNOWN", "unknown theme 'culture'"),
    ("NONE_AND", "'none' chosen together"),
    ("DUPLICATE", "duplicate id"),
])
def test_bad_exports_get_one_line_and_change_nothing(tmp_path: Path, content, problem,
                                                     capsys):
    tasks = to_labelstudio_tasks(BATCH)
    if content == "UNKNOWN":
        content = _export(tasks, [["culture"], None])
    elif content == "NONE_AND":
        content = _export(tasks, [["none", "economy"], None])
    elif content == "DUPLICATE":
        content = _export([tasks[0], tasks[0]], [["economy"], ["economy"]])
    path = tmp_path / "export.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(AnnotationError, match=problem):
        labelstudio_to_records(path, LABELS, "mine")
    labels_dir = tmp_path / "labels"
    code = main(["annotate", "import", str(path), "--name", "mine",
                 "--labels-dir", str(labels_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and problem in err and str(path) in err
    assert not labels_dir.exists()


def test_csv_round_trip_opens_in_excel_and_comes_back(tmp_path: Path, capsys):
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in BATCH),
                     encoding="utf-8")
    sheet = tmp_path / "batch.csv"
    assert main(["annotate", "export", str(batch), "--to", "csv", "--out", str(sheet)]) == 0
    raw = sheet.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                    # Excel's UTF-8 signature
    assert "深入学习贯彻".encode() in raw
    lines = raw.decode("utf-8-sig").split("\r\n")
    header = lines[0].split(",")
    assert header[:6] == ["id", "report", "index", "heading", "text", "model_themes"]
    # Fill in as a person would in Excel: x under economy for the first row, none second.
    first = lines[1].split(",")
    first[header.index("economy")] = "x"
    second = lines[2].split(",")
    second[header.index("none")] = "1"
    second[header.index("annotator")] = "李"
    sheet.write_bytes(("\r\n".join([lines[0], ",".join(first), ",".join(second)]) + "\r\n")
                      .encode("utf-8-sig"))
    labels_dir = tmp_path / "labels"
    assert main(["annotate", "import", str(sheet), "--name", "sheet",
                 "--labels-dir", str(labels_dir)]) == 0
    written = [json.loads(line) for line in
               (labels_dir / "sheet" / "batch.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["labels"], r["annotator"]) for r in written] == [
        ("r1#3", ["economy"], ""), ("r2#0", [], "李")]
    # The imported folder is a source the loader (and so `train`) accepts.
    from cppcc_themes.train.data import load_paragraphs

    loaded = load_paragraphs([str(labels_dir / "sheet")])
    assert loaded["source"][:] == ["sheet", "sheet"]
    # Importing it again is refused without --replace; a bad mark names row and column.
    assert main(["annotate", "import", str(sheet), "--name", "sheet",
                 "--labels-dir", str(labels_dir)]) == 2
    second[header.index("none")] = "maybe"
    sheet.write_bytes(("\r\n".join([lines[0], ",".join(first), ",".join(second)]) + "\r\n")
                      .encode("utf-8-sig"))
    with pytest.raises(AnnotationError, match=r"batch.csv:3: column 'none' holds 'maybe'"):
        csv_to_records(sheet, LABELS, "sheet")
    capsys.readouterr()


def test_csv_export_escapes_commas_and_newlines():
    text = to_csv([{**BATCH[0], "text": "甲，乙,丙\n丁"}], LABELS)
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][4] == "甲，乙,丙\n丁"
