"""AnalyzeExpense: invoices and receipts read into SummaryFields and LineItemGroups. A heuristic on the page's
lines, key-value pairs and tables — no learned expense model installs here:

- Summary fields: a line (or key-value pair) whose label matches a field's label words (TOTAL, SUBTOTAL, TAX,
  INVOICE_RECEIPT_ID, INVOICE_RECEIPT_DATE, DUE_DATE, PO_NUMBER, AMOUNT_PAID, DISCOUNT, ...) gives that field with
  the label's and the value's text and geometry; VENDOR_NAME is the first line of the page set in the largest type
  (no label); a date anywhere on the page is INVOICE_RECEIPT_DATE when no labelled date is found; VENDOR_PHONE from
  a phone-number pattern.
- Line items: rows of a table whose header names item / quantity / price columns; else receipt lines that end in
  an amount and are not summary lines, each with the next line when that one holds only a product code or
  "N X unit price" (as receipts print them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.textract.blocks import geometry, plain
from services.textract.page import Box, Page, Table, union

_AMOUNT = re.compile(r"^[-(]?[$€£¥₱P]?\s?\d{1,3}(?:[,\s]?\d{3})*(?:[.,]\d{2})[)]?$")
_AMOUNT_WORD = re.compile(r"^[-(]?[$€£¥₱]?\d[\d,]*[.,]\d{2}\)?$")
_DATE = re.compile(r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2}|"
                   r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}|"
                   r"\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{4})\b", re.IGNORECASE)
_PHONE = re.compile(r"(?:\+?\d{1,2}[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}\b")
_CODE = re.compile(r"^\d{8,14}$")
_QUANTITY_LINE = re.compile(r"^(\d+(?:\.\d+)?)\s*[xX@]\s*(\S+)")
# Label words of each summary field, most specific first (a "subtotal" line is not a TOTAL).
_LABELS: list[tuple[str, re.Pattern]] = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
    ("SUBTOTAL", r"^sub\s*-?\s*total\b"),
    ("DUE_DATE", r"^(?:payment\s+)?due\s+date\b|^date\s+due\b"),
    ("INVOICE_RECEIPT_DATE", r"^(?:invoice\s+|receipt\s+|order\s+|issue\s+)?date\b"),
    ("INVOICE_RECEIPT_ID", r"^(?:invoice|receipt|bill|inv)\s*(?:no\.?|number|#|id)\b|^(?:invoice|receipt)\s*#"),
    ("PO_NUMBER", r"^(?:p\.?o\.?|purchase\s+order|order)\s*(?:no\.?|number|#)\b"),
    ("TAX", r"^(?:sales\s+)?(?:tax|vat|gst|hst)\b"),
    ("DISCOUNT", r"^discount\b"),
    ("AMOUNT_PAID", r"^(?:amount\s+paid|paid|cash|payment)\b"),
    ("AMOUNT_DUE", r"^(?:amount|balance|total)\s+due\b"),
    ("TOTAL", r"^(?:grand\s+)?total\b|^amount\b"),
    ("TIP", r"^(?:tip|gratuity)\b"),
    ("SERVICE_CHARGE", r"^service\s+charge\b"),
)]
_DOCUMENT_TITLE = re.compile(r"^(?:tax\s+)?(?:invoice|receipt|bill|statement|quote|quotation)\b", re.IGNORECASE)
_SUMMARY_WORDS = re.compile(r"\b(total|subtotal|tax|vat|change|cash|amount|balance|due|paid|tender|discount|vatable|"
                            r"items?\s+sold)\b", re.IGNORECASE)
_HEADERS = {"ITEM": re.compile(r"description|item|product|service|particulars", re.IGNORECASE),
            "QUANTITY": re.compile(r"^(qty|quantity|hrs|hours|units?)\b", re.IGNORECASE),
            "UNIT_PRICE": re.compile(r"unit\s*price|rate|price\s*/\s*unit|unit\s*cost", re.IGNORECASE),
            "PRICE": re.compile(r"amount|total|price|line\s*total|cost", re.IGNORECASE)}


@dataclass
class _Span:
    text: str
    box: Box
    confidence: float


def _span(page: Page, words: list[int]) -> _Span:
    return _Span(" ".join(page.words[i].text for i in words), union(page.words[i].box for i in words),
                 min((page.words[i].confidence for i in words), default=0.0))


def _detection(span: _Span) -> dict:
    return {"Text": span.text, "Geometry": geometry(span.box), "Confidence": round(span.confidence, 3)}


def _field(kind: str, value: _Span, label: _Span | None, page_number: int, confidence: float = 80.0) -> dict:
    field = {"Type": {"Text": kind, "Confidence": confidence}}
    if label is not None:
        field["LabelDetection"] = _detection(label)
    field["ValueDetection"] = _detection(value)
    currency = _currency(value.text)
    if currency:
        field["Currency"] = {"Code": currency, "Confidence": confidence}
    field["PageNumber"] = page_number
    return field


def _currency(text: str) -> str | None:
    for symbol, code in (("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("₱", "PHP")):
        if symbol in text:
            return code
    return None


def summary_fields(page: Page, item_words: set[int] = frozenset()) -> list[dict]:
    fields: list[dict] = []
    found: set[str] = set()
    for line in page.lines:
        words = line.words
        texts = [page.words[i].text for i in words]
        for kind, pattern in _LABELS:
            if kind in found or not pattern.match(" ".join(texts)):
                continue
            split = _label_end(texts)
            if split is None or split >= len(words):  # the value is the next line to the right, if any
                neighbour = _right_neighbour(page, line)
                if neighbour is None:
                    continue
                label_words, value_words = words[:split] if split else words, neighbour.words
            else:
                label_words, value_words = words[:split], words[split:]
            texts = [page.words[i].text for i in value_words]
            value = _span(page, value_words)
            if kind in ("INVOICE_RECEIPT_DATE", "DUE_DATE") and not _DATE.search(value.text):
                continue
            if kind in ("TOTAL", "SUBTOTAL", "TAX", "AMOUNT_DUE", "AMOUNT_PAID", "DISCOUNT", "TIP", "SERVICE_CHARGE") \
                    and not _AMOUNT_WORD.match(texts[-1].replace(" ", "")):
                continue
            fields.append(_field(kind, value, _span(page, label_words), page.number))
            found.add(kind)
            break
    vendor = _vendor(page, item_words)
    if vendor is not None:
        fields.insert(0, _field("VENDOR_NAME", vendor, None, page.number, confidence=60.0))
    if "INVOICE_RECEIPT_DATE" not in found:
        for line in page.lines:
            match = _DATE.search(line.text(page))
            if match:
                words = [i for i in line.words if page.words[i].text in match.group(0) or
                         any(part in page.words[i].text for part in match.group(0).split())]
                if words:
                    fields.append(_field("INVOICE_RECEIPT_DATE", _span(page, words), None, page.number, 60.0))
                break
    for line in page.lines:
        match = _PHONE.search(line.text(page))
        if match:
            words = [i for i in line.words if page.words[i].text in match.group(0)]
            if words:
                fields.append(_field("VENDOR_PHONE", _span(page, words), None, page.number, 60.0))
            break
    return fields


def _right_neighbour(page: Page, line):
    """The nearest line to the right of `line` on the same baseline band."""
    left, top, right, bottom = line.box(page)
    best = None
    for other in page.lines:
        o_left, o_top, _, o_bottom = other.box(page)
        overlap = min(bottom, o_bottom) - max(top, o_top)
        if other is not line and o_left > right and overlap > 0.5 * min(bottom - top, o_bottom - o_top):
            if best is None or o_left < best.box(page)[0]:
                best = other
    return best


def _label_end(texts: list[str]) -> int | None:
    """Where a "Label: value" or "Label value" line's value starts: after the word ending in ':', else before the
    first word holding a digit or a currency sign."""
    for i, text in enumerate(texts):
        if text.endswith(":"):
            return i + 1
    for i, text in enumerate(texts):
        if i > 0 and re.search(r"[\d$€£¥₱#]", text):
            return i
    return None


def _vendor(page: Page, item_words: set[int]) -> _Span | None:
    """The tallest line near the top that is no line item's, no document title and holds no digits."""
    top = [line for line in page.lines if line.box(page)[1] < 0.25 and not set(line.words) & item_words
           and not _DOCUMENT_TITLE.match(line.text(page)) and not re.search(r"\d", line.text(page))
           and not line.text(page).endswith(":")]
    if not top:
        return None
    tallest = max(top, key=lambda line: line.box(page)[3] - line.box(page)[1])
    return _span(page, tallest.words)


