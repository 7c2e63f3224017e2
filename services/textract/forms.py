"""FORMS: key-value pairs and selection elements (checkboxes) of one Page, by heuristics, not a learned model.

Selection elements (`find_marks`) are found on the page's pixels with OpenCV: the ink's long horizontal and
vertical strokes (a morphological opening keeps those and drops letters, hand-drawn X's and diagonal ticks) form
frames; a frame counts as a checkbox when it is a square of checkbox size (scaled by the page's size), inked along
all four sides, not a cell of a ruled grid (its edges do not run on past its corners) and not a letter or a box
holding text (no word of the page lies inside it, on a born-digital page no word touches it). It is SELECTED when
its interior, the frame left out, holds ink.

Key-value pairs (`find_pairs`), in this order, each word used at most once:
  * a checkbox and the label word(s) right beside it (right, else left): KEY = the label, VALUE = the mark;
  * "Label: value": a word ending in ':' closes a key phrase (the words just before it on its line, of the same
    size and closely spaced); the value is the words that follow on the same row (the same OCR line or not, as OCR
    often reads a handwritten value as a line of its own), up to the next key or a wide gap;
  * a "Label:" with nothing after it is an unfilled field (empty value just right of the key) where there is room
    to write: an underline or a ruling line runs to its right; else, when lines just below it start under it
    (an address block under "From:"), those lines are the value;
  * a label and a value on the same baseline separated by a wide gap, no colon ("Invoice Number    INV-3337"):
    only where the row holds just those two, the label is short and has no digits, and the value has a digit or
    a currency sign (so that two-column prose and table rows do not turn into pairs).

`acroform_fields` reads the filled-in fields of a born-digital PDF's AcroForm exactly (pypdf), for the caller to
turn into pairs.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

from services.textract.page import Box, Forms, KeyValue, Page, SelectionMark, Word, union

# Checkbox size at 200 dpi on a letter-sized page, in pixels; scaled by the page's size for other renderings.
MIN_SIDE_PX = 24
MAX_SIDE_PX = 110
REFERENCE_LONG_SIDE_PX = 2200  # 11 in at 200 dpi
FRAME_COVERAGE = 0.8  # each side of a frame inked along at least this fraction of its length
MAX_FRAME_THICKNESS = 0.17  # stroke width over side: thicker is a bold letter, not a frame
SELECTED_INK = 0.05  # interior ink fraction from which a checkbox is SELECTED
MARK_CHARACTERS = set("xX✓✔✗✘☑☒■☐□▢vV")  # a word that is the check inside a box, not text beside it
CHECKED_CHARACTERS = set("xX✓✔✗✘☑☒■vV")


# ------------------------------------------------------------------------------------------ entry points


def find_forms(page: Page) -> Forms:
    """The page's checkboxes and key-value pairs (heuristics; see the module's docstring)."""
    marks = find_marks(page)
    return Forms(pairs=find_pairs(page, marks), marks=marks)


# ------------------------------------------------------------------------------------------ checkboxes


def _ink(gray: np.ndarray) -> np.ndarray:
    """Ink as 255: darker than its neighbourhood (copes with a photo's uneven light and with light-coloured
    frames) or plainly dark (the inside of a filled box, which a local threshold alone would call paper)."""
    import cv2

    local = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 51, 25)
    dark = (gray < 110).astype(np.uint8) * 255
    return cv2.bitwise_or(local, dark)


def find_marks(page: Page) -> list[SelectionMark]:
    """Square checkboxes on `page.image` (none without an image)."""
    import cv2

    if page.image is None:
        return []
    gray = cv2.cvtColor(np.ascontiguousarray(page.image), cv2.COLOR_RGB2GRAY)
    height, width = gray.shape
    scale = max(height, width) / REFERENCE_LONG_SIDE_PX
    min_side = max(12, int(round(MIN_SIDE_PX * scale)))
    max_side = max(min_side + 1, int(round(MAX_SIDE_PX * scale)))
    ink = _ink(gray)
    # Keep strokes at least ~60% of the smallest side long: frames stay, letters and diagonal ticks go.
    k = max(5, int(min_side * 0.6))
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    frames = cv2.bitwise_or(horizontal, vertical)
    # Every contour, holes included: a checkbox drawn inside a table cell is a contour nested in the grid's.
    contours, _ = cv2.findContours(frames, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    found: list[tuple[int, int, int, int, bool]] = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if not (min_side <= min(w, h) and max(w, h) <= 1.8 * max_side):
            continue
        # A hand-drawn X often runs out of its box and merges with the frame: snap to the frame's own lines.
        x, y, w, h = _snap(horizontal, vertical, x, y, w, h)
        if not (min_side <= w <= max_side and min_side <= h <= max_side and 0.8 <= w / h <= 1.25):
            continue
        if (not _straight(horizontal, vertical, x, y, w, h) or not _is_frame(ink, x, y, w, h)
                or _in_grid(ink, x, y, w, h)):
            continue
        interior = _interior_ink(ink, x, y, w, h)
        # A frame is a thin line; a bold letter of a small print ("n", "O") is a thick one. (A box filled solid
        # is a checkbox all the same.)
        if _thickness(ink, x, y, w, h) > MAX_FRAME_THICKNESS and interior < 0.9:
            continue
        found.append((x, y, w, h, interior > SELECTED_INK))
    # A frame's outer contour and its hole are both squares: keep the outer (larger) one of overlapping ones.
    found.sort(key=lambda f: -f[2] * f[3])
    kept: list[tuple[int, int, int, int, bool]] = []
    for f in found:
        if all(not _overlaps(f, k) for k in kept):
            kept.append(f)
    marks = []
    for x, y, w, h, selected in kept:
        box = (x / width, y / height, (x + w) / width, (y + h) / height)
        verdict = _text_verdict(page, box)
        if verdict == "text":
            continue
        if verdict == "checked":
            selected = True
        marks.append(SelectionMark(box=box, selected=selected, confidence=90.0 if not selected else 88.0))
    marks.sort(key=lambda m: (round(m.box[1], 2), m.box[0]))
    return marks


def _snap(horizontal: np.ndarray, vertical: np.ndarray, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    """The rectangle between the outermost long horizontal and vertical strokes inside (x, y, w, h)."""
    run = 0.5 * min(w, h)
    rows = np.flatnonzero((horizontal[y:y + h, x:x + w] > 0).sum(axis=1) >= run)
    columns = np.flatnonzero((vertical[y:y + h, x:x + w] > 0).sum(axis=0) >= run)
    if rows.size < 2 or columns.size < 2:
        return x, y, 0, 0
    return x + int(columns[0]), y + int(rows[0]), int(columns[-1] - columns[0]) + 1, int(rows[-1] - rows[0]) + 1


def _straight(horizontal: np.ndarray, vertical: np.ndarray, x: int, y: int, w: int, h: int) -> bool:
    """Each edge is a straight stroke: some row (column) near it is inked for 80% of the side. A round letter's
    top is a curve whose every row is short."""
    t = _band(min(w, h))
    edges = [(horizontal[y:y + t, x:x + w] > 0).sum(axis=1), (horizontal[y + h - t:y + h, x:x + w] > 0).sum(axis=1),
             (vertical[y:y + h, x:x + t] > 0).sum(axis=0), (vertical[y:y + h, x + w - t:x + w] > 0).sum(axis=0)]
    return all(edge.size and edge.max() >= 0.8 * side for edge, side in zip(edges, (w, w, h, h)))


def _thickness(ink: np.ndarray, x: int, y: int, w: int, h: int) -> float:
    """The frame's stroke width over its side: the median ink run from each edge inward, over the middle third of
    each side (where an X drawn inside does not reach)."""
    runs = []
    box = ink[y:y + h, x:x + w] > 0
    for line in list(box[:, w // 3:2 * w // 3].T) + list(box[h // 3:2 * h // 3, :]):
        for run in (line, line[::-1]):
            runs.append(int(np.argmin(run)) if not run.all() else run.size)
    return float(np.median(runs)) / min(w, h) if runs else 1.0


def _band(w: int) -> int:
    """How far from a frame's edge its stroke may lie (line thickness and a little slant)."""
    return max(2, int(round(w * 0.12)))


