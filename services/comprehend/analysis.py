"""Comprehend's text analyses on the open engines, in Comprehend's terms: entity / PII / part-of-speech type names,
character offsets into the original text, scores in [0, 1], per-operation size limits and languages.

Every analysis has a `*_many(texts, language)` form (used by Batch* operations and asynchronous jobs) and a
micro-batched single-text form for the real-time operations: concurrent requests share one `nlp.pipe` /
`predict_proba` pass (`MicroBatcher`), run in the model worker processes (models/workers.py) so that the models use
the cores the event loop does not — which is where the gateway gets its throughput.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from models.batching import MicroBatcher
from services.comprehend.errors import TextSizeLimitExceeded, UnsupportedLanguage
from services.gateway.runtime import runtime

# ---------------------------------------------------------------------------------------------------------------
# Limits and languages
# ---------------------------------------------------------------------------------------------------------------

MAX_BATCH_DOCUMENTS = 25
# Per-document limits of the real-time operations, in UTF-8 bytes (AWS Comprehend quotas).
TEXT_LIMITS = {
    "DetectSentiment": 5_000,
    "DetectTargetedSentiment": 5_000,
    "DetectSyntax": 5_000,
    "DetectEntities": 100_000,
    "DetectKeyPhrases": 100_000,
    "DetectPiiEntities": 100_000,
    "ContainsPiiEntities": 100_000,
    "DetectDominantLanguage": 100_000,
    "ClassifyDocument": 100_000,
}

SENTIMENT_LANGUAGES = ("en",)
PII_LANGUAGES = ("en",)


def text_size(text: str) -> int:
    return len(text.encode("utf-8"))


def size_error_message(size: int, limit: int) -> str:
    return (f"Input text size exceeds limit. Max length of request text allowed is {limit} bytes "
            f"while in this request the text size is {size} bytes")


def check_size(operation: str, text: str) -> None:
    limit = TEXT_LIMITS[operation]
    size = text_size(text)
    if size > limit:
        raise TextSizeLimitExceeded(size_error_message(size, limit))


def unsupported_language(language: str, operation: str) -> UnsupportedLanguage:
    return UnsupportedLanguage(f"{operation} does not support the language code {language!r} on this gateway "
                               f"(no open model for it is installed).")


def check_spacy_language(language: str, operation: str) -> None:
    """English is the spaCy engine's own pipeline; other languages need their pipeline package installed. Decided
    without loading anything (handlers run this on the event loop)."""
    from models.spacy_nlp import pipeline_installed

    if language != "en" and not pipeline_installed(language):
        raise unsupported_language(language, operation)


def check_language(operation: str, language: str) -> None:
    if operation in ("DetectSentiment", "DetectTargetedSentiment") and language not in SENTIMENT_LANGUAGES:
        raise unsupported_language(language, operation)
    if operation in ("DetectPiiEntities", "ContainsPiiEntities") and language not in PII_LANGUAGES:
        raise unsupported_language(language, operation)
    if operation in ("DetectEntities", "DetectKeyPhrases", "DetectSyntax", "DetectTargetedSentiment"):
        check_spacy_language(language, operation)


def _round(score: float) -> float:
    return round(min(1.0, max(0.0, float(score))), 6)


# ---------------------------------------------------------------------------------------------------------------
# Sentiment
# ---------------------------------------------------------------------------------------------------------------


def sentiment_result(scores: dict[str, float]) -> dict:
    label = max(scores, key=scores.get).upper()
    rounded = {key: round(value, 6) for key, value in scores.items()}
    # Keep the sum exactly 1 after rounding: the largest score absorbs the rounding error.
    top = max(rounded, key=rounded.get)
    rounded[top] = round(1.0 - sum(value for key, value in rounded.items() if key != top), 6)
    return {"Sentiment": label, "SentimentScore": rounded}


def sentiment_many(texts: list[str], language: str = "en") -> list[dict]:
    return [sentiment_result(scores) for scores in runtime().models.get("sentiment").score_many(texts)]


def _sentiment_batch(texts: list[str]) -> list[dict]:
    return sentiment_many(texts)


_sentiment_batcher: MicroBatcher[str, dict] = MicroBatcher(_sentiment_batch, max_batch_size=64, max_wait_ms=2,
    in_worker_processes=True)


async def sentiment_one(text: str) -> dict:
    return await _sentiment_batcher.submit(text)


# ---------------------------------------------------------------------------------------------------------------
# spaCy analyses: entities, key phrases, syntax
# ---------------------------------------------------------------------------------------------------------------

# spaCy OntoNotes labels (English) and WikiNER labels (fr, es, ...) -> Comprehend entity types.
ENTITY_TYPES = {
    "PERSON": "PERSON", "PER": "PERSON",
    "ORG": "ORGANIZATION",
    "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION",
    "PRODUCT": "COMMERCIAL_ITEM",
    "EVENT": "EVENT",
    "WORK_OF_ART": "TITLE", "LAW": "TITLE",
    "DATE": "DATE", "TIME": "DATE",
    "MONEY": "QUANTITY", "PERCENT": "QUANTITY", "QUANTITY": "QUANTITY", "CARDINAL": "QUANTITY",
    "ORDINAL": "QUANTITY",
    "NORP": "OTHER", "LANGUAGE": "OTHER", "MISC": "OTHER",
}

# Comprehend's PartOfSpeech tags are Universal Dependencies' tags with X read as O (other).
POS_TAGS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
            "SCONJ", "SYM", "VERB"}


@lru_cache(maxsize=8)
def _label_precision(language: str) -> dict[str, float]:
    """Per-label precision the pipeline's authors measured (its meta.json): the entity Score. A span the NER
    labels PERSON is right about as often as PERSON predictions were right on the held-out evaluation."""
    nlp = runtime().models.get("spacy").nlp(language)
    per_type = (nlp.meta.get("performance") or {}).get("ents_per_type") or {}
    return {label: float(values.get("p") or 0.0) for label, values in per_type.items()}


def entities_of(doc, language: str) -> list[dict]:
    precision = _label_precision(language)
    found = []
    for ent in doc.ents:
        text = ent.text
        # spaCy may include trailing whitespace or punctuation in odd cases: trim to the visible span.
        stripped = text.strip()
        if not stripped:
            continue
        begin = ent.start_char + (len(text) - len(text.lstrip()))
        end = begin + len(stripped)
        found.append({
            "Score": _round(precision.get(ent.label_) or 0.8),
            "Type": ENTITY_TYPES.get(ent.label_, "OTHER"),
            "Text": stripped,
            "BeginOffset": begin,
            "EndOffset": end,
        })
    return found


_yake_local = threading.local()


def _yake(language: str):
    extractors = getattr(_yake_local, "extractors", None)
    if extractors is None:
        extractors = _yake_local.extractors = {}
    if language not in extractors:
        import yake

        extractors[language] = yake.KeywordExtractor(lan=language, n=3, top=200, dedupLim=0.95)
    return extractors[language]


_EDGE_WORDS = re.compile(r"^\W+|\W+$")


def key_phrases_of(doc, language: str) -> list[dict]:
    """Noun chunks (pronouns left out), scored by how relevant YAKE finds the words they contain: a chunk holding
    one of YAKE's top keywords scores near 1, a chunk YAKE finds nothing in gets a low score."""
    text = doc.text
    try:
        chunks = list(doc.noun_chunks)
    except (ValueError, NotImplementedError):  # a pipeline without noun-chunk rules: fall back to entities
        chunks = list(doc.ents)
    chunks = [chunk for chunk in chunks if chunk.root.pos_ != "PRON" and chunk.text.strip()]
    if not chunks:
        return []
    try:
        keywords = _yake(language).extract_keywords(text)
    except Exception:
        keywords = []
    # YAKE: lower is more relevant. Rank-based relevance in (0, 1].
    relevance: dict[str, float] = {}
    for rank, (keyword, _score) in enumerate(sorted(keywords, key=lambda item: item[1])):
        relevance.setdefault(keyword.lower(), 1.0 - rank / max(len(keywords), 1) * 0.5)
    words = {}
    for keyword, value in relevance.items():
        for word in keyword.split():
            words[word] = max(words.get(word, 0.0), value)
    phrases = []
    for chunk in chunks:
        lowered = chunk.text.lower()
        best = relevance.get(lowered, 0.0)
        for keyword, value in relevance.items():
            if value > best and keyword in lowered:
                best = value
        if best == 0.0:
            best = max((words.get(token.lower_, 0.0) for token in chunk), default=0.0) * 0.9
        score = 0.5 + 0.5 * best
        phrases.append({"Score": _round(score), "Text": chunk.text, "BeginOffset": chunk.start_char,
                        "EndOffset": chunk.end_char})
    return phrases


