"""Scores of one Textract response (ours) against the real Amazon Textract response (the reference) for the same
page: pure functions of two boto3-shaped response dicts, used by bench/textract_quality.py.

Every function looks at one page only (`page`, 1 by default): a block whose "Page" member names another page is
ignored, a block without "Page" counts as page 1 (single-page responses leave it out). Each answers None, not 0,
when the reference has nothing of its kind on the page, so that a mean over documents skips it.

Boxes are Geometry.BoundingBox (normalized Left/Top/Width/Height); overlap is intersection over union (IoU).
Matching is greedy and one-to-one: all admissible (ours, reference) pairs sorted by best score first.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

WORD_IOU = 0.5  # words and lines: the same text must also sit in (about) the same place
# Tables: IoU >= 0.3 pairs the tables. Loose on purpose: two engines often disagree on a table's extent (a header
# or total row in or out, a title band), and cell agreement is strict on (row, column) and text anyway. Greedy
# best-IoU-first pairing keeps adjacent tables from being paired with the wrong one.
TABLE_IOU = 0.3
CHECKBOX_IOU = 0.3  # checkboxes are small: a few pixels of offset already cost a lot of IoU
LAYOUT_IOU = 0.5
FUZZY_RATIO = 90.0  # rapidfuzz ratio (0..100) from which two key (or value) texts count as the same


# ------------------------------------------------------------------------------------------------ helpers

def page_blocks(response: dict, page: int = 1) -> list[dict]:
    """The response's blocks on `page` (a block without "Page" is on page 1)."""
    return [block for block in response.get("Blocks") or [] if block.get("Page", 1) == page]


def box(block: dict) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) of the block's bounding box, None when it has none."""
    bb = (block.get("Geometry") or {}).get("BoundingBox")
    if not bb:
        return None
    left, top = float(bb.get("Left", 0.0)), float(bb.get("Top", 0.0))
    return left, top, left + float(bb.get("Width", 0.0)), top + float(bb.get("Height", 0.0))