def _is_frame(ink: np.ndarray, x: int, y: int, w: int, h: int) -> bool:
    t = _band(min(w, h))
    sides = [ink[y:y + t, x:x + w].any(axis=0), ink[y + h - t:y + h, x:x + w].any(axis=0),
             ink[y:y + h, x:x + t].any(axis=1), ink[y:y + h, x + w - t:x + w].any(axis=1)]
    if not all(side.size and side.mean() >= FRAME_COVERAGE for side in sides):
        return False
    # Square corners: a round letter ("o", "O", "D") leaves its bounding square's corners blank.
    corners = [ink[y:y + t, x:x + t], ink[y:y + t, x + w - t:x + w], ink[y + h - t:y + h, x:x + t],
               ink[y + h - t:y + h, x + w - t:x + w]]
    if not all(corner.any() for corner in corners):
        return False
    # The frame is the outline: just outside it lies mostly paper. (A thick letter's hole, like the inside of a
    # bold "o", has square-ish inked corners, but the letter's stroke surrounds it.)
    rows, cols = ink.shape
    ring = np.concatenate([ink[max(y - 3, 0):max(y - 1, 0), x:x + w].ravel(),
                           ink[y + h + 1:min(y + h + 3, rows), x:x + w].ravel(),
                           ink[y:y + h, max(x - 3, 0):max(x - 1, 0)].ravel(),
                           ink[y:y + h, x + w + 1:min(x + w + 3, cols)].ravel()])
    return ring.size == 0 or (ring > 0).mean() < 0.5


