import io
import sys

import opencc
import pytest
from documents import write_docx, write_html, write_pdf

from cppcc_themes.experiments.cli import main
from cppcc_themes.features.readers import (
    ReadError,
    html_to_text,
    iter_report_paths,
    read_jsonl_records,
    read_report,
    read_stdin,
)
from cppcc_themes.features.segment import segment_report

SEEDS = ["seed-000", "seed-001", "seed-002", "seed-003"]


def _seed(seed_paths, seed):
    return seed_paths[seed].read_text(encoding="utf-8")


def big5_copy_text(text: str) -> str:
    """The text a Big5 copy holds: traditional characters (OpenCC s2tw) for simplified seeds.

    Plain Big5 lacks 礴 and the pinyin letters of seed-002's glosses; Big5-HKSCS, the Big5
    that Hong Kong and most converters write, has them.
    """
    return opencc.OpenCC("s2tw").convert(text)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le"])
def test_txt_encodings_are_detected(seed, encoding, seed_paths, tmp_path):
    text = _seed(seed_paths, seed)
    path = tmp_path / f"{seed}.txt"
    path.write_bytes(text.encode(encoding))
    assert read_report(path) == text


@pytest.mark.parametrize("seed", SEEDS)
def test_big5_is_detected(seed, seed_paths, tmp_path):
    text = big5_copy_text(_seed(seed_paths, seed))
    path = tmp_path / f"{seed}.txt"
    # "replace" touches only the © of seed-003's copyright line, which cleaning drops anyway.
    path.write_bytes(text.encode("big5hkscs", errors="replace"))
    expected = text.encode("big5hkscs", errors="replace").decode("big5hkscs")
    assert read_report(path) == expected


def test_short_gbk_paragraph_is_detected(tmp_path):
    text = "各位委员：我代表政协第十三届委员会常务委员会，向大会报告工作，请予审议。" * 2
    path = tmp_path / "short.txt"
    path.write_bytes(text.encode("gbk"))
    assert read_report(path) == text


@pytest.mark.parametrize("writer", [write_docx, write_pdf, write_html],
                         ids=["docx", "pdf", "html"])
@pytest.mark.parametrize("seed", SEEDS)
def test_documents_give_the_paragraphs_of_the_text(seed, writer, seed_paths, tmp_path):
    text = _seed(seed_paths, seed)
    suffix = {write_docx: ".docx", write_pdf: ".pdf", write_html: ".html"}[writer]
    path = writer(text, tmp_path / f"{seed}{suffix}")
    assert ([p.text for p in segment_report(read_report(path))]
            == [p.text for p in segment_report(text)])


def test_html_keeps_visible_report_text_only():
    markup = ("<html><head><title>标题</title><style>p{color:red}</style></head><body>"
              "<nav>首页 &gt; 要闻</nav><script>var a = '脚本';</script>"
              "<div><p>第一段<b>加粗</b>文字。</p><p>第二段\n  换行仍是一段。</p>尾<br>巴</div>"
              "<footer>版权所有</footer></body></html>")
    assert html_to_text(markup).split("\n") == ["第一段加粗文字。", "第二段 换行仍是一段。",
                                                "尾", "巴"]


def test_html_declared_charset_is_used(tmp_path):
    path = write_html("一、坚持党的领导\n加强政协党的建设。", tmp_path / "page.htm",
                      encoding="gb18030")
    assert read_report(path).split("\n") == ["一、坚持党的领导", "加强政协党的建设。"]


def test_folders_are_searched_recursively_in_order(tmp_path):
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    for name in ["b/deeper/z.txt", "b/a.docx", "a.pdf", "c.html", "p.jsonl", "notes.png",
                 ".hidden.txt", "~$lock.docx"]:
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_report_paths(tmp_path)]
    assert found == ["a.pdf", "b/a.docx", "b/deeper/z.txt", "c.html", "p.jsonl"]


def test_unknown_type_is_named(tmp_path):
    path = tmp_path / "report.odt"
    path.write_bytes(b"x")
    with pytest.raises(ReadError, match=r"report\.odt: unsupported file type \.odt"):
        list(iter_report_paths(path))
    with pytest.raises(ReadError, match="unsupported file type"):
        read_report(path)


def test_stdin_in_any_encoding():
    text = "一、2022年工作回顾\n过去的一年，政协工作取得新进展。"
    assert read_stdin(io.BytesIO(text.encode("gb18030"))) == text


def test_jsonl_with_bom_and_blank_lines(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes('\ufeff{"id": "a", "text": "段落"}\n\n{"text": "另一段"}\n'.encode())
    assert [r["text"] for r in read_jsonl_records(path)] == ["段落", "另一段"]


def test_cli_tags_standard_input(packaged_model_dir, seed_paths, monkeypatch, capsys):
    data = _seed(seed_paths, "seed-000").encode("gb18030")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code = main(["tag", "-", "--model", str(packaged_model_dir), "--format", "jsonl"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(lines) == 9 and '"report": "stdin"' in lines[0]