def iou(a: dict, b: dict) -> float:
    """Intersection over union of two blocks' boxes (0 when either has no box)."""
    first, second = box(a), box(b)
    if first is None or second is None:
        return 0.0
    width = min(first[2], second[2]) - max(first[0], second[0])
    height = min(first[3], second[3]) - max(first[1], second[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = ((first[2] - first[0]) * (first[3] - first[1]) + (second[2] - second[0]) * (second[3] - second[1])
             - inter)
    return inter / union if union > 0 else 0.0


def greedy_pairs(candidates: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """One-to-one pairs from (score, ours index, reference index) candidates, best score first."""
    used_ours: set[int] = set()
    used_ref: set[int] = set()
    pairs = []
    # Ties break on the indexes, so the result does not depend on the order the candidates came in.
    for score, i, j in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if i not in used_ours and j not in used_ref:
            used_ours.add(i)
            used_ref.add(j)
            pairs.append((score, i, j))
    return pairs


def prf(matched: int, ours: int, ref: int) -> dict:
    precision = matched / ours if ours else 0.0
    recall = matched / ref if ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "ours": ours, "ref": ref, "matched": matched}


def nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def loose(text: str | None) -> str:
    """Lower case, whitespace runs collapsed to one space: for cell, key and value texts."""
    return re.sub(r"\s+", " ", nfkc(text)).strip().lower()


def strip_end_punctuation(text: str) -> str:
    """Punctuation (any Unicode P* character) removed at both ends: "Textractor." answers "Textractor"."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(text[end - 1]).startswith("P"):
        end -= 1
    return text[start:end].strip()


def related(block: dict, kind: str) -> list[str]:
    """Ids of the block's relationships of type `kind`, in order."""
    return [i for rel in block.get("Relationships") or [] if rel.get("Type") == kind for i in rel.get("Ids") or []]


def child_text(block: dict, by_id: dict[str, dict], marks: bool = False) -> str:
    """The block's CHILD WORD texts joined by a space; with `marks`, SELECTION_ELEMENT children too, as "[X]"
    (SELECTED) or "[ ]"."""
    parts = []
    for child_id in related(block, "CHILD"):
        child = by_id.get(child_id)
        if child is None:
            continue
        if child["BlockType"] == "WORD":
            parts.append(child.get("Text") or "")
        elif marks and child["BlockType"] == "SELECTION_ELEMENT":
            parts.append("[X]" if child.get("SelectionStatus") == "SELECTED" else "[ ]")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------- words, lines

def text_f1(ours: dict, ref: dict, block_type: str, page: int = 1) -> dict | None:
    """F1 of `block_type` blocks: a match is the same text (case-sensitive, after NFKC and strip) and IoU >= 0.5."""
    mine = [b for b in page_blocks(ours, page) if b.get("BlockType") == block_type]
    theirs = [b for b in page_blocks(ref, page) if b.get("BlockType") == block_type]
    if not theirs:
        return None
    by_text: dict[str, list[int]] = {}
    for j, block in enumerate(theirs):
        by_text.setdefault(nfkc(block.get("Text")), []).append(j)
    # Only blocks with the same text can match, so IoU is computed within each text's group.
    candidates = []
    for i, block in enumerate(mine):
        for j in by_text.get(nfkc(block.get("Text")), []):
            overlap = iou(block, theirs[j])
            if overlap >= WORD_IOU:
                candidates.append((overlap, i, j))
    return prf(len(greedy_pairs(candidates)), len(mine), len(theirs))


def word_f1(ours: dict, ref: dict, page: int = 1) -> dict | None:
    return text_f1(ours, ref, "WORD", page)


def line_f1(ours: dict, ref: dict, page: int = 1) -> dict | None:
    return text_f1(ours, ref, "LINE", page)


# ---------------------------------------------------------------------------------------------------- tables

def tables(response: dict, page: int = 1) -> list[tuple[dict, dict[tuple[int, int], str]]]:
    """(TABLE block, {(row, column): normalized cell text}) for each table on the page; a cell's text is its CHILD
    WORD texts joined by a space."""
    blocks = page_blocks(response, page)
    by_id = {b["Id"]: b for b in blocks if "Id" in b}
    out = []
    for table in blocks:
        if table.get("BlockType") != "TABLE":
            continue
        cells = {}
        for cell_id in related(table, "CHILD"):
            cell = by_id.get(cell_id)
            if cell is not None and cell.get("BlockType") == "CELL":
                cells[(cell.get("RowIndex"), cell.get("ColumnIndex"))] = loose(child_text(cell, by_id))
        out.append((table, cells))
    return out


def table_cell_agreement(ours: dict, ref: dict, page: int = 1) -> dict | None:
    """Share of cells that agree: tables paired by IoU >= TABLE_IOU; in a pair, a reference cell agrees when our
    table has a cell at the same (row, column) with the same text (lower case, whitespace collapsed). Per pair the
    denominator is max(reference cells, our cells); a table left unpaired (either side) adds its cells to the
    denominator and nothing to the agreeing count. Micro-averaged: sum agreeing / sum denominators."""
    mine, theirs = tables(ours, page), tables(ref, page)
    if not theirs:
        return None
    candidates = [(overlap, i, j) for i, (a, _) in enumerate(mine) for j, (b, _) in enumerate(theirs)
                  if (overlap := iou(a, b)) >= TABLE_IOU]
    pairs = greedy_pairs(candidates)
    agreeing = total = 0
    for _, i, j in pairs:
        our_cells, ref_cells = mine[i][1], theirs[j][1]
        agreeing += sum(our_cells.get(key) == text for key, text in ref_cells.items())
        total += max(len(ref_cells), len(our_cells))
    paired_ours, paired_ref = {i for _, i, _ in pairs}, {j for _, _, j in pairs}
    total += sum(len(cells) for j, (_, cells) in enumerate(theirs) if j not in paired_ref)
    total += sum(len(cells) for i, (_, cells) in enumerate(mine) if i not in paired_ours)
    return {"score": agreeing / total if total else 0.0, "agreeing": agreeing, "cells": total,
            "ref_tables": len(theirs), "our_tables": len(mine), "matched_tables": len(pairs),
            "ref_cells": sum(len(cells) for _, cells in theirs), "our_cells": sum(len(cells) for _, cells in mine)}


# ------------------------------------------------------------------------------------------------ key-values

def key_values(response: dict, page: int = 1) -> list[tuple[str, str]]:
    """(key text, value text) for each KEY block: the key's CHILD words; the value: the VALUE blocks' CHILD words
    and selection elements ("[X]" / "[ ]"). Lower case, whitespace collapsed, a trailing ':' off the key."""
    blocks = page_blocks(response, page)
    by_id = {b["Id"]: b for b in blocks if "Id" in b}
    pairs = []
    for block in blocks:
        if block.get("BlockType") != "KEY_VALUE_SET" or "KEY" not in (block.get("EntityTypes") or []):
            continue
        key = loose(child_text(block, by_id)).rstrip(":").strip()
        values = [child_text(by_id[i], by_id, marks=True) for i in related(block, "VALUE") if i in by_id]
        pairs.append((key, loose(" ".join(values))))
    return pairs


def similar(a: str, b: str) -> float:
    """100 for equal texts, else rapidfuzz's ratio (0..100)."""
    return 100.0 if a == b else fuzz.ratio(a, b)


def key_value_agreement(ours: dict, ref: dict, page: int = 1) -> dict | None:
    """F1 over (key, value) pairs: a pair matches when the keys and the values are each equal or fuzzy-similar
    (ratio >= FUZZY_RATIO); one-to-one, the most similar pairs first."""
    mine, theirs = key_values(ours, page), key_values(ref, page)
    if not theirs:
        return None
    candidates = []
    for i, (key, value) in enumerate(mine):
        for j, (ref_key, ref_value) in enumerate(theirs):
            score = min(similar(key, ref_key), similar(value, ref_value))
            if score >= FUZZY_RATIO:
                candidates.append((score, i, j))
    return prf(len(greedy_pairs(candidates)), len(mine), len(theirs))


# ------------------------------------------------------------------------------------------------ checkboxes

def checkbox_agreement(ours: dict, ref: dict, page: int = 1) -> dict | None:
    """SELECTION_ELEMENT blocks paired by IoU >= CHECKBOX_IOU; score = pairs with the same SelectionStatus /
    max(reference, ours); detection recall = pairs / reference."""
    mine = [b for b in page_blocks(ours, page) if b.get("BlockType") == "SELECTION_ELEMENT"]
    theirs = [b for b in page_blocks(ref, page) if b.get("BlockType") == "SELECTION_ELEMENT"]
    if not theirs:
        return None
    candidates = [(overlap, i, j) for i, a in enumerate(mine) for j, b in enumerate(theirs)
                  if (overlap := iou(a, b)) >= CHECKBOX_IOU]
    pairs = greedy_pairs(candidates)
    same = sum(mine[i].get("SelectionStatus") == theirs[j].get("SelectionStatus") for _, i, j in pairs)
    return {"score": same / max(len(theirs), len(mine)), "detection_recall": len(pairs) / len(theirs),
            "same_status": same, "matched": len(pairs), "ours": len(mine), "ref": len(theirs)}


# --------------------------------------------------------------------------------------------------- queries

def query_answers(response: dict, page: int = 1) -> dict[str, str | None]:
    """{query text: normalized answer} with the highest-confidence ANSWER QUERY_RESULT (None: no answer)."""
    blocks = page_blocks(response, page)
    by_id = {b["Id"]: b for b in blocks if "Id" in b}
    answers: dict[str, str | None] = {}
    for block in blocks:
        if block.get("BlockType") != "QUERY":
            continue
        results = [by_id[i] for i in related(block, "ANSWER") if i in by_id]
        best = max(results, key=lambda r: r.get("Confidence", 0.0), default=None)
        text = (block.get("Query") or {}).get("Text") or ""
        # The same question asked twice keeps an answer if either has one.
        if answers.get(text) is None:
            answers[text] = strip_end_punctuation(loose(best.get("Text"))) if best is not None else None
    return answers


def query_agreement(ours: dict, ref: dict, page: int = 1) -> dict | None:
    """Mean over the reference's queries (by Query.Text): 1 when our query of the same text answers the same
    (lower case, whitespace collapsed, punctuation off the ends), or when neither has an answer; else 0 (our query
    missing included)."""
    mine, theirs = query_answers(ours, page), query_answers(ref, page)
    if not theirs:
        return None
    agree = sum(text in mine and mine[text] == answer for text, answer in theirs.items())
    return {"score": agree / len(theirs), "agreeing": agree, "queries": len(theirs),
            "answered": sum(mine.get(text) is not None for text in theirs)}


# ---------------------------------------------------------------------------------------------------- layout

def layout_agreement(ours: dict, ref: dict, page: int = 1) -> dict | None:
    """F1 of LAYOUT_* blocks: a match has the same BlockType and IoU >= LAYOUT_IOU."""
    mine = [b for b in page_blocks(ours, page) if str(b.get("BlockType", "")).startswith("LAYOUT_")]
    theirs = [b for b in page_blocks(ref, page) if str(b.get("BlockType", "")).startswith("LAYOUT_")]
    if not theirs:
        return None
    candidates = [(overlap, i, j) for i, a in enumerate(mine) for j, b in enumerate(theirs)
                  if a["BlockType"] == b["BlockType"] and (overlap := iou(a, b)) >= LAYOUT_IOU]
    return prf(len(greedy_pairs(candidates)), len(mine), len(theirs))