def _in_grid(ink: np.ndarray, x: int, y: int, w: int, h: int) -> bool:
    """A table cell or a box on a ruled line: one of its edges runs on, nearly unbroken, past a corner."""
    t = _band(min(w, h))
    reach = max(4, w // 2)
    rows, cols = ink.shape
    runs = []
    for top in (y, y + h - t):  # horizontal edges, left and right of the square
        band = ink[max(top, 0):top + t]
        runs += [band[:, max(x - reach, 0):x].any(axis=0), band[:, x + w:min(x + w + reach, cols)].any(axis=0)]
    for left in (x, x + w - t):  # vertical edges, above and below
        band = ink[:, max(left, 0):left + t]
        runs += [band[max(y - reach, 0):y].any(axis=1), band[y + h:min(y + h + reach, rows)].any(axis=1)]
    return any(run.size >= reach * 0.8 and run.mean() > 0.9 for run in runs)


def _interior_ink(ink: np.ndarray, x: int, y: int, w: int, h: int) -> float:
    margin_x, margin_y = max(3, int(w * 0.2)), max(3, int(h * 0.2))
    inside = ink[y + margin_y:y + h - margin_y, x + margin_x:x + w - margin_x]
    return float((inside > 0).mean()) if inside.size else 0.0


def _overlaps(a, b) -> bool:
    ax, ay, aw, ah = a[:4]
    bx, by, bw, bh = b[:4]
    width = min(ax + aw, bx + bw) - max(ax, bx)
    height = min(ay + ah, by + bh) - max(ay, by)
    return width > 0 and height > 0 and width * height > 0.3 * min(aw * ah, bw * bh)


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _intersection(a: Box, b: Box) -> float:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def _text_verdict(page: Page, box: Box) -> str:
    """'text' when the square is a letter or a box holding text, 'checked' when the word in it is a check mark
    (an X typed into a box), else 'ok'. A digital page's words are exact, so any word touching the square counts;
    OCR often reads a hand-drawn X as letters, alone or with the label beside it ("ON", "XYes"), so there only a
    word lying wholly inside the square counts."""
    verdict = "ok"
    for word in page.words:
        overlap = _intersection(word.box, box)
        if overlap <= 0:
            continue
        inside = overlap / max(_area(word.box), 1e-12)
        text = word.text.strip()
        if text and all(ch in MARK_CHARACTERS for ch in text) and len(text) <= 2 and inside > 0.5:
            verdict = "checked" if any(ch in CHECKED_CHARACTERS for ch in text) else verdict
            continue
        if page.digital:
            if overlap > 0.1 * _area(box) or inside > 0.3:
                return "text"
        elif inside > 0.9:  # OCR reads an X as letters ("ON") that spill over the frame: only a word held whole
            return "text"
    return verdict


# ------------------------------------------------------------------------------------------ key-value pairs


def _height(word: Word) -> float:
    return word.box[3] - word.box[1]


def _same_row(a: Box, b: Box) -> bool:
    """b's vertical centre lies within a's band (a little widened), or b spans most of a's height: handwriting
    sits above or below the label's baseline, so overlap alone is too strict and too loose at once."""
    middle = (b[1] + b[3]) / 2
    slack = 0.35 * (a[3] - a[1])
    if a[1] - slack <= middle <= a[3] + slack:
        return True
    # A tall handwritten value around a small printed label: b spans most of a's height.
    return min(a[3], b[3]) - max(a[1], b[1]) >= 0.6 * (a[3] - a[1])


def _similar_size(a: Word, b: Word) -> bool:
    ratio = _height(a) / max(_height(b), 1e-9)
    return 0.6 <= ratio <= 1.6


def _ink_height(ink: np.ndarray | None, box: Box) -> float:
    """The height (normalized) of the ink inside a word's box. OCR gives every word of a line the line's height,
    so a handwritten value read in one line with the next printed label ("ALEJANDRO Last Name:") shows its size
    only in the pixels."""
    if ink is None:
        return box[3] - box[1]
    rows, cols = ink.shape
    top, bottom = int(box[1] * rows), int(np.ceil(box[3] * rows))
    # The middle half of the box only: OCR's word boxes cut a line at estimated character places, so a box's
    # edges may hold a neighbour's first or last letter.
    quarter = (box[2] - box[0]) / 4
    left, right = int((box[0] + quarter) * cols), int(np.ceil((box[2] - quarter) * cols))
    region = ink[top:bottom, left:right] > 0
    if region.size == 0:
        return box[3] - box[1]
    inked = np.flatnonzero(region.sum(axis=1) >= max(1, 0.02 * region.shape[1]))
    return (inked[-1] - inked[0] + 1) / rows if inked.size else box[3] - box[1]


def _gap_px(page: Page, left: Box, right: Box) -> float:
    return (right[0] - left[2]) * page.width


def _height_px(page: Page, box: Box) -> float:
    return (box[3] - box[1]) * page.height


def _confidence(page: Page, words: list[int]) -> float:
    return round(min((page.words[i].confidence for i in words), default=90.0) * 0.95, 3)


def _key_phrases(page: Page, ink: np.ndarray | None) -> list[list[int]]:
    """Key phrases that end in a colon: the colon word and the words just before it on its line that have the same
    size and normal word spacing (at most 6 words, no digits before the colon word, no earlier colon)."""
    keys = []
    for line in page.lines:
        words = line.words
        # Spacing is judged against the line's height: OCR's word boxes are sometimes cut to each word's own
        # letters ("of" is shorter than "Date"), which says nothing about the spacing.
        unit = _height_px(page, line.box(page))
        for position, i in enumerate(words):
            text = page.words[i].text
            if not text.endswith(":") or len(text.strip(":")) == 0 and position == 0:
                continue
            if sum(ch.isdigit() for ch in text) >= 3:  # "23 January 2018:" introduces a list item, not a field
                continue
            phrase = [i]
            for j in reversed(words[:position]):
                before, after = page.words[j], page.words[phrase[0]]
                gap = _gap_px(page, before.box, after.box)
                ratio = _ink_height(ink, before.box) / max(_ink_height(ink, after.box), 1e-9)
                if (len(phrase) >= 6 or before.text.endswith(":") or re.search(r"\d", before.text)
                        or (page.digital and not _similar_size(before, after)) or not 0.6 <= ratio <= 1.6
                        or gap > 1.2 * unit):
                    break
                phrase.insert(0, j)
            start = words.index(phrase[0])
            if len(phrase) >= 6 and start > 0 and not page.words[words[start - 1]].text.endswith(":"):
                continue  # a sentence that ends in a colon ("... scores of two tasks:"), not a label
            if page.words[phrase[0]].text.strip(":") or len(phrase) > 1:
                keys.append(phrase)
        # "Date :08/14/2022" (OCR glues the colon to the value): the word before a ':'-led word is a key.
        for position, i in enumerate(words[1:], start=1):
            text = page.words[i].text
            if text.startswith(":") and len(text) > 1 and not page.words[words[position - 1]].text.endswith(":"):
                keys.append([words[position - 1]])
    return keys


def find_pairs(page: Page, marks: list[SelectionMark]) -> list[KeyValue]:
    used: set[int] = set()
    pairs: list[KeyValue] = []
    pairs += _checkbox_pairs(page, marks, used)
    ink = None
    if page.image is not None and not page.digital:
        import cv2

        ink = _ink(cv2.cvtColor(np.ascontiguousarray(page.image), cv2.COLOR_RGB2GRAY))
    keys = [k for k in _key_phrases(page, ink) if not used.intersection(k)]
    key_words = {i for k in keys for i in k}
    for key in keys:
        used.update(key)
    for key in keys:
        pair = _colon_pair(page, key, key_words, used, marks)
        if pair is not None:
            pairs.append(pair)
    pairs += _gap_pairs(page, used)
    pairs += _header_pairs(page, used)
    return pairs


def _checkbox_pairs(page: Page, marks: list[SelectionMark], used: set[int]) -> list[KeyValue]:
    """Each checkbox with the run of words right beside it (right first, the usual "[ ] Yes", else left)."""
    pairs = []
    for m, mark in enumerate(marks):
        side = (mark.box[2] - mark.box[0]) * page.width
        label = _label_run(page, mark, marks, used, side, to_right=True) or \
            _label_run(page, mark, marks, used, side, to_right=False)
        if not label:
            continue
        used.update(label)
        pairs.append(KeyValue(key_words=label, key_box=union(page.words[i].box for i in label), value_words=[],
                              value_box=mark.box, value_marks=[m], confidence=_confidence(page, label)))
    return pairs


def _label_run(page: Page, mark: SelectionMark, marks: list[SelectionMark], used: set[int], side: float,
               to_right: bool) -> list[int]:
    box = mark.box
    mark_middle = (box[0] + box[2]) / 2
    candidates = []
    for i, word in enumerate(page.words):
        if i in used or not _same_row(box, word.box) or _height(word) > 3 * (box[3] - box[1]):
            continue
        middle = (word.box[0] + word.box[2]) / 2
        if to_right and middle > box[2] - 0.3 * (box[2] - box[0]) and middle > mark_middle:
            gap = _gap_px(page, box, word.box)
        elif not to_right and middle < box[0] and word.box[2] < mark_middle:
            gap = _gap_px(page, word.box, box)
        else:
            continue
        if gap <= 1.5 * side:
            candidates.append((abs(gap), i))
    if not candidates:
        return []
    first = min(candidates)[1]
    line = next((line.words for line in page.lines if first in line.words), [first])
    run = [first]
    step = 1 if to_right else -1
    position = line.index(first)
    while 0 <= position + step < len(line):
        j = line[position + step]
        a, b = (page.words[run[-1]], page.words[j]) if to_right else (page.words[j], page.words[run[0]])
        gap = _gap_px(page, a.box, b.box)
        # Stop at a wide gap, at the next checkbox, at a colon, at a word already taken.
        between = (a.box[2], b.box[0])
        if (j in used or gap > 1.0 * _height_px(page, b.box) or a.text.endswith(":")
                or any(between[0] - 1e-6 <= (k.box[0] + k.box[2]) / 2 <= between[1] + 1e-6 for k in marks)):
            break
        run = run + [j] if to_right else [j] + run
        position += step
    return run


def _colon_pair(page: Page, key: list[int], key_words: set[int], used: set[int],
                marks: list[SelectionMark]) -> KeyValue | None:
    key_box = union(page.words[i].box for i in key)
    key_height = _height_px(page, key_box)
    last = page.words[key[-1]]
    # Words to the right on the same row, left to right.
    row = sorted((i for i, w in enumerate(page.words)
                  if i not in key and _same_row(key_box, w.box) and (w.box[0] + w.box[2]) / 2 > last.box[2]),
                 key=lambda i: page.words[i].box[0])
    value: list[int] = []
    previous = key_box
    for i in row:
        word = page.words[i]
        gap = _gap_px(page, previous, word.box)
        limit = 15 * key_height if not value else 3 * max(key_height, _height_px(page, word.box))
        blocked = any(previous[2] <= (m.box[0] + m.box[2]) / 2 <= word.box[0] for m in marks)
        if i in key_words or i in used or gap > limit or blocked:
            break
        value.append(i)
        previous = word.box
    if value:
        used.update(value)
        return KeyValue(key_words=key, key_box=key_box, value_words=value,
                        value_box=union(page.words[i].box for i in value), confidence=_confidence(page, key + value))
    below = _value_below(page, key, key_box, used, key_words)
    if below:
        used.update(below)
        return KeyValue(key_words=key, key_box=key_box, value_words=below,
                        value_box=union(page.words[i].box for i in below), confidence=_confidence(page, key + below))
    blank = _blank_after(page, key_box)
    if blank is None:
        return None
    return KeyValue(key_words=key, key_box=key_box, value_words=[], value_box=blank,
                    confidence=_confidence(page, key))


def _value_below(page: Page, key: list[int], key_box: Box, used: set[int], key_words: set[int]) -> list[int]:
    """Lines just below a lone "Label:" that start under it (an address block under "From:"), up to 6 lines,
    stopping at a blank gap, at a line holding a key, at a line not starting under the key."""
    line_height = key_box[3] - key_box[1]
    own = next((line for line in page.lines if key[-1] in line.words), None)
    if own is None or own.words[-1] != key[-1] or len(key) > 3:  # a short label ("Bill To:"), not a caption
        return []
    value: list[int] = []
    bottom, lines = key_box[3], 0
    for line in sorted(page.lines, key=lambda line: line.box(page)[1]):
        box = line.box(page)
        if box[1] < bottom - 0.3 * line_height or line is own:
            continue
        if box[1] - bottom > 0.8 * line_height or lines >= 6:
            break
        if abs(box[0] - key_box[0]) > 1.5 * line_height * page.height / page.width:
            continue  # another column's line on the same row
        if any(i in used or i in key_words for i in line.words) or box[3] - box[1] > 2.5 * line_height:
            break
        value += line.words
        bottom = box[3]
        lines += 1
    return value


def _blank_after(page: Page, key_box: Box) -> Box | None:
    """The space to fill right of an unanswered "Label:": an underline or ruling line that starts near the key's
    right end at about its baseline. None where there is none (a heading that ends in a colon)."""
    height = key_box[3] - key_box[1]
    for rule in page.rules:  # born-digital pages: the PDF's own lines
        horizontal = abs(rule.y1 - rule.y0) < 0.3 * height
        if (horizontal and key_box[3] - 0.3 * height <= rule.y0 <= key_box[3] + 0.6 * height
                and key_box[2] - 0.01 <= rule.x0 <= key_box[2] + 4 * height and rule.x1 - rule.x0 > 2 * height):
            return (max(rule.x0, key_box[2]), key_box[1], rule.x1, key_box[3])
    if page.image is None:
        return None
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(page.image), cv2.COLOR_RGB2GRAY)
    rows, cols = gray.shape
    top = int((key_box[3] - 0.3 * height) * rows)
    bottom = int((key_box[3] + 0.8 * height) * rows) + 1
    left = int(key_box[2] * cols)
    right = min(cols, left + int(0.5 * cols))
    if bottom <= top or right <= left:
        return None
    ink = _ink(gray[max(top, 0):bottom, left:right])
    length = max(8, int(3 * height * rows))
    line = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    columns = np.flatnonzero(line.any(axis=0))
    if columns.size == 0 or columns[0] > 4 * height * rows:
        return None
    return ((left + columns[0]) / cols, key_box[1], (left + columns[-1] + 1) / cols, key_box[3])