def line_items(page: Page, tables: list[Table]) -> list[list[dict]]:
    """Each line item: its LineItemExpenseFields."""
    for table in tables:
        items = _table_items(page, table)
        if items:
            return items
    return _receipt_items(page)


def _table_items(page: Page, table: Table) -> list[list[dict]]:
    header = {cell.column: " ".join(page.words[i].text for i in cell.words) for cell in table.cells if cell.row == 1}
    columns: dict[int, str] = {}
    for column, text in header.items():
        for kind in ("UNIT_PRICE", "QUANTITY", "ITEM", "PRICE"):
            if _HEADERS[kind].search(text) and kind not in columns.values():
                columns[column] = kind
                break
    if "ITEM" not in columns.values() or "PRICE" not in columns.values():
        return []
    label_of = {column: _span(page, next(c for c in table.cells if c.row == 1 and c.column == column).words)
                for column in columns}
    items = []
    for row in sorted({cell.row for cell in table.cells if cell.row > 1}):
        cells = {cell.column: cell for cell in table.cells if cell.row == row and cell.words}
        if not any(columns.get(c) == "ITEM" for c in cells):
            continue
        fields = [_field(columns[c], _span(page, cells[c].words), label_of[c], page.number)
                  for c in sorted(cells) if c in columns]
        row_words = [i for c in sorted(cells) for i in cells[c].words]
        row = _field("EXPENSE_ROW", _span(page, row_words), None, page.number)
        row["_words"] = row_words  # taken off before the answer (expense_document)
        fields.append(row)
        items.append(fields)
    return items


