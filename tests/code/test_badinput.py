"""Bad input: a clear one-line message naming the file, the documented exit code, no traceback,
and the rest of the batch still tagged."""

import json
import time

import pytest
from documents import write_docx, write_pdf
from model_files import copy_model, edit_metadata

from cppcc_themes.experiments.cli import main
from cppcc_themes.features.readers import read_report
from cppcc_themes.features.segment import segment_report

SEED_000_PARAGRAPHS = 9


def _tag(capsys, model_dir, *paths):
    code = main(["tag", *map(str, paths), "--model", str(model_dir), "--format", "jsonl"])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.strip().splitlines()


def _make_empty(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    return tmp_path / "empty.txt", "empty file"


def _make_blank(tmp_path):
    (tmp_path / "blank.txt").write_text(" \n\t\u3000\n\n", encoding="utf-8")
    return tmp_path / "blank.txt", "empty file"


def _make_binary(tmp_path):
    import zlib

    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + zlib.compress(bytes(range(256)) * 400))
    return path, "binary data"


def _make_truncated_docx(tmp_path):
    whole = write_docx("一、坚持党的领导\n加强政协党的建设。", tmp_path / "whole.docx")
    path = tmp_path / "truncated.docx"
    path.write_bytes(whole.read_bytes()[:2000])
    whole.unlink()
    return path, "not a readable .docx"


def _make_protected_docx(tmp_path):
    # Word saves a password-protected .docx as an OLE compound file holding the encrypted
    # package: this header is what the reader sees first.
    path = tmp_path / "protected.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096)
    return path, "password-protected"


def _make_truncated_pdf(tmp_path, seed_text):
    whole = write_pdf(seed_text, tmp_path / "whole.pdf")
    path = tmp_path / "truncated.pdf"
    path.write_bytes(whole.read_bytes()[:1500])
    whole.unlink()
    return path, "truncated.pdf:"


def _make_protected_pdf(tmp_path, seed_text):
    return write_pdf(seed_text, tmp_path / "protected.pdf", password="secret"), \
        "password-protected PDF"


def _make_bad_jsonl(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1, "text": "好"}\nnot json\n', encoding="utf-8")
    return path, "bad.jsonl:2: line is not JSON"


def _make_textless_jsonl(tmp_path):
    path = tmp_path / "textless.jsonl"
    path.write_text('{"id": 1, "body": "好"}\n', encoding="utf-8")
    return path, "textless.jsonl:1: object has no string 'text'"


def _make_missing(tmp_path):
    return tmp_path / "missing.txt", "missing.txt: no such file"


def _make_unknown_type(tmp_path):
    (tmp_path / "report.odt").write_bytes(b"PK\x03\x04")
    return tmp_path / "report.odt", "unsupported file type .odt"