def _gap_pairs(page: Page, used: set[int]) -> list[KeyValue]:
    """A short label line and a value line alone on the same row, far apart ("Invoice Number    INV-3337")."""
    pairs = []
    boxes = [line.box(page) for line in page.lines]
    for a, label in enumerate(page.lines):
        if any(i in used for i in label.words) or len(label.words) > 4:
            continue
        text = label.text(page)
        if re.search(r"\d", text) or not text[:1].isalpha():
            continue
        row = [b for b, other in enumerate(page.lines) if b != a and _same_row(boxes[a], boxes[b])
               and _same_row(boxes[b], boxes[a])]
        right = [b for b in row if boxes[b][0] > boxes[a][2]]
        if len(right) != 1 or any(boxes[b][2] < boxes[a][0] and boxes[a][0] - boxes[b][2] < 0.05 for b in row):
            continue
        b = right[0]
        value = page.lines[b]
        height = _height_px(page, boxes[a])
        gap = _gap_px(page, boxes[a], boxes[b])
        if (any(i in used for i in value.words) or len(value.words) > 6 or not 1.5 * height <= gap <= 20 * height
                or not re.search(r"[\d$€£%]", value.text(page))
                or not 0.6 <= (boxes[b][3] - boxes[b][1]) / max(boxes[a][3] - boxes[a][1], 1e-9) <= 1.6):
            continue
        used.update(label.words + value.words)
        pairs.append(KeyValue(key_words=list(label.words), key_box=boxes[a], value_words=list(value.words),
                              value_box=boxes[b], confidence=_confidence(page, label.words + value.words)))
    return pairs