def _tag_scores(nlp, docs) -> list[list[float] | None]:
    """The tagger's probability of the tag it chose, per token (None: no tagger, or it cannot say)."""
    if "tagger" not in nlp.pipe_names and "morphologizer" not in nlp.pipe_names:
        return [None] * len(docs)
    name = "tagger" if "tagger" in nlp.pipe_names else "morphologizer"
    try:
        scores = nlp.get_pipe(name).model.predict(docs)
        return [[float(row.max()) for row in (score.get() if hasattr(score, "get") else score)] for score in scores]
    except Exception:
        return [None] * len(docs)


def syntax_of(doc, token_scores: list[float] | None) -> list[dict]:
    tokens = []
    for token in doc:
        if token.is_space or not token.text.strip():
            continue
        tag = token.pos_ if token.pos_ in POS_TAGS else "O"
        if tag == "O" and token.pos_ == "CONJ":
            tag = "CCONJ"
        score = token_scores[token.i] if token_scores is not None and token.i < len(token_scores) else 0.97
        tokens.append({
            "TokenId": len(tokens) + 1,
            "Text": token.text,
            "BeginOffset": token.idx,
            "EndOffset": token.idx + len(token.text),
            "PartOfSpeech": {"Tag": tag, "Score": _round(score)},
        })
    return tokens


