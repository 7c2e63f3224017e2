"""Table structure of one page: ruled grids (from the PDF's ruling lines, or from the image's lines with OpenCV),
horizontally ruled tables whose columns come from the words' alignment, and (heuristic) unruled tables of words
aligned in columns. Answers `Table` records (page.py); blocks.py turns them into TABLE / CELL / MERGED_CELL blocks.

As Amazon Textract does, every grid position is a CELL with RowSpan = ColumnSpan = 1 holding the words whose box
centre lies in it; where a ruling line between grid positions is missing, a MERGED_CELL covers them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.textract.page import Box, Cell, MergedCell, Page, Rule, Table, center, inside

SNAP_PX = 5  # coordinates closer than this (page pixels at 200 dpi) are the same grid line
REACH_PX = 12  # a line ending this close to a crossing line still meets it (drawing slack, inset rules)
MIN_CELL_PX = 8  # grid lines closer than this are one (double rules, a rectangle's two edges)
MIN_RULE_PX = 20  # shorter segments are not ruling lines (tick marks, a thin rectangle's short edges)
COVERED = 0.6  # a grid edge is drawn when segments cover this share of it


@dataclass
class _Seg:
    at: float  # y of a horizontal segment, x of a vertical one (pixels)
    lo: float  # extent along the segment
    hi: float


# ---------------------------------------------------------------------------------------------- entry point


def find_tables(page: Page) -> list[Table]:
    """The page's tables, top to bottom."""
    if not page.words:
        return []
    horizontal, vertical = _segments(page)
    tables = _ruled_tables(page, horizontal, vertical)
    taken = {i for table in tables for cell in table.cells for i in cell.words}
    # Rules that meet a vertical line are boxes or grids, not the across-only rules of a booktabs table.
    across = [h for h in horizontal if not any(_crosses(h, v) for v in vertical)]
    tables += _unruled_tables(page, across, taken, [t.box for t in tables])
    taken = {i for table in tables for cell in table.cells for i in cell.words}
    tables += _aligned_tables(page, taken, [t.box for t in tables])
    tables.sort(key=lambda t: (t.box[1], t.box[0]))
    for table in tables:
        _mark_header(page, table)
        table.title_words = _title(page, table)
    return tables


# ---------------------------------------------------------------------------------------------- ruling lines