def _header_pairs(page: Page, used: set[int]) -> list[KeyValue]:
    """A label printed over a single value ("FILE" over "126543" in a header strip): a number-like word with
    letter-only words directly above it (the nearest row above, overlapping it horizontally, close). Not when
    another number-like word sits under the value in the same column: that is a table's column."""
    pairs = []
    words = page.words
    line_of = {i: line for line in page.lines for i in line.words}

    def number_like(i: int) -> bool:  # mostly digits: amounts, dates, ids ("$1,200.00", "7/18/2008", "00123")
        text = words[i].text
        return sum(ch.isdigit() for ch in text) >= 0.5 * len(text)

    # Values: number-like words on lines of number-like words only (not a number inside a sentence).
    valued = [i for i in range(len(words)) if i not in used and number_like(i)
              and all(number_like(j) for j in line_of[i].words)] if line_of else []
    for v in valued:
        value = words[v]
        height = _height(value)

        def column(i: int) -> bool:
            box = words[i].box
            return min(box[2], value.box[2]) - max(box[0], value.box[0]) > 0.3 * min(box[2] - box[0], value.box[2] - value.box[0])

        above = [i for i, w in enumerate(words) if i != v and column(i) and w.box[3] <= value.box[1] + 0.2 * height
                 and value.box[1] - w.box[3] < 0.8 * height]
        below = [i for i in valued if i != v and column(i) and words[i].box[1] >= value.box[3] - 0.2 * height
                 and words[i].box[1] - value.box[3] < 1.5 * height]
        if not above or below:
            continue
        nearest = max(words[i].box[3] for i in above)
        label = sorted((i for i in above if words[i].box[3] > nearest - 0.5 * height),
                       key=lambda i: words[i].box[0])
        if any(i in used or re.search(r"\d", words[i].text) or not words[i].text[:1].isalpha() for i in label):
            continue
        if any(re.search(r"\d", words[j].text) for i in label for j in line_of[i].words) or len(label) > 4:
            continue  # a label row holds labels only
        used.update(label + [v])
        pairs.append(KeyValue(key_words=label, key_box=union(words[i].box for i in label), value_words=[v],
                              value_box=value.box, confidence=_confidence(page, label + [v])))
    return pairs


