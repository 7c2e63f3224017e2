"""What the feature modules (tables, forms, layout, queries) work on: one page of a document, its words and lines
with normalized geometry, the rendered image where there is one, and the ruling lines of a born-digital page.

Coordinates are AWS's: fractions of the page's width and height, origin at the top left. Every feature module is
a function of a Page and answers plain records (below); `blocks.py` alone turns them into Textract Blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]  # left, top, right, bottom (normalized)
Point = tuple[float, float]  # x, y (normalized)


@dataclass
class Word:
    text: str
    box: Box
    confidence: float  # 0..100
    polygon: list[Point] | None = None  # 4 points clockwise from the top left; None: the box's corners
    text_type: str = "PRINTED"


@dataclass
class Line:
    words: list[int]  # indexes into Page.words, in reading order
    confidence: float  # 0..100

    def text(self, page: "Page") -> str:
        return " ".join(page.words[i].text for i in self.words)

    def box(self, page: "Page") -> Box:
        return union(page.words[i].box for i in self.words)


@dataclass
class Rule:
    """A ruling line of a born-digital page (from the PDF's lines and rectangle edges), normalized."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class Page:
    number: int  # 1-based
    width: int  # pixels of `image` (or PDF points x 200/72 for a digital page without an image)
    height: int
    words: list[Word] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)  # in reading order; every word is in exactly one line
    image: np.ndarray | None = None  # RGB uint8, height x width; None only when no feature needs pixels
    digital: bool = False  # words come from the PDF's text layer (exact), not from OCR
    rules: list[Rule] = field(default_factory=list)  # born-digital pages only
    rotation: int = 0  # degrees the page was turned (clockwise) before reading, 0/90/180/270
    polygon: list[Point] | None = None  # the page's outline in the image (None: the whole image)


# ---------------------------------------------------------------- what the feature modules answer


@dataclass
class Cell:
    row: int  # 1-based
    column: int
    box: Box
    words: list[int]  # indexes into Page.words
    row_span: int = 1
    column_span: int = 1
    confidence: float = 90.0
    entity_types: list[str] = field(default_factory=list)  # COLUMN_HEADER, TABLE_TITLE, TABLE_FOOTER, ...


@dataclass
class MergedCell:
    row: int
    column: int
    row_span: int
    column_span: int
    box: Box
    confidence: float = 90.0


@dataclass
class Table:
    box: Box
    cells: list[Cell]  # every (row, column) of the grid exactly once; a merged region's cells each appear
    merged: list[MergedCell] = field(default_factory=list)
    title_words: list[int] = field(default_factory=list)  # TABLE_TITLE, when a line just above names the table
    footer_words: list[int] = field(default_factory=list)  # TABLE_FOOTER
    structured: bool = True  # EntityTypes STRUCTURED_TABLE vs SEMI_STRUCTURED_TABLE
    confidence: float = 90.0


@dataclass
class SelectionMark:
    box: Box
    selected: bool
    confidence: float = 90.0


@dataclass
class KeyValue:
    key_words: list[int]
    key_box: Box
    value_words: list[int]  # may be empty (an unfilled field)
    value_box: Box
    value_marks: list[int] = field(default_factory=list)  # indexes into the page's SelectionMarks
    confidence: float = 90.0


@dataclass
class Forms:
    pairs: list[KeyValue]
    marks: list[SelectionMark]  # every checkbox / radio button found, paired or not


@dataclass
class LayoutRegion:
    kind: str  # LAYOUT_TITLE, LAYOUT_HEADER, LAYOUT_FOOTER, LAYOUT_SECTION_HEADER, LAYOUT_PAGE_NUMBER,
    # LAYOUT_LIST, LAYOUT_FIGURE, LAYOUT_TABLE, LAYOUT_KEY_VALUE, LAYOUT_TEXT
    box: Box
    lines: list[int]  # indexes into Page.lines
    confidence: float = 80.0


@dataclass
class QueryAnswer:
    text: str
    box: Box | None
    confidence: float


# ---------------------------------------------------------------- geometry helpers


def union(boxes) -> Box:
    boxes = list(boxes)
    if not boxes:
        return (0.0, 0.0, 0.0, 0.0)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def center(box: Box) -> Point:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def inside(point: Point, box: Box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def iou(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    return overlap / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap)