CASES = {
    "empty": _make_empty, "whitespace": _make_blank, "binary": _make_binary,
    "truncated-docx": _make_truncated_docx, "protected-docx": _make_protected_docx,
    "truncated-pdf": _make_truncated_pdf, "protected-pdf": _make_protected_pdf,
    "jsonl-not-json": _make_bad_jsonl, "jsonl-no-text": _make_textless_jsonl,
    "missing": _make_missing, "unknown-type": _make_unknown_type,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_named_and_the_batch_goes_on(case, packaged_model_dir, seed_paths,
                                                 tmp_path, capsys):
    make = CASES[case]
    seed_text = seed_paths["seed-000"].read_text(encoding="utf-8")
    bad, message = (make(tmp_path, seed_text) if "pdf" in case else make(tmp_path))
    code, out, err = _tag(capsys, packaged_model_dir, bad, seed_paths["seed-000"])
    assert code == 1
    assert len(out) == SEED_000_PARAGRAPHS  # the good report after it was still tagged
    assert err[0].startswith(f"cppcc-themes: error: {bad}")
    assert message in err[0]
    assert err[1:] == ["cppcc-themes: 1 file(s) tagged, 1 failed"]
    assert "Traceback" not in "\n".join(err)


def test_mixed_traditional_and_simplified_tags_like_simplified(packaged_model_dir, tmp_path,
                                                               capsys):
    simplified = "坚持和加强党对政协工作的全面领导，深入开展主题教育，筑牢共同思想政治基础。"
    mixed = "堅持和加強黨對政協工作的全面領導，深入开展主题教育，筑牢共同思想政治基礎。"
    paths = []
    for name, text in (("simplified", simplified), ("mixed", mixed)):
        paths.append(tmp_path / f"{name}.txt")
        paths[-1].write_text(text, encoding="utf-8")
    code, out, err = _tag(capsys, packaged_model_dir, *paths)
    rows = [json.loads(line) for line in out]
    assert code == 0 and not err
    assert rows[1]["text"] == mixed  # the original text is output
    assert rows[1]["themes"] == rows[0]["themes"] and rows[0]["themes"]
    assert rows[1]["scores"] == rows[0]["scores"]


def _one_line_report(seed_paths, megabytes=20):
    text = "".join(seed_paths[s].read_text(encoding="utf-8").replace("\n", "")
                   for s in sorted(seed_paths))
    return text * (megabytes * 1_000_000 // len(text.encode()) + 1)


def test_20_mb_report_on_one_line_segments_in_linear_time(seed_paths, tmp_path):
    path = tmp_path / "one-line.txt"
    path.write_text(_one_line_report(seed_paths), encoding="utf-8")
    start = time.perf_counter()
    paragraphs = segment_report(read_report(path))
    elapsed = time.perf_counter() - start
    assert elapsed < 20, f"segmenting 20 MB took {elapsed:.1f} s"
    assert max(len(p.text) for p in paragraphs) <= 3000
    assert len(paragraphs) > 2000


@pytest.mark.slow
def test_20_mb_report_on_one_line_is_tagged(packaged_model_dir, seed_paths, tmp_path, capsys):
    path = tmp_path / "one-line.txt"
    path.write_text(_one_line_report(seed_paths), encoding="utf-8")
    code, out, err = _tag(capsys, packaged_model_dir, path)
    assert code == 0 and not err and len(out) > 2000






def _model_missing(model_dir, tmp_path):
    return tmp_path / "nowhere", "no model directory"


def _model_corrupt_file(model_dir, tmp_path):
    directory = copy_model(model_dir, tmp_path)
    data = (directory / "model.joblib").read_bytes()
    (directory / "model.joblib").write_bytes(data[: len(data) // 2])
    return directory, "sha256 differs"


def _model_corrupt_metadata(model_dir, tmp_path):
    directory = copy_model(model_dir, tmp_path)
    (directory / "metadata.json").write_text("{not json", encoding="utf-8")
    return directory, "not valid JSON"


def _model_other_format(model_dir, tmp_path):
    directory = copy_model(model_dir, tmp_path)
    edit_metadata(directory, format_version=99)
    return directory, "model format version 99"


def _model_other_sklearn(model_dir, tmp_path):
    directory = copy_model(model_dir, tmp_path)
    meta = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    edit_metadata(directory, library_versions={**meta["library_versions"],
                                                "scikit-learn": "0.24.2"})
    return directory, "trained with scikit-learn 0.24.2"


MODEL_CASES = {"missing": _model_missing, "corrupt-file": _model_corrupt_file,
               "corrupt-metadata": _model_corrupt_metadata, "other-format": _model_other_format,
               "other-sklearn": _model_other_sklearn}


@pytest.mark.parametrize("command", ["tag", "profile"])
@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_unusable_model_exits_2_with_one_line(case, command, packaged_model_dir, seed_paths,
                                              tmp_path, capsys):
    directory, message = MODEL_CASES[case](packaged_model_dir, tmp_path)
    code = main([command, str(seed_paths["seed-000"]), "--model", str(directory)])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 2 and captured.out == ""
    assert len(err) == 1 and err[0].startswith("cppcc-themes: error: ") and message in err[0]