def _segments(page: Page) -> tuple[list[_Seg], list[_Seg]]:
    """Horizontal and vertical ruling segments in page pixels, collinear pieces joined."""
    if page.digital:
        pieces = [_from_rule(rule, page) for rule in page.rules]
    elif page.image is not None:
        heights = sorted((w.box[3] - w.box[1]) * page.height for w in page.words)
        pieces = _image_segments(page.image, heights[len(heights) // 2])
    else:
        pieces = []
    horizontal = [s for kind, s in pieces if kind == "h" and s.hi - s.lo >= MIN_RULE_PX]
    vertical = [s for kind, s in pieces if kind == "v" and s.hi - s.lo >= MIN_RULE_PX]
    return _join(horizontal), _join(vertical)


def _from_rule(rule: Rule, page: Page) -> tuple[str, _Seg]:
    x0, x1 = sorted((rule.x0 * page.width, rule.x1 * page.width))
    y0, y1 = sorted((rule.y0 * page.height, rule.y1 * page.height))
    if x1 - x0 >= y1 - y0:
        return "h", _Seg((y0 + y1) / 2, x0, x1)
    return "v", _Seg((x0 + x1) / 2, y0, y1)


def _image_segments(image: np.ndarray, text_height: float) -> list[tuple[str, _Seg]]:
    """Ruling lines of a scanned or photographed page: binarize, then a morphological opening with a long thin
    kernel keeps only runs of ink at least that long (text strokes are shorter: the kernel is longer than twice
    the median word height and a 30th / 40th of the page), one mask per direction."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    # Adaptive threshold: ink clearly darker (by 25 levels) than its 31 px neighbourhood, so that paper tone,
    # shading, and the edge of a light shaded band (only slightly darker than its surroundings) are not ink.
    ink = cv2.adaptiveThreshold(255 - gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 31, -25)
    height, width = gray.shape
    out: list[tuple[str, _Seg]] = []
    text = int(2 * text_height)
    for kind, size in (("h", (max(MIN_RULE_PX, text, width // 30), 1)),
                       ("v", (1, max(MIN_RULE_PX, text, height // 40)))):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, size)
        mask = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
        if kind == "h":  # close one-pixel breaks along a scanned line before measuring it
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (5, 1)))
        else:
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 5)))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for left, top, w, h, _area in stats[1:count]:
            # Thin along its length; a photographed page's lines slant a little (up to about 2 degrees).
            if kind == "h" and h <= max(12, 0.035 * w):
                out.append(("h", _Seg(top + h / 2, left, left + w)))
            elif kind == "v" and w <= max(12, 0.035 * h):
                out.append(("v", _Seg(left + w / 2, top, top + h)))
    return out


def _join(segments: list[_Seg]) -> list[_Seg]:
    """Collinear segments that touch or overlap become one (a rectangle's edges, a dashed or broken line)."""
    out: list[_Seg] = []
    by_line: list[list[_Seg]] = []
    for seg in sorted(segments, key=lambda s: s.at):
        if by_line and seg.at - by_line[-1][-1].at <= SNAP_PX:
            by_line[-1].append(seg)
        else:
            by_line.append([seg])
    for line in by_line:
        at = sum(s.at for s in line) / len(line)
        for seg in sorted(line, key=lambda s: s.lo):
            if out and out[-1].at == at and seg.lo <= out[-1].hi + SNAP_PX:
                out[-1].hi = max(out[-1].hi, seg.hi)
            else:
                out.append(_Seg(at, seg.lo, seg.hi))
    return out


def _crosses(h: _Seg, v: _Seg) -> bool:
    return h.lo - REACH_PX <= v.at <= h.hi + REACH_PX and v.lo - REACH_PX <= h.at <= v.hi + REACH_PX


def _snap(values: list[float], gap: float) -> list[float]:
    """Sorted values with near-equal ones replaced by their mean."""
    groups: list[list[float]] = []
    for value in sorted(values):
        if groups and value - groups[-1][-1] <= gap:
            groups[-1].append(value)
        else:
            groups.append([value])
    return [sum(g) / len(g) for g in groups]


def _coverage(segments: list[_Seg], at: float, lo: float, hi: float) -> float:
    """Share of [lo, hi] on line `at` that segments draw."""
    pieces = sorted((max(lo, s.lo), min(hi, s.hi)) for s in segments
                    if abs(s.at - at) <= SNAP_PX * 1.5 and s.hi > lo and s.lo < hi)
    covered, reach = 0.0, lo
    for a, b in pieces:
        a = max(a, reach)
        if b > a:
            covered += b - a
            reach = b
    return covered / max(hi - lo, 1e-9)


# ---------------------------------------------------------------------------------------------- ruled grids


def _ruled_tables(page: Page, horizontal: list[_Seg], vertical: list[_Seg]) -> list[Table]:
    """Groups of crossing lines, each a grid; one with >= 2 x 2 cells and text in >= 2 of them is a table."""
    parent = list(range(len(horizontal) + len(vertical)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, h in enumerate(horizontal):
        for j, v in enumerate(vertical):
            if _crosses(h, v):
                parent[find(i)] = find(len(horizontal) + j)
    groups: dict[int, tuple[list[_Seg], list[_Seg]]] = {}
    for i, h in enumerate(horizontal):
        groups.setdefault(find(i), ([], []))[0].append(h)
    for j, v in enumerate(vertical):
        groups.setdefault(find(len(horizontal) + j), ([], []))[1].append(v)
    tables = []
    for hs, vs in groups.values():
        if len(hs) < 2 or len(vs) < 2:
            continue
        tables += _grid_table(page, hs, vs)
    return tables


def _grid_table(page: Page, hs: list[_Seg], vs: list[_Seg]) -> list[Table]:
    ys = _snap([h.at for h in hs], MIN_CELL_PX)
    xs = _snap([v.at for v in vs], MIN_CELL_PX)
    tables = []
    for gx, gy in _split(xs, ys, hs, vs):
        table = _one_grid(page, gx, gy, hs, vs)
        if table is not None:
            tables.append(table)
    return tables


def _split(xs: list[float], ys: list[float], hs: list[_Seg], vs: list[_Seg]) -> list[tuple[list, list]]:
    """Connected lines can hold several tables (an invisible page frame, tables sharing an edge): a grid row that
    no inner vertical line crosses, or a grid column that no inner horizontal line crosses, separates two grids
    (and is dropped). Repeated until nothing splits; lines that bound nothing in a part leave it."""
    todo, done = [(xs, ys)], []
    while todo:
        xs, ys = todo.pop()
        if len(xs) < 2 or len(ys) < 2:
            continue
        # Keep only the lines drawn somewhere inside this part (besides its outer frame).
        xs = [x for k, x in enumerate(xs) if k in (0, len(xs) - 1)
              or any(_coverage(vs, x, ys[r], ys[r + 1]) >= COVERED for r in range(len(ys) - 1))]
        ys = [y for k, y in enumerate(ys) if k in (0, len(ys) - 1)
              or any(_coverage(hs, y, xs[c], xs[c + 1]) >= COVERED for c in range(len(xs) - 1))]
        row_runs = _runs(len(ys) - 1, lambda r: len(xs) < 3 or any(
            _coverage(vs, x, ys[r], ys[r + 1]) >= COVERED for x in xs[1:-1]))
        col_runs = _runs(len(xs) - 1, lambda c: len(ys) < 3 or any(
            _coverage(hs, y, xs[c], xs[c + 1]) >= COVERED for y in ys[1:-1]))
        if row_runs == [(0, len(ys) - 2)] and col_runs == [(0, len(xs) - 2)]:
            done.append((xs, ys))
            continue
        for r0, r1 in row_runs:
            for c0, c1 in col_runs:
                todo.append((xs[c0:c1 + 2], ys[r0:r1 + 2]))
    return done


def _runs(count: int, keep) -> list[tuple[int, int]]:
    """Maximal runs (first, last) of indexes 0..count-1 where keep(i) holds."""
    runs, start = [], None
    for i in range(count):
        if keep(i):
            start = i if start is None else start
        elif start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, count - 1))
    return runs


def _one_grid(page: Page, xs: list[float], ys: list[float], hs: list[_Seg], vs: list[_Seg]) -> Table | None:
    if len(xs) == 2 and len(ys) >= 3:
        # Rows ruled, columns not (a list with rules between rows): the columns come from the words' alignment,
        # and a first or last band that runs across those columns (a caption box) is not part of the table.
        bands = [_words_in(page, (xs[0], ys[r], xs[-1], ys[r + 1])) for r in range(len(ys) - 1)]
        inner = _column_gaps(page, bands, xs[0], xs[-1])
        while len(bands) > 2 and _crosses_columns(page, bands[0], inner):
            bands, ys = bands[1:], ys[1:]
        while len(bands) > 2 and _crosses_columns(page, bands[-1], inner):
            bands, ys = bands[:-1], ys[:-1]
        xs = [xs[0], *inner, xs[-1]]
        vs = vs + [_Seg(x, ys[0], ys[-1]) for x in inner]
    words = _words_in(page, (xs[0], ys[0], xs[-1], ys[-1]))
    rows, cols = len(ys) - 1, len(xs) - 1
    if rows < 2 or cols < 2:
        return None
    # Where a grid edge is not drawn, the cells on its two sides are one merged cell.
    join = _Joiner(rows, cols)
    for r in range(rows):
        for c in range(cols - 1):
            if _coverage(vs, xs[c + 1], ys[r], ys[r + 1]) < COVERED:
                join.union((r, c), (r, c + 1))
    for r in range(rows - 1):
        for c in range(cols):
            if _coverage(hs, ys[r + 1], xs[c], xs[c + 1]) < COVERED:
                join.union((r, c), (r + 1, c))
    return _build(page, xs, ys, words, join.regions(), structured=True)


class _Joiner:
    """Union-find over grid positions; regions() are rectangles (an L-shaped union grows to its bounding box)."""

    def __init__(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        self.parent = {(r, c): (r, c) for r in range(rows) for c in range(cols)}

    def find(self, key):
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a, b) -> None:
        self.parent[self.find(a)] = self.find(b)

    def regions(self) -> list[tuple[int, int, int, int]]:
        """(row0, col0, row1, col1) inclusive, for each merged region of more than one position."""
        while True:
            spans: dict = {}
            for (r, c) in self.parent:
                root = self.find((r, c))
                r0, c0, r1, c1 = spans.get(root, (r, c, r, c))
                spans[root] = (min(r0, r), min(c0, c), max(r1, r), max(c1, c))
            grew = False
            for root, (r0, c0, r1, c1) in spans.items():
                for r in range(r0, r1 + 1):
                    for c in range(c0, c1 + 1):
                        if self.find((r, c)) != self.find(root):
                            self.union((r, c), root)
                            grew = True
            if not grew:
                return [s for s in spans.values() if s[0] != s[2] or s[1] != s[3]]


def _build(page: Page, xs: list[float], ys: list[float], words: list[int],
           regions: list[tuple[int, int, int, int]], structured: bool) -> Table | None:
    """A Table from grid lines (pixels): each word to the grid position holding its box centre."""
    rows, cols = len(ys) - 1, len(xs) - 1
    slots: dict[tuple[int, int], list[int]] = {(r, c): [] for r in range(rows) for c in range(cols)}
    anchor = _currency_anchors(page, words)
    for i in words:
        x, y = center(page.words[anchor.get(i, i)].box)
        x, y = x * page.width, y * page.height
        r = min(max(_index(ys, y), 0), rows - 1)
        c = min(max(_index(xs, x), 0), cols - 1)
        slots[(r, c)].append(i)
    # A box around a paragraph, or a grid drawn for layout only, is not a table: text in at least two cells,
    # and not everything in one merged region.
    filled = [key for key, ws in slots.items() if ws]
    if len(filled) < 2:
        return None
    if any((r1 - r0 + 1) * (c1 - c0 + 1) == rows * cols for r0, c0, r1, c1 in regions):
        return None
    if not structured:
        # Heuristic tables must look tabular: most rows (half) with text in two cells or more, and two columns
        # or more with text in two rows or more (form fields under rules have one text per row).
        per_row = [sum(1 for c in range(cols) if slots[(r, c)]) for r in range(rows)]
        per_col = [sum(1 for r in range(rows) if slots[(r, c)]) for c in range(cols)]
        if sum(1 for n in per_row if n >= 2) < 0.5 * rows or sum(1 for n in per_col if n >= 2) < 2:
            return None
    cells = []
    for r in range(rows):
        for c in range(cols):
            box = _norm(page, (xs[c], ys[r], xs[c + 1], ys[r + 1]))
            order = [i for row in _text_rows(page, slots[(r, c)]) for i in sorted(row, key=lambda i: page.words[i].box[0])]
            cells.append(Cell(row=r + 1, column=c + 1, box=box, words=order))
    merged = [MergedCell(row=r0 + 1, column=c0 + 1, row_span=r1 - r0 + 1, column_span=c1 - c0 + 1,
                         box=_norm(page, (xs[c0], ys[r0], xs[c1 + 1], ys[r1 + 1])))
              for r0, c0, r1, c1 in sorted(regions)]
    return Table(box=_norm(page, (xs[0], ys[0], xs[-1], ys[-1])), cells=cells, merged=merged, structured=structured)


CURRENCY = {"$", "€", "£", "¥"}


def _currency_anchors(page: Page, words: list[int]) -> dict[int, int]:
    """A lone currency sign belongs to the number just after it on its line (as Textract keeps "$ 34,155" in one
    cell): sign -> that number's word. OCR often reads "$" as "s" or "S"; those count when a number follows."""
    out = {}
    for i in words:
        sign = page.words[i]
        if sign.text not in CURRENCY and not (not page.digital and sign.text in ("s", "S")):
            continue
        height = sign.box[3] - sign.box[1]
        after = [j for j in words if j != i and abs(center(page.words[j].box)[1] - center(sign.box)[1]) < height / 2
                 and 0 <= page.words[j].box[0] - sign.box[2] <= 3 * height]
        if after:
            j = min(after, key=lambda j: page.words[j].box[0])
            if page.words[j].text[:1].isdigit() or page.words[j].text[:1] == "(":
                out[i] = j
    return out


def _index(edges: list[float], value: float) -> int:
    """The interval of sorted `edges` holding value (-1 before the first, len - 1 after the last)."""
    return sum(1 for e in edges if e <= value) - 1


def _norm(page: Page, box: Box) -> Box:
    return (float(box[0] / page.width), float(box[1] / page.height), float(box[2] / page.width),
            float(box[3] / page.height))


def _words_in(page: Page, box_px: Box) -> list[int]:
    box = _norm(page, box_px)
    return [i for i, w in enumerate(page.words) if inside(center(w.box), box)]


def _column_gaps(page: Page, rows: list[list[int]], left: float, right: float) -> list[float]:
    """Column boundaries (pixels) from the words of a table's rows: x stretches that most rows (60 %) leave blank
    between their words. Heuristic: a stretch must be wider than about a character (1.2 x the median word height)
    so that the spaces between the words of one cell do not split it."""
    rows = [row for row in rows if row]
    words = [i for row in rows for i in row]
    if not words:
        return []
    heights = sorted(page.words[i].box[3] - page.words[i].box[1] for i in words)
    min_gap = 1.2 * heights[len(heights) // 2] * page.height
    lo = int(min(page.words[i].box[0] for i in words) * page.width)
    hi = int(max(page.words[i].box[2] for i in words) * page.width) + 1
    blank = np.zeros(hi - lo, dtype=int)
    for row in rows:
        covered = np.zeros(hi - lo, dtype=bool)
        for i in row:
            a, b = int(page.words[i].box[0] * page.width) - lo, int(page.words[i].box[2] * page.width) + 1 - lo
            covered[max(a, 0):max(b, 0)] = True
        blank += ~covered
    open_ = blank >= max(1, 0.6 * len(rows))
    gaps, start = [], None
    for x in range(len(open_) + 1):
        if x < len(open_) and open_[x]:
            start = x if start is None else start
        elif start is not None:
            if x - start >= min_gap:
                # Inside the stretch, the place the most rows leave blank (a long label may reach into it).
                run = blank[start:x]
                best = run == run.max()
                gaps.append(lo + start + _widest_middle(best))
            start = None
    return [g for g in gaps if left < g < right]


def _widest_middle(flags: np.ndarray) -> float:
    """The middle of the widest run of True in flags."""
    best, best_len, start = 0.0, -1, None
    for x in range(len(flags) + 1):
        if x < len(flags) and flags[x]:
            start = x if start is None else start
        elif start is not None:
            if x - start > best_len:
                best, best_len = (start + x) / 2, x - start
            start = None
    return best


def _crosses_columns(page: Page, words: list[int], gaps: list[float]) -> bool:
    """Whether a word of the band runs across a column boundary."""
    return any(page.words[i].box[0] * page.width < g < page.words[i].box[2] * page.width
               for i in words for g in gaps)


# ---------------------------------------------------------------------------------------------- unruled tables


def _unruled_tables(page: Page, horizontal: list[_Seg], taken: set[int], boxes: list[Box]) -> list[Table]:
    """Tables ruled across only (booktabs: a rule above, one under the header, one below): >= 2 horizontal rules
    of the same extent, stacked, not part of a grid. Rows are the text rows between the first and the last rule
    (the bands between rules where there are rules between all rows); columns come from the words' alignment.
    Heuristic, so SEMI_STRUCTURED."""
    free = [h for h in horizontal if h.hi - h.lo >= 0.1 * page.width
            and not any(_norm(page, (h.lo, h.at, h.hi, h.at))[1] >= b[1] - 0.005
                        and _norm(page, (h.lo, h.at, h.hi, h.at))[1] <= b[3] + 0.005
                        and h.lo / page.width < b[2] and h.hi / page.width > b[0] for b in boxes)]
    free.sort(key=lambda h: h.at)
    groups: list[list[_Seg]] = []
    for h in free:
        for group in groups:
            last = group[-1]
            if abs(last.lo - h.lo) <= REACH_PX * 2 and abs(last.hi - h.hi) <= REACH_PX * 2 \
                    and h.at - last.at <= 0.3 * page.height:
                group.append(h)
                break
        else:
            groups.append([h])
    tables = []
    for group in groups:
        if len(group) < 2:
            continue
        left, right = min(h.lo for h in group), max(h.hi for h in group)
        ys = _snap([h.at for h in group], MIN_CELL_PX)
        words = [i for i in _words_in(page, (left, ys[0], right, ys[-1])) if i not in taken]
        if not words or _text_beside(page, words, left, right):
            continue
        rows = _text_rows(page, words)
        # Each text row is a table row; the rules are row boundaries too (a ruled band holds one or more rows).
        tops = [min(page.words[i].box[1] for i in row) * page.height for row in rows[1:]]
        ys = _snap(ys + [t for t in tops if all(abs(t - y) > MIN_CELL_PX for y in ys)], 1)
        bands = [[i for i in words if ys[r] <= center(page.words[i].box)[1] * page.height < ys[r + 1]]
                 for r in range(len(ys) - 1)]
        gaps = _column_gaps(page, bands, left, right)
        if len(ys) < 3 or not gaps:
            continue
        table = _build(page, [left, *gaps, right], ys, words, [], structured=False)
        if table is not None:
            tables.append(table)
    return tables


def _text_beside(page: Page, words: list[int], left: float, right: float) -> bool:
    """Whether text runs on just beside the ruled stretch (within a word height), on the same rows: the rules
    are then underlines of some columns (a column group's heading), not the whole table's top and bottom."""
    top = min(page.words[i].box[1] for i in words)
    bottom = max(page.words[i].box[3] for i in words)
    height = sorted(page.words[i].box[3] - page.words[i].box[1] for i in words)[len(words) // 2] * page.height
    for w in page.words:
        if w.box[1] < top or w.box[3] > bottom:
            continue
        if left - height <= w.box[2] * page.width <= left + height / 2 and w.box[0] * page.width < left:
            return True
        if right - height / 2 <= w.box[0] * page.width <= right + height and w.box[2] * page.width > right:
            return True
    return False


def _aligned_tables(page: Page, taken: set[int], boxes: list[Box]) -> list[Table]:
    """Heuristic tables with no rules at all: >= 3 text rows (near one another) each in >= 3 pieces separated by
    wide gaps, whose pieces line up in >= 3 columns. Up to two single-piece rows between them (a section heading)
    stay in the table. SEMI_STRUCTURED."""
    free = [i for i, w in enumerate(page.words)
            if i not in taken and not any(inside(center(w.box), b) for b in boxes)]
    rows = _text_rows(page, free)
    table_like = [_pieces(page, row) >= 2 for row in rows]
    tables = []
    k = 0
    while k < len(rows):
        if not table_like[k]:
            k += 1
            continue
        end, last = k, k
        for j in range(k + 1, len(rows)):
            if _row_gap_break(page, rows[j - 1], rows[j], 2.5):
                break
            if table_like[j]:
                last = j
            elif j - last > 2:
                break
        end = last
        block = rows[k:end + 1]
        body = [row for row, like in zip(block, table_like[k:end + 1]) if like]
        # At least three rows in three or more pieces (two pieces alone are as often two page columns).
        if len(body) >= 3 and sum(1 for row in body if _pieces(page, row) >= 3) >= 3:
            words = [i for row in block for i in row]
            left = min(page.words[i].box[0] for i in words) * page.width
            right = max(page.words[i].box[2] for i in words) * page.width
            gaps = _column_gaps(page, body, left, right)
            # Up to three rows just above that fit the columns belong to the table (a label wrapped onto a
            # second line, a heading row).
            start = k
            while start > 0 and k - start < 3 and not _row_gap_break(page, rows[start - 1], rows[start], 1.0) \
                    and all(left - 1 <= page.words[i].box[0] * page.width and page.words[i].box[2] * page.width
                            <= right + 1 for i in rows[start - 1]) \
                    and not _crosses_columns(page, rows[start - 1], gaps):
                start -= 1
            block = _join_wrapped(page, rows[start:end + 1], left, gaps)
            words = [i for row in block for i in row]
            if len(gaps) >= 2:
                ys = [min(page.words[i].box[1] for i in row) * page.height for row in block]
                ys.append(max(page.words[i].box[3] for i in block[-1]) * page.height)
                table = _build(page, [left, *gaps, right], ys, words, [], structured=False)
                if table is not None:
                    tables.append(table)
        k = end + 1
    return tables


def _join_wrapped(page: Page, rows: list[list[int]], left: float, gaps: list[float]) -> list[list[int]]:
    """A row with text in the first column only, followed closely by the next (closer than 0.8 of the block's
    usual row pitch), is a label wrapped onto two lines: one row. Heuristic (line spacing is all it sees)."""
    if len(rows) < 3 or not gaps:
        return rows
    tops = [min(page.words[i].box[1] for i in row) for row in rows]
    pitches = sorted(b - a for a, b in zip(tops, tops[1:]))
    usual = pitches[len(pitches) // 2]
    out = [list(rows[0])]
    last_top = tops[0]
    for row, top in zip(rows[1:], tops[1:]):
        first_only = all(page.words[i].box[2] * page.width < gaps[0] for i in out[-1])
        if first_only and top - last_top < 0.8 * usual:
            out[-1] += row
        else:
            out.append(list(row))
        last_top = top
    return out


def _pieces(page: Page, row: list[int]) -> int:
    """Stretches of a text row separated by gaps wider than 1.5 word heights."""
    words = sorted(row, key=lambda i: page.words[i].box[0])
    count = 1
    for a, b in zip(words, words[1:]):
        height = max(page.words[a].box[3] - page.words[a].box[1], page.words[b].box[3] - page.words[b].box[1])
        if (page.words[b].box[0] - page.words[a].box[2]) * page.height > 1.5 * height * page.height:
            count += 1
    return count


def _row_gap_break(page: Page, above: list[int], below: list[int], lines: float) -> bool:
    """Rows more than `lines` line heights apart are not one table."""
    bottom = max(page.words[i].box[3] for i in above)
    top = min(page.words[i].box[1] for i in below)
    height = max(page.words[i].box[3] - page.words[i].box[1] for i in above)
    return top - bottom > lines * height


def _text_rows(page: Page, words: list[int]) -> list[list[int]]:
    """Words in rows, top to bottom: words whose vertical extents overlap by half share a row."""
    order = sorted(words, key=lambda i: page.words[i].box[1])
    rows: list[list[int]] = []
    spans: list[tuple[float, float]] = []
    for i in order:
        top, bottom = page.words[i].box[1], page.words[i].box[3]
        if spans:
            t, b = spans[-1]
            if min(b, bottom) - max(t, top) > 0.5 * min(b - t, bottom - top):
                rows[-1].append(i)
                spans[-1] = (min(t, top), max(b, bottom))
                continue
        rows.append([i])
        spans.append((top, bottom))
    return rows


# ---------------------------------------------------------------------------------------------- header, title


def _cell_text(page: Page, cell: Cell) -> str:
    return " ".join(page.words[i].text for i in cell.words)


def _mark_header(page: Page, table: Table) -> None:
    """COLUMN_HEADER on the first row. Heuristic: every first-row cell has text and none has a digit, while some
    later cell has one (labels above numbers or codes), in a table of at least two rows."""
    first = [c for c in table.cells if c.row == 1]
    body = [c for c in table.cells if c.row > 1]
    if not body or not all(c.words for c in first):
        return
    if any(ch.isdigit() for c in first for ch in _cell_text(page, c)):
        return
    if not any(ch.isdigit() for c in body for ch in _cell_text(page, c)):
        return
    for cell in first:
        cell.entity_types.append("COLUMN_HEADER")


def _title(page: Page, table: Table) -> list[int]:
    """TABLE_TITLE: a short line (at most 12 words) directly above the table, within 1.5 of its own heights,
    overlapping the table horizontally and not inside it."""
    inside_words = {i for cell in table.cells for i in cell.words}
    best, best_gap = [], None
    for line in page.lines:
        if any(i in inside_words for i in line.words) or len(line.words) > 12:
            continue
        box = line.box(page)
        height = box[3] - box[1]
        gap = table.box[1] - box[3]
        if not (-0.3 * height <= gap <= 1.5 * height):
            continue
        if box[2] < table.box[0] or box[0] > table.box[2]:
            continue
        if best_gap is None or gap < best_gap:
            best, best_gap = list(line.words), gap
    return best
