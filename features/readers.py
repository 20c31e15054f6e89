"""Reading report files into text. Every error names the file and the problem.

Reports come as plain text in any of the encodings Chinese offices use (UTF-8 with or without
BOM, GB18030/GBK, Big5, UTF-16), Word documents, PDFs with a text layer, saved web pages, and
``.jsonl`` files of ready paragraphs. Each reader returns the report's text with one paragraph
candidate per line; cleaning and segmentation happen later, on that text.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "STDIN",
    "SUPPORTED_SUFFIXES",
    "ReadError",
    "decode_text",
    "iter_report_paths",
    "read_jsonl_records",
    "read_report",
    "read_stdin",
]

STDIN = "-"
# Tables (one report or paragraph per row) are read by features.tables.
SUPPORTED_SUFFIXES = (".txt", ".docx", ".pdf", ".html", ".htm", ".jsonl", ".csv", ".tsv",
                      ".parquet", ".xlsx")
# A decoded text with more control characters than this share is binary data, not a report.
_MAX_CONTROL_SHARE = 0.01
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_DECLARED_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Elements whose text a reader of the page never sees.
_INVISIBLE_TAGS = ("head", "script", "style", "noscript", "template", "svg", "iframe", "object")
# Page chrome around the report: menus, link lists, site footers.
_CHROME_TAGS = ("nav", "footer", "aside", "[role=navigation]")
_BLOCK_TAGS = ("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
               "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
               "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td",
               "th", "tr", "ul")
_BLOCK_MARK = "\ue000"  # a private-use character no report contains
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class ReadError(ValueError):
    """A report file cannot be read; the message names the file and the problem."""


def _check_text(text: str, source: str) -> str:
    """Refuse empty text and text that is really binary data."""
    if not text.strip():
        raise ReadError(f"{source}: empty file (no text)")
    sample = text[:100_000]
    if len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise ReadError(f"{source}: binary data, not text")
    return text


def decode_text(data: bytes, source: str) -> str:
    """Decode report bytes whatever their encoding, detected with charset-normalizer."""
    from charset_normalizer import from_bytes

    if not data.strip():
        raise ReadError(f"{source}: empty file (no text)")
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                          (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return _decode_with(data, encoding, source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise ReadError(f"{source}: binary data or an unknown text encoding")
    encoding = best.encoding
    # GB2312 and GBK are subsets of GB18030: decoding with the superset never loses a character.
    if encoding.replace("_", "").lower() in ("gb2312", "gbk", "cp936"):
        encoding = "gb18030"
    return _decode_with(data, encoding, source)


def _decode_with(data: bytes, encoding: str, source: str) -> str:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise ReadError(f"{source}: cannot decode as {encoding} ({error.__class__.__name__})") \
            from None


def _read_txt(path: Path) -> str:
    return decode_text(path.read_bytes(), str(path))


def _read_docx(path: Path) -> str:
    """Paragraphs and table cells of a Word document, one per line."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    with path.open("rb") as handle:
        head = handle.read(8)
    if head == _OLE_MAGIC:
        raise ReadError(f"{path}: password-protected or old-format (.doc) Word file; save it "
                        "unprotected as .docx")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ReadError(f"{path}: not a readable .docx (damaged or truncated: "
                        f"{error.__class__.__name__})") from None
    lines = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.extend(cell.text for cell in row.cells)
    return "\n".join(lines)


def _pdf_page_lines(page: Any, number: int) -> list[tuple[int, float, float, str]]:
    """The text lines of a PDF page as (page number, x, y, text), in reading order."""
    lines: list[list[Any]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        # Some producers' CID fonts come out with a NUL before every character.
        text = text.replace("\x00", "").strip("\n")
        if not text:
            return
        x, y = tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]
        if not lines or abs(lines[-1][2] - y) > 1:
            lines.append([number, x, y, text])
        else:
            lines[-1][3] += text

    page.extract_text(visitor_text=visit)
    return [(n, x, y, text) for n, x, y, text in lines if text.strip()]


def _display_width(text: str) -> float:
    """Width in CJK characters: ASCII letters and digits are half as wide."""
    return sum(0.5 if ord(char) < 0x2E80 else 1.0 for char in text)


