"""Reading report files into text. Every error names the file and the problem.

Reports come as plain text in any of the encodings Chinese offices use (UTF-8 with or without
BOM, GB18030/GBK, Big5, UTF-16), Word documents, PDFs with a text layer, saved web pages, and
``.jsonl`` files of ready paragraphs. Each reader returns the report's text with one paragraph
candidate per line; cleaning and segmentation happen later, on that text.

Every reader is bounded: no file, standard input or inflated ``.docx`` part is read past
``max_file_bytes()`` (``MAX_FILE_BYTES``, or ``$CPPCC_THEMES_MAX_FILE_MB``), so a zip bomb or
``/dev/zero`` costs an error line, not the machine's memory. New readers call ``read_bounded``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import json
import logging
import os
import re
import stat
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "STDIN",
    "SUPPORTED_SUFFIXES",
    "ReadError",
    "MAX_FILE_BYTES",
    "check_zip_parts",
    "decode_text",
    "iter_report_paths",
    "max_file_bytes",
    "read_bounded",
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
# The most bytes read from one file or standard input, and inflated from one part of a .docx
# (all parts together: four times this). A long work report is well under 1 MB of text.
MAX_FILE_BYTES = 50_000_000
MAX_FILE_ENV = "CPPCC_THEMES_MAX_FILE_MB"
# Decoded text of a non-UTF-8 file is a report only if at most this share of its visible
# characters are implausible in one (control and private-use characters, rare ideographs,
# Latin-1 and most ASCII symbols), none in a text shorter than 20: random bytes decode as
# GB18030 or Big5 into rare characters and stray ASCII symbols.
_MAX_IMPLAUSIBLE_SHARE = 0.05
# The Chinese encodings tried first, before charset-normalizer's guess (which takes a short
# GBK text for Korean, a short Big5 one for UTF-16), on a sample of this many bytes.
_CHINESE_ENCODINGS = ("gb18030", "big5")
_ENCODING_SAMPLE_BYTES = 65_536
_PLAUSIBLE_ASCII = frozenset(" .,:;()%-/+'\"!?*<>_~#|[]&=@")
# Tone-marked pinyin (traditional-character sources gloss characters inline: 協(xié)商).
_PINYIN = frozenset("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüĀÁǍÀĒÉĚÈĪÍǏÌŌÓǑÒŪÚǓÙÜ")
# A UTF-8 file with at most one undecodable byte per this many characters (and a few in any
# file: one stray byte inside a character spoils up to four) is UTF-8 with damage.
_UTF8_DAMAGE_RATIO = 100
_UTF8_DAMAGE_ALLOWED = 4


class ReadError(ValueError):
    """A report file cannot be read; the message names the file and the problem."""


def max_file_bytes() -> int:
    """The size limit of one input: ``$CPPCC_THEMES_MAX_FILE_MB`` megabytes, else
    ``MAX_FILE_BYTES``."""
    value = os.environ.get(MAX_FILE_ENV, "").strip()
    try:
        return int(float(value) * 1_000_000) if value else MAX_FILE_BYTES
    except ValueError:
        return MAX_FILE_BYTES


def _too_large(source: str, limit: int, what: str = "larger than") -> ReadError:
    return ReadError(f"{source}: {what} the {limit / 1_000_000:g} MB limit per input "
                     f"(raise it with {MAX_FILE_ENV})")


def read_bounded(source: Path | str | io.IOBase, limit: int | None = None,
                 name: str | None = None) -> bytes:
    """The bytes of a regular file (a path) or a binary stream, refusing more than ``limit``
    (default ``max_file_bytes()``) with a ReadError, having read at most ``limit + 1``."""
    limit = max_file_bytes() if limit is None else limit
    if isinstance(source, str | Path):
        path = Path(source)
        name = name or str(path)
        # Non-blocking, so that a FIFO is refused instead of waited on.
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            mode = os.fstat(handle.fileno())
            if not stat.S_ISREG(mode.st_mode):
                raise ReadError(f"{name}: {_kind(mode.st_mode)}, not a regular file")
            if mode.st_size > limit:
                raise _too_large(name, limit)
            data = handle.read(limit + 1)
    else:
        data = source.read(limit + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
    if len(data) > limit:
        raise _too_large(name or "<stdin>", limit)
    return data


def _check_text(text: str, source: str) -> str:
    """Refuse empty text and text that is really binary data; drop stray control characters
    (NUL and the like), which no paragraph should carry."""
    if not text.strip():
        raise ReadError(f"{source}: empty file (no text)")
    sample = text[:100_000]
    if len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise ReadError(f"{source}: binary data, not text")
    text = _CONTROL.sub("", text)
    if not text.strip():
        raise ReadError(f"{source}: empty file (no text)")
    return text


@functools.lru_cache(maxsize=65536)
def _plausible(char: str) -> bool:
    """Whether a character is one a Chinese report plausibly contains."""
    code = ord(char)
    if char.isspace() or (code < 0x7F and (char.isalnum() or char in _PLAUSIBLE_ASCII)):
        return True
    if 0x4E00 <= code <= 0x9FFF:  # ideographs: the common ones of either script
        with contextlib.suppress(UnicodeEncodeError):
            char.encode("gb2312")
            return True
        with contextlib.suppress(UnicodeEncodeError):
            return 0xA440 <= int.from_bytes(char.encode("big5"), "big") <= 0xC67E
        return False
    # CJK and general punctuation, full-width forms, circled and bracketed numbers, arrows,
    # bullets (geometric shapes).
    return (0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF5E or 0x2000 <= code <= 0x206F
            or 0x2460 <= code <= 0x24FF or 0x3200 <= code <= 0x32FF or 0x2190 <= code <= 0x21FF
            or 0x25A0 <= code <= 0x25FF or char in _PINYIN or char in "·×÷°±§¥€£©®™")


def _implausible_share(text: str) -> float:
    sample = [char for char in text[:20_000] if not char.isspace()]
    if not sample:
        return 0.0
    implausible = sum(not _plausible(char) for char in sample)
    return 1.0 if len(sample) < 20 and implausible else implausible / len(sample)


def _decode_unknown(data: bytes, source: str) -> str:
    """Decode bytes that are not UTF-8: the Chinese encoding whose reading of a sample looks
    most like text, else charset-normalizer's guess; refuse what looks like no text at all."""
    from charset_normalizer import from_bytes

    sample = data[:_ENCODING_SAMPLE_BYTES]
    ranked = sorted((_implausible_share(sample.decode(encoding, errors="replace")), order,
                     encoding) for order, encoding in enumerate(_CHINESE_ENCODINGS))
    for share, _, encoding in ranked:
        if share > _MAX_IMPLAUSIBLE_SHARE:
            break
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode(encoding)
    best = from_bytes(data).best()
    if best is None:
        raise ReadError(f"{source}: binary data or an unknown text encoding")
    encoding = best.encoding
    # GB2312 and GBK are subsets of GB18030: decoding with the superset never loses a character.
    if encoding.replace("_", "").lower() in ("gb2312", "gbk", "cp936"):
        encoding = "gb18030"
    text = _decode_with(data, encoding, source)
    if _implausible_share(text) > _MAX_IMPLAUSIBLE_SHARE:
        raise ReadError(f"{source}: binary data or an unknown text encoding")
    return text


