"""Table structure (services/textract/tables.py) on real inputs: PDFs drawn with reportlab whose truth is known,
the same PDF rasterized to PNG (OCR'd words, OpenCV ruling lines), and a reference document beside real Amazon
Textract's answer."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from services.textract.page import Page, Table
from services.textract.reading import Document
from services.textract.tables import find_tables

REFERENCE = Path("/work/shared/textract-reference")

HEADER = ["Item", "Color", "Size", "Price"]
BODY = [["Apple", "Red", "12", "3.50"], ["Banana", "Yellow", "20", "1.25"], ["Cherry", "Purple", "8", "9.75"]]


def _pdf(draw) -> bytes:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter)
    draw(pdf)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _table_pdf(rows: list[list[str]], spans: list[tuple] = (), title: str = "Fruit prices") -> bytes:
    """A ruled reportlab table 100 pt from the top with a title line just above it."""
    from reportlab.lib import colors
    from reportlab.platypus import Table as RLTable
    from reportlab.platypus import TableStyle

    def draw(pdf) -> None:
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(72, 792 - 86, title)
        table = RLTable(rows, colWidths=[110] * len(rows[0]), rowHeights=[28] * len(rows))
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 1, colors.black),
                                   ("FONT", (0, 0), (-1, -1), "Helvetica", 14),
                                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), *[("SPAN", *s) for s in spans]]))
        _, height = table.wrapOn(pdf, 500, 500)
        table.drawOn(pdf, 72, 792 - 100 - height)
        pdf.setFont("Helvetica", 11)
        pdf.drawString(72, 792 - 130 - height, "Prices are per pound and include the local sales tax.")

    return _pdf(draw)


def _grid(page: Page, table: Table) -> dict[tuple[int, int], str]:
    return {(c.row, c.column): " ".join(page.words[i].text for i in c.words) for c in table.cells}


def _shape(table: Table) -> tuple[int, int]:
    return max(c.row for c in table.cells), max(c.column for c in table.cells)


@pytest.fixture(scope="module")
def ruled_pdf() -> bytes:
    return _table_pdf([HEADER, *BODY])


@pytest.fixture(scope="module")
def ruled_page(ruled_pdf) -> Page:
    return Document(ruled_pdf, sync=True).page(0, need_image=True)


@pytest.fixture(scope="module")
def ocr_page(ruled_page) -> Page:
    """The ruled table's page rasterized (200 dpi) and read back as a PNG: OCR'd words, lines from pixels."""
    from PIL import Image

    from services.gateway.config import Settings
    from services.gateway.runtime import start_model_worker

    start_model_worker(Settings())
    buffer = io.BytesIO()
    Image.fromarray(ruled_page.image).save(buffer, format="PNG")
    return Document(buffer.getvalue(), sync=True).page(0, need_image=True)


def test_ruled_pdf_table_cells_header_and_title(ruled_page):
    tables = find_tables(ruled_page)
    assert len(tables) == 1
    table = tables[0]
    assert _shape(table) == (4, 4)
    assert len(table.cells) == 16
    assert table.structured is True
    assert table.merged == []
    grid = _grid(ruled_page, table)
    expected = [HEADER, *BODY]
    assert grid == {(r + 1, c + 1): expected[r][c] for r in range(4) for c in range(4)}
    assert [c.entity_types for c in table.cells if c.row == 1] == [["COLUMN_HEADER"]] * 4
    assert all(c.entity_types == [] for c in table.cells if c.row > 1)
    assert " ".join(ruled_page.words[i].text for i in table.title_words) == "Fruit prices"
    # Table and cell boxes: 72 pt from the left, four 110 pt columns (normalized by the 612 pt page width).
    assert table.box[0] == pytest.approx(72 / 612, abs=0.004)
    assert table.box[2] == pytest.approx((72 + 440) / 612, abs=0.004)
    assert table.box[1] == pytest.approx(100 / 792, abs=0.004)
    assert table.box[3] == pytest.approx(212 / 792, abs=0.004)


def test_merged_header_cell():
    rows = [["Fruit", "Stock", "", "Price"], ["", "Store", "Depot", ""], *BODY]
    # "Stock" spans columns 2-3 of row 1; "Fruit" and "Price" each span rows 1-2.
    spans = [((1, 0), (2, 0)), ((0, 0), (0, 1)), ((3, 0), (3, 1))]
    page = Document(_table_pdf(rows, spans), sync=True).page(0, need_image=True)
    tables = find_tables(page)
    assert len(tables) == 1
    table = tables[0]
    assert _shape(table) == (5, 4)
    # Textract's way: every grid position is a CELL of span 1, the merged regions are MERGED_CELLs over them.
    assert all(c.row_span == 1 and c.column_span == 1 for c in table.cells)
    assert sorted((m.row, m.column, m.row_span, m.column_span) for m in table.merged) == [
        (1, 1, 2, 1), (1, 2, 1, 2), (1, 4, 2, 1)]
    grid = _grid(page, table)
    # reportlab centres a spanned cell's text vertically across the span: its words fall in one of the cells.
    assert grid[(1, 2)] + grid[(1, 3)] == "Stock"
    assert grid[(1, 1)] + grid[(2, 1)] == "Fruit"
    assert (grid[(2, 2)], grid[(2, 3)]) == ("Store", "Depot")
    assert [grid[(r, 1)] for r in (3, 4, 5)] == ["Apple", "Banana", "Cherry"]
    merged = {(m.row, m.column): m for m in table.merged}
    stock = merged[(1, 2)]
    assert stock.box[0] == pytest.approx((72 + 110) / 612, abs=0.004)
    assert stock.box[2] == pytest.approx((72 + 330) / 612, abs=0.004)


def test_box_around_a_paragraph_is_not_a_table():
    def draw(pdf) -> None:
        pdf.setFont("Helvetica", 12)
        pdf.rect(72, 500, 400, 80)
        for k, text in enumerate(["This is a note in a box.", "It has two lines of text."]):
            pdf.drawString(80, 560 - 18 * k, text)
        # Two boxes side by side with one word each: still a single row, not a table.
        pdf.rect(72, 300, 200, 40)
        pdf.rect(272, 300, 200, 40)
        pdf.drawString(80, 315, "Signature")
        pdf.drawString(280, 315, "Date")

    page = Document(_pdf(draw), sync=True).page(0, need_image=True)
    assert find_tables(page) == []


def test_unruled_aligned_columns_are_a_semi_structured_table():
    rows = [HEADER, *BODY, ["Date", "Brown", "4", "12.00"]]

    def draw(pdf) -> None:
        pdf.setFont("Helvetica", 12)
        pdf.drawString(72, 700, "A paragraph of running text above the list, which is not part of it.")
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                pdf.drawString(72 + 120 * c, 660 - 20 * r, text)

    page = Document(_pdf(draw), sync=True).page(0, need_image=True)
    tables = find_tables(page)
    assert len(tables) == 1
    table = tables[0]
    assert table.structured is False
    assert _shape(table) == (5, 4)
    grid = _grid(page, table)
    assert grid == {(r + 1, c + 1): rows[r][c] for r in range(5) for c in range(4)}


def test_image_path_ocr_words_in_opencv_grid(ocr_page):
    assert not ocr_page.digital and ocr_page.rules == []
    tables = find_tables(ocr_page)
    assert len(tables) == 1
    table = tables[0]
    assert _shape(table) == (4, 4)
    assert table.merged == []
    grid = {key: text.lower() for key, text in _grid(ocr_page, table).items()}
    expected = [HEADER, *BODY]
    assert grid == {(r + 1, c + 1): expected[r][c].lower() for r in range(4) for c in range(4)}
    assert table.box[0] == pytest.approx(72 / 612, abs=0.006)
    assert table.box[3] == pytest.approx(212 / 792, abs=0.006)


def _reference_tables(name: str) -> list[dict[tuple[int, int], str]]:
    blocks = json.loads((REFERENCE / f"{name}.analyze.json").read_text())["Blocks"]
    by_id = {b["Id"]: b for b in blocks}
    out = []
    for table in (b for b in blocks if b["BlockType"] == "TABLE"):
        cells = {}
        for relation in table["Relationships"]:
            if relation["Type"] != "CHILD":
                continue
            for cell in (by_id[i] for i in relation["Ids"]):
                words = [by_id[j]["Text"] for r in cell.get("Relationships", []) if r["Type"] == "CHILD"
                         for j in r["Ids"] if by_id[j]["BlockType"] == "WORD"]
                cells[(cell["RowIndex"], cell["ColumnIndex"])] = " ".join(words)
        out.append(cells)
    return out


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="reference documents not present")
@pytest.mark.parametrize("name", ["sample-invoice.pdf", "textractor-singlepage-doc.pdf"])
def test_reference_pdf_agrees_with_textract(name):
    page = Document((REFERENCE / name).read_bytes(), sync=True).page(0, need_image=True)
    ours = [_grid(page, t) for t in find_tables(page)]
    theirs = _reference_tables(name)
    assert [(max(r for r, _ in t), max(c for _, c in t)) for t in ours] == \
        [(max(r for r, _ in t), max(c for _, c in t)) for t in theirs]
    for mine, real in zip(ours, theirs):
        agree = sum(1 for key, text in real.items() if mine[key].lower() == text.lower())
        # The invoice's large rotated "Paid" watermark letters fall into two cells of its item table.
        assert agree >= len(real) - 2
