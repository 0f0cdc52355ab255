"""A document as one table, written as CSV and as PDF (ReportLab), so a statement or an
invoice carries the same lines and totals in the page, the CSV, the PDF and the API.

A :class:`Sheet` is the document's title, its facts (who, which month, status, hash), its
columns, rows and total row, and the notes that say how the figures are made. The CSV is the
table alone (header, rows, total); text cells that a spreadsheet would run as a formula get a
leading ``'``. The PDF is A4 landscape: title, facts, the table (its header repeated on every
page), notes, and the page number with the content hash in every footer.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Response
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import KeepTogether

Extension = Literal["csv", "pdf"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Bitstream Vera (shipped with ReportLab, embedded in the PDF) for Latin text; names in
# Chinese, Japanese or Korean script are set in Adobe's STSong-Light (a CID font the reader
# supplies), cell by cell.
FONT, BOLD, CJK = "FleethubVera", "FleethubVeraBold", "STSong-Light"


def _register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
    pdfmetrics.registerFont(TTFont(BOLD, "VeraBd.ttf"))
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))


def _font(text: str, default: str) -> str:
    return CJK if any(ord(ch) >= 0x2E80 for ch in text) else default


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class Sheet:
    title: str
    facts: list[tuple[str, str]]
    columns: list[Column]
    rows: list[list[str]]
    total: list[str]
    notes: list[str] = field(default_factory=list)
    footer: str = ""


def safe_cell(text: str, numeric: bool) -> str:
    """A text cell a spreadsheet will not run as a formula; numbers stay numbers."""
    if not numeric and text.startswith(FORMULA_START):
        return "'" + text
    return text


def to_csv(sheet: Sheet) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in sheet.columns])
    for row in [*sheet.rows, sheet.total]:
        writer.writerow([safe_cell(v, c.numeric) for v, c in zip(row, sheet.columns, strict=True)])
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_pdf(sheet: Sheet) -> bytes:
    """The sheet as a PDF document (A4 landscape)."""
    _register_fonts()
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontName=FONT, fontSize=7.5, leading=9.5)
    heading = styles["Title"].clone("heading", fontName=_font(sheet.title, BOLD))

    def para(text: str, style: Any, bold: bool = False) -> Paragraph:
        font = _font(text, BOLD if bold else FONT)
        return Paragraph(f'<font name="{font}">{_escape(text)}</font>', style)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=sheet.title,
        author="fleethub",
    )
    story: list[Any] = [Paragraph(_escape(sheet.title), heading)]
    facts = Table(
        [[para(k, small, bold=True), para(v, small)] for k, v in sheet.facts],
        colWidths=[45 * mm, 200 * mm],
        hAlign="LEFT",
    )  # fmt: skip
    facts.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])
    )
    story += [facts, Spacer(1, 4 * mm)]
    header = [c.name for c in sheet.columns]
    table = Table([header, *sheet.rows, sheet.total], repeatRows=1, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 7),
        ("LEADING", (0, 0), (-1, -1), 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3e8ee")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#1c2733")),
        ("LINEABOVE", (0, -1), (-1, -1), 1, colors.HexColor("#1c2733")),
        ("FONTNAME", (0, 0), (-1, 0), BOLD),
        ("FONTNAME", (0, -1), (-1, -1), BOLD),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    style += [("ALIGN", (n, 1), (n, -1), "RIGHT") for n, c in enumerate(sheet.columns) if c.numeric]
    style += [("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#f5f7fa")])]
    style += [
        ("FONTNAME", (n, r), (n, r), CJK)
        for r, row in enumerate(sheet.rows, start=1)
        for n, text in enumerate(row)
        if _font(text, FONT) == CJK
    ]
    table.setStyle(TableStyle(style))
    story += [table, Spacer(1, 4 * mm)]
    if sheet.notes:
        story.append(KeepTogether([para(n, small) for n in sheet.notes]))

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.HexColor("#4f5b66"))
        text = f"{sheet.title} · page {doc.page}" + (f" · {sheet.footer}" if sheet.footer else "")
        canvas.drawString(12 * mm, 7 * mm, text)
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def download(sheet: Sheet, filename: str, extension: Extension) -> Response:
    """The sheet as a file to save: CSV or PDF, named ``filename``."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if extension == "csv":
        return Response(to_csv(sheet), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(to_pdf(sheet), media_type="application/pdf", headers=headers)