def _join_pdf_lines(lines: list[tuple[int, float, float, str]]) -> list[str]:
    """Join the wrapped lines of a PDF back into paragraphs.

    A line starts a new paragraph when it is indented against the page's left margin; on a
    page that spaces its paragraphs (two distinct line gaps), when the gap above it is the
    wide one; otherwise (no paragraph spacing, or across a page break) when the line above
    ends short of the usual line width, as a paragraph's last line does.
    """
    if not lines:
        return []
    widths = sorted(_display_width(text) for *_, text in lines)
    full_width = widths[(3 * len(widths)) // 4]  # most lines of body text are full lines
    margins: dict[int, float] = {}
    gaps: dict[int, list[float]] = {}
    for (page, x, y, _), following in zip(lines, [*lines[1:], None], strict=True):
        margins[page] = min(margins.get(page, x), x)
        if following is not None and following[0] == page:
            gaps.setdefault(page, []).append(abs(y - following[2]))
    spacing = {page: min(g) for page, g in gaps.items() if max(g) > 1.3 * min(g)}
    paragraphs = [lines[0][3]]
    for (page_above, _, y_above, above), (page, x, y, text) in zip(lines, lines[1:],
                                                                    strict=False):
        if x - margins[page] > 8:
            new_paragraph = True
        elif page == page_above and page in spacing:
            new_paragraph = abs(y_above - y) > 1.3 * spacing[page]
        else:
            new_paragraph = _display_width(above.rstrip()) < 0.9 * full_width
        if new_paragraph:
            paragraphs.append(text)
        else:
            paragraphs[-1] = _join_wrapped(paragraphs[-1], text)
    return paragraphs


def _join_wrapped(before: str, after: str) -> str:
    """Join a wrapped line to its paragraph: Chinese needs no space at the break."""
    before, after = before.rstrip(), after.lstrip()
    if not before or not after or ord(before[-1]) >= 0x2E80 or ord(after[0]) >= 0x2E80:
        return before + after
    return f"{before} {after}"


def _read_pdf(path: Path) -> str:
    """The text layer of a PDF, wrapped lines joined back into paragraphs."""
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:  # pypdf raises several types for unsupported encryption
                opened = 0
            if not opened:
                raise ReadError(f"{path}: password-protected PDF; remove the password first")
        lines = []
        for number, page in enumerate(reader.pages):
            lines.extend(_pdf_page_lines(page, number))
        paragraphs = _join_pdf_lines(lines)
    except ReadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, IndexError) as error:
        raise ReadError(f"{path}: not a readable PDF (damaged or truncated: "
                        f"{error.__class__.__name__})") from None
    if not "".join(paragraphs).strip():
        raise ReadError(f"{path}: PDF has no text layer (scanned?); run OCR on it first")
    return "\n".join(paragraphs)


def html_to_text(markup: str) -> str:
    """The visible text of an HTML page, one block element per line."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(markup)
    for tag in (*_INVISIBLE_TAGS, *_CHROME_TAGS):
        for node in tree.css(tag):
            node.decompose()
    for node in tree.css(",".join(_BLOCK_TAGS)):
        node.insert_before(_BLOCK_MARK)
        node.insert_after(_BLOCK_MARK)
    root = tree.body or tree.root
    text = root.text(deep=True, separator="") if root is not None else ""
    # Inside a block, HTML folds white space; block boundaries are the only line breaks.
    blocks = (re.sub(r"\s+", " ", block).strip() for block in text.split(_BLOCK_MARK))
    return "\n".join(block for block in blocks if block)


def _read_html(path: Path) -> str:
    data = path.read_bytes()
    declared = _DECLARED_CHARSET.search(data[:4096])
    if declared:
        try:
            markup = data.decode(declared.group(1).decode("ascii"))
        except (UnicodeDecodeError, LookupError):
            markup = decode_text(data, str(path))
    else:
        markup = decode_text(data, str(path))
    return html_to_text(markup)


_READERS = {".txt": _read_txt, ".docx": _read_docx, ".pdf": _read_pdf, ".html": _read_html,
            ".htm": _read_html}


def read_report(path: Path) -> str:
    """Return the text of a report file, one paragraph candidate per line."""
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    if path.is_dir():
        raise ReadError(f"{path}: is a folder, not a file")
    reader = _READERS.get(path.suffix.lower())
    if reader is None and path.suffix.lower() in (".csv", ".tsv", ".parquet", ".xlsx"):
        raise ReadError(f"{path}: a table holds rows, not one report: read it with "
                        "cppcc_themes.features.tables (tag and profile do)")
    if reader is None:
        raise ReadError(_unsupported(path))
    try:
        text = reader(path)
    except PermissionError:
        raise ReadError(f"{path}: permission denied") from None
    except OSError as error:
        raise ReadError(f"{path}: cannot be read ({error.strerror or error})") from None
    return _check_text(text, str(path))


def read_stdin(stream: io.IOBase | None = None) -> str:
    """Return the report text given on standard input, whatever its encoding."""
    stream = stream if stream is not None else sys.stdin.buffer
    data = stream.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _check_text(decode_text(data, "<stdin>"), "<stdin>")


def read_jsonl_records(path: Path) -> list[dict[str, Any]]:
    """Ready paragraphs of a ``.jsonl`` file, one ``{"id": ..., "text": ...}`` per line."""
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    text = decode_text(path.read_bytes(), str(path))
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ReadError(f"{path}:{number}: line is not JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise ReadError(f"{path}:{number}: object has no string 'text'")
        records.append(record)
    if not records:
        raise ReadError(f"{path}: no paragraphs")
    return records


def _unsupported(path: Path) -> str:
    return (f"{path}: unsupported file type {path.suffix or '(none)'}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}")


def iter_report_paths(path: Path | str) -> Iterator[Path | str]:
    """Yield the report files at ``path``: the file itself, a folder's files recursively, or
    ``-`` for standard input."""
    if str(path) == STDIN:
        yield STDIN
        return
    path = Path(path)
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if (child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES
                    and not child.name.startswith((".", "~$"))):
                yield child
    elif path.is_file():
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise ReadError(_unsupported(path))
        yield path
    else:
        raise ReadError(f"{path}: no such file or folder")
