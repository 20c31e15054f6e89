"""Copies of a report in the formats users have: made here, by the tests, from plain text."""

from __future__ import annotations

import html
from pathlib import Path


def report_lines(text: str) -> list[str]:
    """The non-empty lines of a report: one paragraph each in the copies."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def write_docx(text: str, path: Path) -> Path:
    import docx

    document = docx.Document()
    for line in report_lines(text):
        document.add_paragraph(line)
    document.save(str(path))
    return path


def write_pdf(text: str, path: Path, password: str | None = None) -> Path:
    """A PDF with a real text layer, paragraphs wrapped and spaced as word processors do.

    reportlab's built-in CID font STSong-Light needs no font file and its text layer maps back
    to Unicode (fpdf2's subset of the Noto collection extracts as wrong characters in pypdf).
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("report", fontName="STSong-Light", fontSize=11, leading=16,
                           spaceAfter=8, wordWrap="CJK")
    encrypt = None
    if password:
        from reportlab.lib.pdfencrypt import StandardEncryption

        encrypt = StandardEncryption(password, canPrint=0)
    document = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=20 * mm,
                                 rightMargin=20 * mm, encrypt=encrypt)
    document.build([Paragraph(html.escape(line), style) for line in report_lines(text)])
    return path


def write_html(text: str, path: Path, encoding: str = "utf-8") -> Path:
    """A saved web page: the report in <p> elements inside menus, scripts and a footer."""
    body = "\n".join(f"    <p>{html.escape(line)}</p>" for line in report_lines(text))
    page = f"""<!DOCTYPE html>
<html><head><meta charset="{encoding}"><title>政协工作报告 - 新闻中心</title>
<style>p {{ text-indent: 2em; }}</style>
<script>var share = "分享到微信";</script></head>
<body>
  <nav><a href="/">首页</a> &gt; <a href="/news">政协要闻</a></nav>
  <div class="article">
{body}
  </div>
  <footer>版权所有 © 2023 某某政协 <a href="#">京ICP备12345678号</a></footer>
</body></html>
"""
    path.write_bytes(page.encode(encoding))
    return path