def _rows(page: Page) -> list[list[int]]:
    """The page's words in printed rows: lines that share a baseline band (a receipt's item and its price are
    separate lines, far apart), left to right."""
    rows: list[tuple[float, float, list[int]]] = []
    for line in sorted(page.lines, key=lambda line: line.box(page)[1]):
        _, top, _, bottom = line.box(page)
        for n, (row_top, row_bottom, words) in enumerate(rows):
            overlap = min(bottom, row_bottom) - max(top, row_top)
            if overlap > 0.5 * min(bottom - top, row_bottom - row_top):
                rows[n] = (min(top, row_top), max(bottom, row_bottom), words + line.words)
                break
        else:
            rows.append((top, bottom, list(line.words)))
    return [sorted(words, key=lambda i: page.words[i].box[0]) for _, _, words in rows]


def _price_start(texts: list[str]) -> int | None:
    """Where a row's closing amount starts (an amount, maybe followed by a one- or two-letter tax code)."""
    for k in range(len(texts) - 1, max(len(texts) - 3, -1), -1):
        if _AMOUNT_WORD.match(texts[k]) and all(len(t) <= 2 and t.isalpha() for t in texts[k + 1:]):
            return k
    return None


def _receipt_items(page: Page) -> list[list[dict]]:
    """Receipt rows: an item row (letters), then rows with only its product code or "N X unit price", the price
    on one of them; summary rows (totals, tax, cash) end the list of items they interrupt."""
    items: list[dict] = []
    current: dict | None = None

    def close() -> None:
        if current is not None and current.get("price"):
            items.append(current)

    for words in _rows(page):
        texts = [page.words[i].text for i in words]
        joined = " ".join(texts)
        codes = [i for i in words if _CODE.match(page.words[i].text)]
        quantity = _QUANTITY_LINE.match(joined)
        price_at = _price_start(texts)
        price = words[price_at:] if price_at is not None else []
        rest = [i for i in words[:price_at] if i not in codes] if price_at is not None else \
            [i for i in words if i not in codes]
        if _SUMMARY_WORDS.search(joined):
            close()
            current = None
            continue
        if current is not None and not current.get("price") or current is not None and (quantity or not rest):
            # A continuation row of the item above: its code, its quantity line, its price.
            if quantity or not rest:
                current["rows"] += words
                current["codes"] = current["codes"] or codes
                if quantity:
                    current["quantity"] = words[:1]
                    current["unit_price"] = words[2:3]
                current["price"] = current["price"] or price
                continue
        if rest and any(re.search(r"[A-Za-z]", page.words[i].text) for i in rest):
            close()
            current = {"item": rest, "price": price, "codes": codes, "rows": list(words), "quantity": [],
                       "unit_price": []}
    close()
    result = []
    for item in items:
        fields = [_field("ITEM", _span(page, item["item"]), None, page.number),
                  _field("PRICE", _span(page, item["price"]), None, page.number)]
        if item["quantity"]:
            fields.append(_field("QUANTITY", _span(page, item["quantity"]), None, page.number))
        if item["unit_price"]:
            fields.append(_field("UNIT_PRICE", _span(page, item["unit_price"]), None, page.number))
        if item["codes"]:
            fields.append(_field("PRODUCT_CODE", _span(page, item["codes"]), None, page.number))
        row = _field("EXPENSE_ROW", _span(page, item["rows"]), None, page.number)
        row["_words"] = item["rows"]  # taken off before the answer (expense_document)
        fields.append(row)
        result.append(fields)
    return result


def expense_document(page: Page, tables: list[Table], index: int, blocks: list[dict]) -> dict:
    items = line_items(page, tables)
    item_words = {i for fields in items for field in fields if field["Type"]["Text"] == "EXPENSE_ROW"
                  for i in field.pop("_words", [])}
    groups = [{"LineItemGroupIndex": 1, "LineItems": [{"LineItemExpenseFields": fields} for fields in items]}] \
        if items else []
    return plain({"ExpenseIndex": index, "SummaryFields": summary_fields(page, item_words), "LineItemGroups": groups,
                  "Blocks": blocks})