# ------------------------------------------------------------------------------------------ AcroForm fields


@dataclass
class AcroField:
    """One widget of a PDF form field, read exactly from the AcroForm (no pixels involved)."""

    name: str  # the field's full name ("parent.child")
    value: str  # a text field's text, a choice's selection, a checkbox's export value ("" when unset)
    box: Box  # the widget's rectangle, normalized to the page as displayed (origin top left)
    is_checkbox: bool  # a checkbox or a radio button
    checked: bool


def acroform_fields(data: bytes, page_index: int) -> list[AcroField]:
    """The AcroForm widgets on page `page_index` (0-based) of a PDF; [] for a PDF without an AcroForm (or one that
    pypdf cannot read)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        root = reader.trailer["/Root"]
        if "/AcroForm" not in root or not 0 <= page_index < len(reader.pages):
            return []
        page = reader.pages[page_index]
        annotations = page.get("/Annots")
        annotations = annotations.get_object() if annotations is not None else []
    except Exception:  # damaged or encrypted files: the caller has the text layer anyway
        return []
    crop = page.cropbox
    x0, y0, x1, y1 = float(crop.left), float(crop.bottom), float(crop.right), float(crop.top)
    rotation = int(page.get("/Rotate", 0) or 0) % 360
    fields = []
    for reference in annotations:
        widget = reference.get_object()
        if widget.get("/Subtype") != "/Widget" or "/Rect" not in widget:
            continue
        field_type = _inherited(widget, "/FT")
        flags = int(_inherited(widget, "/Ff") or 0)
        if field_type == "/Btn" and flags & (1 << 16):  # a push button holds no value
            continue
        is_checkbox = field_type == "/Btn"
        raw = _inherited(widget, "/V")
        if is_checkbox:
            state = widget.get("/AS")
            state = str(state) if state is not None else str(raw or "/Off")
            checked = state not in ("/Off", "Off", "")
            value = state.lstrip("/") if checked else ""
        else:
            checked = False
            value = _text(raw)
        left, bottom, right, top = (float(v) for v in widget["/Rect"])
        box = _normalize((min(left, right), min(bottom, top), max(left, right), max(bottom, top)),
                         (x0, y0, x1, y1), rotation)
        fields.append(AcroField(name=_full_name(widget), value=value, box=box, is_checkbox=is_checkbox,
                                checked=checked))
    return fields


def _inherited(node, key: str):
    """A field attribute, looked up the /Parent chain (a widget's kids inherit the field's type and value)."""
    seen = 0
    while node is not None and seen < 32:
        if key in node:
            value = node[key]
            return value.get_object() if hasattr(value, "get_object") else value
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
        seen += 1
    return None


def _full_name(widget) -> str:
    parts = []
    node, seen = widget, 0
    while node is not None and seen < 32:
        if "/T" in node:
            parts.insert(0, str(node["/T"]))
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
        seen += 1
    return ".".join(parts)


def _text(raw) -> str:
    if raw is None:
        return ""
    if isinstance(raw, list):  # a multiple-choice list
        return ", ".join(_text(v) for v in raw)
    text = str(raw)
    return text[1:] if text.startswith("/") else text


def _normalize(rect: tuple[float, float, float, float], crop: tuple[float, float, float, float],
               rotation: int) -> Box:
    """A rectangle in PDF user space (origin bottom left) to a normalized box of the page as displayed."""
    left, bottom, right, top = rect
    x0, y0, x1, y1 = crop
    width, height = x1 - x0, y1 - y0
    u0, u1 = (left - x0) / width, (right - x0) / width  # unrotated, origin top left
    v0, v1 = (y1 - top) / height, (y1 - bottom) / height
    if rotation == 90:  # shown turned clockwise
        box = (1 - v1, u0, 1 - v0, u1)
    elif rotation == 180:
        box = (1 - u1, 1 - v1, 1 - u0, 1 - v0)
    elif rotation == 270:
        box = (v0, 1 - u1, v1, 1 - u0)
    else:
        box = (u0, v0, u1, v1)
    return tuple(min(max(c, 0.0), 1.0) for c in box)  # type: ignore[return-value]