# The pipeline components each analysis needs (the others are switched off for the pass): entities need only the
# NER; parts of speech the tagger (English: + attribute ruler) or morphologizer; noun chunks also the parser.
_POS = {"tagger", "morphologizer", "attribute_ruler"}
NEEDS: dict[str, set[str] | None] = {
    "entities": {"ner"},
    "syntax": _POS,
    "key_phrases": _POS | {"parser"},
    "docs": None,
}


def spacy_many(kind: str, texts: list[str], language: str) -> list:
    """`kind` in entities / key_phrases / syntax / docs: one nlp.pipe pass over texts."""
    engine = runtime().models.get("spacy")
    docs = engine.pipe(language, texts, need=NEEDS[kind])
    if kind == "docs":
        return docs
    if kind == "entities":
        return [entities_of(doc, language) for doc in docs]
    if kind == "key_phrases":
        return [key_phrases_of(doc, language) for doc in docs]
    if kind == "syntax":
        with engine.lock(language):
            scores = _tag_scores(engine.nlp(language), docs)
        return [syntax_of(doc, score) for doc, score in zip(docs, scores)]
    raise ValueError(kind)


@dataclass(frozen=True)
class SpacyItem:
    kind: str
    language: str
    text: str


def _spacy_batch(items: list[SpacyItem]) -> list:
    """A mixed micro-batch: one nlp.pipe pass per (language, kind) group, results back in order."""
    results: list = [None] * len(items)
    groups: dict[tuple[str, str], list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault((item.language, item.kind), []).append(index)
    for (language, kind), indexes in groups.items():
        try:
            found = spacy_many(kind, [items[i].text for i in indexes], language)
        except Exception as error:  # one group failing must not fail the others
            found = [error] * len(indexes)
        for i, result in zip(indexes, found):
            results[i] = result
    return results


_spacy_batcher: MicroBatcher[SpacyItem, list] = MicroBatcher(_spacy_batch, max_batch_size=64, max_wait_ms=2,
    in_worker_processes=True)


async def spacy_one(kind: str, text: str, language: str) -> list:
    result = await _spacy_batcher.submit(SpacyItem(kind, language, text))
    if isinstance(result, Exception):
        raise result
    return result


# ---------------------------------------------------------------------------------------------------------------
# PII
# ---------------------------------------------------------------------------------------------------------------

# Presidio entity names -> Comprehend PII entity types.
PII_TYPES = {
    "PERSON": "NAME",
    "EMAIL_ADDRESS": "EMAIL", "EMAIL": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "US_SSN": "SSN",
    "CREDIT_CARD": "CREDIT_DEBIT_NUMBER",
    "CREDIT_DEBIT_CVV": "CREDIT_DEBIT_CVV",
    "CREDIT_DEBIT_EXPIRY": "CREDIT_DEBIT_EXPIRY",
    "DATE_TIME": "DATE_TIME",
    "LOCATION": "ADDRESS",
    "URL": "URL",
    "IP_ADDRESS": "IP_ADDRESS",
    "MAC_ADDRESS": "MAC_ADDRESS",
    "US_PASSPORT": "PASSPORT_NUMBER",
    "US_DRIVER_LICENSE": "DRIVER_ID",
    "US_BANK_NUMBER": "BANK_ACCOUNT_NUMBER",
    "ABA_ROUTING_NUMBER": "BANK_ROUTING",
    "IBAN_CODE": "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
    "US_ITIN": "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
    "UK_NHS": "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
    "UK_NINO": "UK_NATIONAL_INSURANCE_NUMBER",
    "IN_PAN": "IN_PERMANENT_ACCOUNT_NUMBER",
    "IN_AADHAAR": "IN_AADHAAR",
    "IN_VOTER": "IN_VOTER_NUMBER",
    "CA_SIN": "CA_SOCIAL_INSURANCE_NUMBER",
    "AWS_ACCESS_KEY": "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY": "AWS_SECRET_KEY",
    "PIN": "PIN",
    "AGE": "AGE",
    "PASSWORD": "PASSWORD",
    "USERNAME": "USERNAME",
    "SWIFT_CODE": "SWIFT_CODE",
    "VEHICLE_IDENTIFICATION_NUMBER": "VEHICLE_IDENTIFICATION_NUMBER",
}
# Below this, a match is a guess Presidio itself did not confirm by context: not reported.
PII_MIN_SCORE = 0.3
# When two findings overlap, the more specific one wins at equal score (an SSN is also a valid phone pattern).
_PII_PRIORITY = {"PHONE": 2, "SSN": 3, "CREDIT_DEBIT_NUMBER": 3, "EMAIL": 3, "AWS_ACCESS_KEY": 3, "AGE": 2, "PASSWORD": 2,
                 "USERNAME": 2, "PIN": 2, "CREDIT_DEBIT_CVV": 2, "CREDIT_DEBIT_EXPIRY": 2, "DATE_TIME": 0, "URL": 0}
_NER_TYPES = {"DATE_TIME", "NAME", "ADDRESS", "URL"}
_SSN_SHAPE = re.compile(r"^\d{3}-\d{2}-\d{4}$")


def _resolve_pii(text: str, found: list[tuple[str, int, int, float]]) -> list[dict]:
    candidates = []
    for presidio_type, begin, end, score in found:
        kind = PII_TYPES.get(presidio_type)
        if kind is None:
            continue
        if kind == "PHONE" and _SSN_SHAPE.match(text[begin:end]):
            kind, score = "SSN", max(score, 0.6)  # 3-2-4 digits is how SSNs are written, not phone numbers
        if kind == "UK_NATIONAL_HEALTH_SERVICE_NUMBER" and "nhs" not in text[max(0, begin - 60):begin].lower():
            # 1 in 11 ten-digit numbers passes the NHS checksum: without "NHS" nearby it is most likely a phone.
            score = min(score, PII_MIN_SCORE)
        if score < PII_MIN_SCORE:
            continue
        candidates.append((kind, begin, end, score))
    # The NER's guesses (dates, names, places, URLs) inside (or on) an identifier found by a pattern are fragments
    # of it ("0865" of "+1 703 876 0865" read as a year): the identifier wins whatever the scores.
    candidates = [c for c in candidates if not (c[0] in _NER_TYPES and any(
        o is not c and o[0] not in _NER_TYPES and o[1] <= c[1] and c[2] <= o[2] and (o[2] - o[1]) >= (c[2] - c[1])
        for o in candidates))]
    candidates.sort(key=lambda c: (-(c[3] + 0.1 * _PII_PRIORITY.get(c[0], 1)), -(c[2] - c[1]), c[1]))
    kept: list[tuple[str, int, int, float]] = []
    for candidate in candidates:
        if all(candidate[2] <= other[1] or candidate[1] >= other[2] for other in kept):
            kept.append(candidate)
    kept.sort(key=lambda c: c[1])
    return [{"Score": _round(score), "Type": kind, "BeginOffset": begin, "EndOffset": end}
            for kind, begin, end, score in kept]


def pii_many(texts: list[str], language: str = "en") -> list[list[dict]]:
    found = runtime().models.get("pii").analyze_many(texts)
    return [_resolve_pii(text, items) for text, items in zip(texts, found)]


def pii_labels(entities: list[dict]) -> list[dict]:
    """ContainsPiiEntities: each type found, with its best score."""
    best: dict[str, float] = {}
    for entity in entities:
        best[entity["Type"]] = max(best.get(entity["Type"], 0.0), entity["Score"])
    return [{"Name": name, "Score": score} for name, score in sorted(best.items())]


def redact(text: str, entities: list[dict], mask_mode: str = "MASK", mask_character: str = "*",
           types: set[str] | None = None) -> str:
    """Comprehend's redaction: MASK replaces each character with the mask character, REPLACE_WITH_PII_ENTITY_TYPE
    writes `[TYPE]` in place of the value."""
    pieces, at = [], 0
    for entity in sorted(entities, key=lambda e: e["BeginOffset"]):
        if types is not None and "ALL" not in types and entity["Type"] not in types:
            continue
        begin, end = entity["BeginOffset"], entity["EndOffset"]
        if begin < at:
            continue
        pieces.append(text[at:begin])
        pieces.append(f"[{entity['Type']}]" if mask_mode == "REPLACE_WITH_PII_ENTITY_TYPE"
                      else mask_character * (end - begin))
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


_pii_batcher: MicroBatcher[str, list[dict]] = MicroBatcher(pii_many, max_batch_size=32, max_wait_ms=2,
    in_worker_processes=True)


async def pii_one(text: str) -> list[dict]:
    return await _pii_batcher.submit(text)


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------------------
# Targeted sentiment
# ---------------------------------------------------------------------------------------------------------------

TARGETED_TYPES = {
    "PERSON": "PERSON", "PER": "PERSON", "NORP": "OTHER",
    "ORG": "ORGANIZATION", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "FACILITY",
    "PRODUCT": "COMMERCIAL_ITEM", "EVENT": "EVENT", "WORK_OF_ART": "OTHER", "LAW": "OTHER",
    "DATE": "DATE", "TIME": "DATE",
    "MONEY": "QUANTITY", "PERCENT": "QUANTITY", "QUANTITY": "QUANTITY", "CARDINAL": "QUANTITY", "ORDINAL": "QUANTITY",
    "LANGUAGE": "OTHER", "MISC": "OTHER",
}
_CONTRAST = {"but", "however", "although", "though", "yet", "whereas", "while"}


def _clauses(doc) -> list[tuple[int, int]]:
    """Character spans of clauses: sentences, cut again before contrastive conjunctions."""
    spans = []
    for sent in doc.sents:
        start = sent.start_char
        for token in sent:
            if token.lower_ in _CONTRAST and token.i > sent.start:
                if token.idx > start:
                    spans.append((start, token.idx))
                start = token.idx
        if sent.end_char > start:
            spans.append((start, sent.end_char))
    return spans or [(0, len(doc.text))]


def _targets(doc, language: str) -> list[tuple[int, int, str, float, str]]:
    """(begin, end, type, score, group key) of every mention: named entities, then noun chunks they do not cover."""
    precision = _label_precision(language)
    found = []
    taken: list[tuple[int, int]] = []
    for ent in doc.ents:
        found.append((ent.start_char, ent.end_char, TARGETED_TYPES.get(ent.label_, "OTHER"),
                      precision.get(ent.label_) or 0.8, ent.text.lower()))
        taken.append((ent.start_char, ent.end_char))
    try:
        chunks = list(doc.noun_chunks)
    except (ValueError, NotImplementedError):
        chunks = []
    for chunk in chunks:
        if chunk.root.pos_ == "PRON":
            continue
        begin, end = chunk.start_char, chunk.end_char
        if any(begin < e and end > b for b, e in taken):
            continue
        # Determiners and possessives are not part of what is talked about ("the food" -> "food").
        words = [t for t in chunk if t.pos_ not in ("DET", "PRON") and not t.is_punct]
        if not words:
            continue
        begin, end = words[0].idx, words[-1].idx + len(words[-1].text)
        found.append((begin, end, "OTHER", 0.8, chunk.root.lemma_.lower()))
    return sorted(found)


def targeted_many(texts: list[str], language: str = "en") -> list[list[dict]]:
    docs = spacy_many("docs", texts, language)
    clause_spans = [_clauses(doc) for doc in docs]
    flat = [doc.text[b:e] for doc, spans in zip(docs, clause_spans) for b, e in spans]
    flat_scores = runtime().models.get("sentiment").score_many(flat) if flat else []
    results, at = [], 0
    for doc, spans in zip(docs, clause_spans):
        scores = flat_scores[at:at + len(spans)]
        at += len(spans)
        groups: dict[str, list[dict]] = {}
        for begin, end, kind, score, key in _targets(doc, language):
            clause = next((i for i, (b, e) in enumerate(spans) if b <= begin < e), len(spans) - 1)
            sentiment = sentiment_result(scores[clause])
            groups.setdefault(key, []).append({
                "Score": _round(score), "GroupScore": 1.0, "Text": doc.text[begin:end], "Type": kind,
                "MentionSentiment": sentiment, "BeginOffset": begin, "EndOffset": end,
            })
        entities = []
        for mentions in groups.values():
            best = max(range(len(mentions)), key=lambda i: (mentions[i]["Type"] != "OTHER", len(mentions[i]["Text"])))
            entities.append({"DescriptiveMentionIndex": [best], "Mentions": mentions})
        entities.sort(key=lambda entity: entity["Mentions"][0]["BeginOffset"])
        results.append(entities)
    return results


def _targeted_batch(texts: list[str]) -> list:
    return targeted_many(texts)


_targeted_batcher: MicroBatcher[str, list] = MicroBatcher(_targeted_batch, max_batch_size=32, max_wait_ms=2,
    in_worker_processes=True)


async def targeted_one(text: str) -> list:
    return await _targeted_batcher.submit(text)