def _decode_damaged_utf8(data: bytes) -> str | None:
    """UTF-8 with a few stray bytes (a damaged copy), replaced by U+FFFD; None if the data is
    not UTF-8 with damage but some other encoding."""
    text = data.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd")
    multibyte = sum(1 for char in text[:100_000] if ord(char) > 0x7F) - damaged
    if (damaged <= max(_UTF8_DAMAGE_ALLOWED, len(text) // _UTF8_DAMAGE_RATIO)
            and multibyte >= 10 * damaged):
        return text
    return None


def decode_text(data: bytes, source: str) -> str:
    """Decode report bytes whatever their encoding: BOM, UTF-8 (a few damaged bytes
    replaced), the Chinese encodings, else as charset-normalizer detects."""
    if not data.strip():
        raise ReadError(f"{source}: empty file (no text)")
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                          (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            text = _decode_with(data, encoding, source)
            if encoding == "utf-16" and _implausible_share(text) > _MAX_IMPLAUSIBLE_SHARE:
                break  # two bytes that only look like a byte order mark
            return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    damaged = _decode_damaged_utf8(data)
    if damaged is not None:
        return damaged
    return _decode_unknown(data, source)


def _decode_with(data: bytes, encoding: str, source: str) -> str:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise ReadError(f"{source}: cannot decode as {encoding} ({error.__class__.__name__})") \
            from None


def _read_txt(path: Path) -> str:
    return decode_text(read_bounded(path), str(path))


def check_zip_parts(path: Path) -> None:
    """Refuse a zip package (.docx, .xlsx) larger than the limit or whose parts would inflate
    past it (a zip bomb). Reading a zip member stops at its declared size, so checking the
    declared sizes bounds the inflation."""
    import zipfile

    limit = max_file_bytes()
    if path.stat().st_size > limit:
        raise _too_large(str(path), limit)
    try:
        with zipfile.ZipFile(path) as package:
            members = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # python-docx names the damage
    for member in members:
        if member.file_size > limit:
            raise ReadError(f"{path}: part {member.filename} inflates to "
                            f"{member.file_size / 1_000_000:.0f} MB, over the "
                            f"{limit / 1_000_000:g} MB limit per part (zip bomb?)")
    if sum(member.file_size for member in members) > 4 * limit:
        raise _too_large(str(path), 4 * limit, "inflates to more than")


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
    check_zip_parts(path)
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


@contextlib.contextmanager
def _quiet_pdf_library() -> Iterator[None]:
    """Silence pypdf's own log lines and warnings ("EOF marker not found", "invalid pdf
    header"): the reader's one error line says what is wrong."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _read_pdf(path: Path) -> str:
    """The text layer of a PDF, wrapped lines joined back into paragraphs."""
    with _quiet_pdf_library():
        return _read_pdf_quietly(path)


def _read_pdf_quietly(path: Path) -> str:
    import pypdf
    from pypdf.errors import PdfReadError, PyPdfError

    data = read_bounded(path)
    limit = max_file_bytes()
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception:  # pypdf raises several types for unsupported encryption
                opened = 0
            if not opened:
                raise ReadError(f"{path}: password-protected PDF; remove the password first")
        lines, chars = [], 0
        for number, page in enumerate(reader.pages):
            page_lines = _pdf_page_lines(page, number)
            chars += sum(len(text) for *_, text in page_lines)
            if chars > limit:  # characters: a bound of the same order as the bytes
                raise _too_large(str(path), limit, "has more text than")
            lines.extend(page_lines)
        paragraphs = _join_pdf_lines(lines)
    except ReadError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError, IndexError,
            AttributeError, RecursionError, ZeroDivisionError) as error:
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
    data = read_bounded(path)
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
    _check_regular_file(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None and path.suffix.lower() in (".csv", ".tsv", ".parquet", ".xlsx"):
        raise ReadError(f"{path}: a table holds rows, not one report: read it with "
                        "cppcc_themes.features.tables (tag and profile do)")
    if reader is None:
        raise ReadError(_unsupported(path))
    try:
        text = reader(path)
    except OSError as error:
        raise ReadError(f"{path}: {_stat_problem(path, error)}") from None
    return _check_text(text, str(path))


def read_stdin(stream: io.IOBase | None = None) -> str:
    """Return the report text given on standard input, whatever its encoding."""
    stream = stream if stream is not None else sys.stdin.buffer
    data = read_bounded(stream, name="<stdin>")
    return _check_text(decode_text(data, "<stdin>"), "<stdin>")


def read_jsonl_records(path: Path) -> list[dict[str, Any]]:
    """Ready paragraphs of a ``.jsonl`` file, one ``{"id": ..., "text": ...}`` per line."""
    path = Path(path)
    _check_regular_file(path)
    try:
        data = read_bounded(path)
    except OSError as error:
        raise ReadError(f"{path}: {_stat_problem(path, error)}") from None
    text = decode_text(data, str(path))
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
        record["text"] = _CONTROL.sub("", record["text"])
        if not isinstance(record.get("heading", ""), str | None):
            raise ReadError(f"{path}:{number}: 'heading' must be a string or null")
        records.append(record)
    if not records:
        raise ReadError(f"{path}: no paragraphs")
    return records


def _unsupported(path: Path) -> str:
    return (f"{path}: unsupported file type {path.suffix or '(none)'}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}")


_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _stat_problem(path: Path, error: OSError) -> str:
    """What keeps ``path`` from being looked at, in words."""
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(error, FileNotFoundError):
        return "dangling symbolic link" if path.is_symlink() else "no such file or folder"
    if isinstance(error, PermissionError):
        return "permission denied"
    return f"cannot be read ({error.strerror or error})"


def _kind(mode: int) -> str:
    return next((name for test, name in _FILE_KINDS if test(mode)), "a special file")


def _check_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before opening it (opening a FIFO would block)."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        problem = _stat_problem(path, error)
        raise ReadError(f"{path}: {'no such file' if problem.startswith('no such') else problem}")\
            from None
    if stat.S_ISDIR(mode):
        raise ReadError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise ReadError(f"{path}: {_kind(mode)}, not a regular file")


def iter_report_paths(path: Path | str,
                      on_skip: Callable[[ReadError], None] | None = None,
                      ) -> Iterator[Path | str]:
    """Yield the report files at ``path``: the file itself, a folder's files recursively (in
    name order, following links to folders), or ``-`` for standard input.

    Hidden files and folders and Word lock files (``~$``) are passed over, and so are files of
    other types. What cannot be looked at inside a folder (an unreadable subfolder, a link loop,
    a dangling link, a FIFO or device) is passed to ``on_skip`` as a ReadError, in order.
    """
    if str(path) == STDIN:
        yield STDIN
        return
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise ReadError(f"{path}: {_stat_problem(path, error)}") from None
    if stat.S_ISDIR(mode):
        yield from _walk_folder(path, on_skip or (lambda error: None), frozenset())
    elif stat.S_ISREG(mode):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise ReadError(_unsupported(path))
        yield path
    else:
        raise ReadError(f"{path}: {_kind(mode)}, not a regular file")


def _walk_folder(folder: Path, on_skip: Callable[[ReadError], None],
                 above: frozenset[tuple[int, int]]) -> Iterator[Path]:
    try:
        info = folder.stat()
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        on_skip(ReadError(f"{folder}: folder {_stat_problem(folder, error)}; its files were "
                          "skipped"))
        return
    here = (info.st_dev, info.st_ino)
    if here in above:
        on_skip(ReadError(f"{folder}: symbolic link loop (leads back to a folder above); "
                          "skipped"))
        return
    for entry in entries:
        if entry.name.startswith((".", "~$")):
            continue
        child = Path(entry.path)
        try:
            mode = child.stat().st_mode
        except OSError as error:
            on_skip(ReadError(f"{child}: {_stat_problem(child, error)}; skipped"))
            continue
        if stat.S_ISDIR(mode):
            yield from _walk_folder(child, on_skip, above | {here})
        elif stat.S_ISREG(mode):
            if child.suffix.lower() in SUPPORTED_SUFFIXES:
                yield child
        else:
            on_skip(ReadError(f"{child}: {_kind(mode)}, not a regular file; skipped"))
