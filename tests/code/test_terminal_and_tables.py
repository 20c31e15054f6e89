"""Terminal output fits the terminal and shows scores whole; a closed pipe ends every command
quietly; tables (.csv/.tsv in any encoding, .parquet, .xlsx) are read with one report or one
paragraph per row, their other columns carried through."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rich.cells import cell_len
from rich.console import Console

from cppcc_themes.experiments.cli import main
from cppcc_themes.experiments.commands import output_width
from cppcc_themes.experiments.commands.tag import paragraph_table
from cppcc_themes.features.readers import ReadError
from cppcc_themes.features.tables import TableOptions, read_table_rows
from cppcc_themes.train.package import load_model
from cppcc_themes.train.predict import tag_report

SCORE = re.compile(r"\b[01]\.\d\d\b")
CLI = Path(sys.executable).with_name("cppcc-themes")


@pytest.fixture(scope="module")
def model(packaged_model_dir):
    return load_model(packaged_model_dir)


@pytest.mark.parametrize("width", [80, 120, 200])
def test_paragraph_table_fits_the_width_and_shows_every_score(model, seed_paths, width):
    report = tag_report(model, seed_paths["seed-001"])
    buffer = io.StringIO()
    Console(file=buffer, width=width).print(paragraph_table(report, model.labels, width))
    lines = buffer.getvalue().splitlines()
    assert max(map(cell_len, lines)) <= width
    rows = [line for line in lines if re.match(r"^│\s+\d+ │", line)]
    assert len(rows) == len(report.paragraphs)
    for line, paragraph in zip(rows, report.paragraphs, strict=True):
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        shown = [float(cell) for cell in cells[3:3 + len(model.labels)]]
        assert shown == [round(paragraph.scores[label], 2) for label in model.labels]
        themes = cells[2]
        if not paragraph.themes:
            assert themes == "-"  # no "top score" theme for a paragraph without one
        else:
            assert themes.replace(" ", "").startswith(paragraph.themes[0][:len(themes) - 1])


def test_output_width_follows_columns_and_never_goes_below_sixty(monkeypatch):
    monkeypatch.setenv("COLUMNS", "137")
    assert output_width() == 137
    monkeypatch.setenv("COLUMNS", "20")
    assert output_width() == 60


def _first_line_then_close(arguments: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the console script, read one line of its output, close the pipe, as `| head -1`
    does; return (exit code, the line, stderr)."""
    process = subprocess.Popen([str(CLI), *arguments], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, encoding="utf-8")
    line = process.stdout.readline()
    process.stdout.close()
    error = process.stderr.read()
    process.stderr.close()
    return process.wait(timeout=300), line, error


@pytest.mark.skipif(not CLI.exists(), reason="the console script is not installed")
@pytest.mark.parametrize("arguments", [
    ["tag", "--format", "table"],
    ["tag", "--format", "jsonl", "--workers", "2"],
    ["profile", "--format", "csv"],
    ["--help"],
    ["tag", "--help"],
], ids=["tag-table", "tag-jsonl-workers", "profile-csv", "help", "tag-help"])
def test_every_command_ends_quietly_on_a_closed_pipe(arguments, packaged_model_dir,
                                                     seed_paths, tmp_path):
    if arguments[0] != "--help" and arguments[-1] != "--help":
        # Enough output (~1 MB for tag) that the reader is gone long before the end.
        arguments = [*arguments[:1], *[str(seed_paths["seed-001"])] * 60, *arguments[1:],
                     "--model", str(packaged_model_dir)]
    code, line, error = _first_line_then_close(arguments, tmp_path)
    assert line.strip()
    assert "Traceback" not in error and "Exception ignored" not in error
    assert error == ""
    assert code in (0, 141)


# --- tables --------------------------------------------------------------------------------

def _report_frame(seed_paths) -> pd.DataFrame:
    texts = [path.read_text(encoding="utf-8") for path in seed_paths.values()][:2]
    return pd.DataFrame({"province": ["甲省", "乙市"], "year": [2025, 2026],
                         "full_text": texts})


@pytest.mark.parametrize("suffix,encoding", [(".csv", "gb18030"), (".csv", "utf-8-sig"),
                                             (".tsv", "utf-16"), (".parquet", None),
                                             (".xlsx", None)])
def test_tables_read_one_report_per_row(seed_paths, tmp_path, suffix, encoding):
    frame = _report_frame(seed_paths)
    path = tmp_path / f"reports{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        path.write_bytes(frame.to_csv(index=False, sep="\t" if suffix == ".tsv" else ",")
                         .encode(encoding))
    rows = read_table_rows(path, TableOptions(text_column="full_text", id_column="province"))
    assert [row.id for row in rows] == ["甲省", "乙市"]
    assert [row.text.strip() for row in rows] == [t.strip() for t in frame["full_text"]]
    assert [row.columns for row in rows] == [{"year": 2025}, {"year": 2026}] or \
        [row.columns for row in rows] == [{"year": "2025"}, {"year": "2026"}]


def test_profile_of_a_table_corpus_names_reports_by_id(packaged_model_dir, root, tmp_path,
                                                       capsys):
    """The issue's command, on two files of the project's own corpus of tables."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted((root / "labels" / "corpus" / "gov-work-reports-2026").glob("*.csv"))[:2]:
        shutil.copy(path, corpus / path.name)
    code = main(["profile", str(corpus), "--text-column", "full_text", "--id-column",
                 "province", "--format", "json", "--model", str(packaged_model_dir)])
    assert code == 0
    profiles = json.loads(capsys.readouterr().out)
    assert [p["report"] for p in profiles] == ["上海市", "云南省"]
    assert all(p["paragraphs"] > 20 for p in profiles)
    assert profiles[0]["columns"]["year"] in (2026, "2026")
    assert "full_text" not in profiles[0]["columns"]


def test_paragraph_rows_keep_ids_and_carry_columns(packaged_model_dir, tmp_path, capsys):
    path = tmp_path / "paragraphs.csv"
    pd.DataFrame({"pid": ["p1", "p2"], "speaker": ["甲", "乙"],
                  "text": ["坚持和加强党对政协工作的全面领导。", "围绕高质量发展建言资政。"]}
                 ).to_csv(path, index=False, encoding="gb18030")
    code = main(["tag", str(path), "--rows", "paragraph", "--id-column", "pid", "--format",
                 "csv", "--model", str(packaged_model_dir)])
    assert code == 0
    written = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert written["id"].tolist() == ["p1", "p2"]
    assert set(written["report"]) == {"paragraphs"}
    assert [json.loads(c) for c in written["columns"]] == [{"speaker": "甲"},
                                                           {"speaker": "乙"}]


def test_missing_column_is_one_line_naming_the_file_and_its_columns(packaged_model_dir,
                                                                    tmp_path, capsys):
    path = tmp_path / "reports.csv"
    pd.DataFrame({"name": ["a"], "body": ["政协工作"]}).to_csv(path, index=False)
    good = tmp_path / "good.txt"
    good.write_text("坚持和加强党对政协工作的全面领导。\n", encoding="utf-8")
    code = main(["tag", str(path), str(good), "--text-column", "full_text", "--format",
                 "jsonl", "--model", str(packaged_model_dir)])
    captured = capsys.readouterr()
    assert code == 1
    [error] = [line for line in captured.err.splitlines() if "error" in line]
    assert str(path) in error and "'full_text'" in error and "name, body" in error
    assert json.loads(captured.out.splitlines()[0])["report"] == "good"


def test_damaged_table_is_a_read_error(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ReadError, match="broken.xlsx: not a readable .xlsx table"):
        read_table_rows(path)
