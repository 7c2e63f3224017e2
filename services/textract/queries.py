"""QUERIES: answer a natural-language question from the page's key-value pairs and lines. A heuristic, not a
learned reader (no document question-answering weights install here):

1. Candidates are the page's key-value pairs (key text -> value words) and its lines split at a colon
   ("Name of package: Textractor" -> "Name of package" -> "Textractor").
2. The question, with its interrogative frame removed ("What is the ... ?"), is compared with each candidate key by
   all-MiniLM-L6-v2 sentence embeddings (cosine), plus a bonus for shared content words.
3. Typed questions (dates, amounts, numbers) prefer candidates whose value has that type.
4. A question about the document's title answers the title (the topmost LAYOUT_TITLE region, else the first
   lines set in the largest type).
The answer's confidence is the match score on 0..100; below a threshold there is no answer (as Textract answers
a QUERY with no QUERY_RESULT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from services.textract.page import Box, Forms, LayoutRegion, Page, QueryAnswer, union

MIN_SCORE = 0.45
_FRAME = re.compile(r"^(?:what|which|who|when|where|how much|how many)\s+(?:is|are|was|were)\s+(?:the\s+)?|\?$",
                    re.IGNORECASE)
_DATE = re.compile(r"\b(?:\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\d{1,2}\s+\w{3,9}\s+\d{4}|\w{3,9}\s+\d{1,2},?\s+\d{4})\b")
_AMOUNT = re.compile(r"[$€£]\s?\d|\d[\d,]*\.\d{2}\b")
_NUMBER = re.compile(r"\d")
_STOP = {"the", "of", "a", "an", "is", "what", "which", "this", "that", "document", "for", "in", "on", "to", "and"}


@dataclass
class _Candidate:
    key: str
    value_words: list[int]
    box: Box


def answer(page: Page, queries: list[dict], forms: Forms | None, layout: list[LayoutRegion] | None,
           embed=None) -> list[QueryAnswer | None]:
    """One answer (or None) per query, in order. `embed(texts) -> unit vectors` defaults to MiniLM."""
    if embed is None:
        from models.sentiment import embed
    candidates = _candidates(page, forms)
    questions = [_FRAME.sub("", query["Text"].strip()).strip() or query["Text"] for query in queries]
    answers: list[QueryAnswer | None] = []
    vectors = embed(questions + [candidate.key for candidate in candidates]) if candidates else None
    for q, (query, question) in enumerate(zip(queries, questions)):
        if "title" in question.lower().split():
            answers.append(_title(page, layout))
            continue
        if not candidates:
            answers.append(None)
            continue
        similarity = vectors[len(questions):] @ vectors[q]
        scores = [float(similarity[c]) + _overlap_bonus(question, candidate.key) + _type_bonus(question, page, candidate)
                  for c, candidate in enumerate(candidates)]
        best = int(np.argmax(scores))
        if scores[best] < MIN_SCORE:
            answers.append(None)
            continue
        candidate = candidates[best]
        text = " ".join(page.words[i].text for i in candidate.value_words)
        answers.append(QueryAnswer(text, candidate.box, round(min(scores[best], 1.0) * 100, 2)))
    return answers


def _candidates(page: Page, forms: Forms | None) -> list[_Candidate]:
    candidates = []
    seen: set[tuple[int, ...]] = set()
    for pair in (forms.pairs if forms else []):
        if pair.value_words:
            key = " ".join(page.words[i].text for i in pair.key_words).rstrip(":").strip()
            candidates.append(_Candidate(key, pair.value_words, pair.value_box))
            seen.add(tuple(pair.value_words))
    for line in page.lines:
        for split, i in enumerate(line.words[:-1]):
            if page.words[i].text.endswith(":"):
                value = line.words[split + 1:]
                if tuple(value) in seen:
                    break
                key = " ".join(page.words[j].text for j in line.words[:split + 1]).rstrip(":").strip()
                candidates.append(_Candidate(key, value, union(page.words[j].box for j in value)))
                break
    return [candidate for candidate in candidates if candidate.key]


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in _STOP}


def _overlap_bonus(question: str, key: str) -> float:
    asked, keyed = _words(question), _words(key)
    return 0.15 * len(asked & keyed) / len(asked) if asked else 0.0


def _type_bonus(question: str, page: Page, candidate: _Candidate) -> float:
    asked = question.lower()
    value = " ".join(page.words[i].text for i in candidate.value_words)
    if re.search(r"\b(date|when|dob|birth)\b", asked):
        return 0.1 if _DATE.search(value) else -0.1
    if re.search(r"\b(total|amount|price|cost|balance|due|pay|tax)\b", asked):
        return 0.1 if _AMOUNT.search(value) else -0.05
    if re.search(r"\b(number|no|id|#)\b", asked):
        return 0.05 if _NUMBER.search(value) else -0.05
    return 0.0


def _title(page: Page, layout: list[LayoutRegion] | None) -> QueryAnswer | None:
    """The document's title: the topmost LAYOUT_TITLE, else the lines in the page's largest type at its top."""
    lines: list[int] = []
    for region in layout or []:
        if region.kind == "LAYOUT_TITLE" and region.lines:
            lines = region.lines
            break
    if not lines and page.lines:
        heights = [line.box(page)[3] - line.box(page)[1] for line in page.lines]
        tallest = max(heights)
        top_lines = [i for i, height in enumerate(heights) if height >= 0.8 * tallest]
        lines = [top_lines[0]]
        for i in top_lines[1:]:  # the title may run over a few consecutive lines
            if i == lines[-1] + 1:
                lines.append(i)
    if not lines:
        return None
    words = [w for i in lines for w in page.lines[i].words]
    text = " ".join(page.words[w].text for w in words)
    return QueryAnswer(text, union(page.words[w].box for w in words), 80.0)
