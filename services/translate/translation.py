"""One translation request, whatever carries it (TranslateText, a document, a batch job's file): language
detection for `auto`, terminology, the engines' route, profanity masking, and what was applied."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.gateway.runtime import runtime
from services.translate import profanity
from services.translate.engines import ROUTER, Step, UnsupportedPair, translate_texts
from services.translate.errors import DetectedLanguageLowConfidence, TextSizeLimitExceeded, Validation
from services.translate.languages import ENGLISH_NAMES, normalize
from services.translate.terminology import TermSet, applied

MAX_TEXT_BYTES = 10_000  # TranslateText's limit, in UTF-8 bytes
# Auto-detection keeps only the languages Amazon Translate knows (py3langid also scores dialects such as Venetian
# or Extremaduran, which split a short sentence's probability with its major neighbour) and renormalises. Measured
# on 100 short sentences in 11 languages and 15 non-language strings (ok 123, asdf qwer, 12:30, ...): at 0.25,
# 98 sentences accepted, 95 right, no junk accepted; the former rule (all 142 classes, 0.5) accepted 85.
MIN_DETECTION_SCORE = 0.25
# Settings no engine here can honour: Formality needs a formality-aware model (none ships or loads here);
# Brevity is an AWS-only feature.
UNSUPPORTED_SETTINGS = ("Formality", "Brevity")


@dataclass
class Outcome:
    texts: list[str]
    source: str
    target: str
    applied_terminologies: list[dict]
    applied_settings: dict
    steps: list[Step] = field(default_factory=list)


def check_text_size(text: str) -> None:
    """TranslateText's limit on the text's UTF-8 size."""
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise TextSizeLimitExceeded(
            f"Input text size exceeds limit. Max length of request text allowed is {MAX_TEXT_BYTES} bytes while in "
            f"this request the text size is {size} bytes")


_DETECTABLE = frozenset(code.split("-")[0] for code in ENGLISH_NAMES)


def detect_language(text: str) -> str:
    ranked = [(code, score) for code, score in runtime().models.get("langid").rank(text[:5000], top=None)
              if code in _DETECTABLE]
    total = sum(score for _, score in ranked) or 1.0
    code, score = (ranked[0][0], ranked[0][1] / total) if ranked else ("und", 0.0)
    if score < MIN_DETECTION_SCORE:
        raise DetectedLanguageLowConfidence(
            f"Amazon Translate cannot detect the language of the source text with enough confidence "
            f"(best guess {code}, score {score:.2f}); specify SourceLanguageCode.",
        )
    return normalize(code)


def check_known(source: str, target: str) -> None:
    """A code Amazon Translate does not know is UnsupportedLanguagePairException, even source == target
    (AWS words it "Unsupported language pair: en to ef. Target language 'ef' is not supported")."""
    for role, code in (("Source", source), ("Target", target)):
        if code not in ENGLISH_NAMES:
            raise UnsupportedPair(source, target, f"{role} language '{code}' is not supported")


def resolve_pair(source: str, target: str, sample: str) -> tuple[str, str]:
    target = normalize(target)
    if target == "auto":
        raise Validation("TargetLanguageCode cannot be auto.")
    source = detect_language(sample) if source.lower() == "auto" else normalize(source)
    check_known(source, target)
    # Same source and target (given or detected): AWS returns the text unchanged and does not charge it
    # ("Amazon Translate does not charge you for translations in which the source language and target language
    # are the same", docs.aws.amazon.com/translate/latest/dg/what-is-languages.html; "whether user designated or
    # automatically identified", repost.aws/questions/QUL3-PgKN2QrqCEhX2sCD82A). translate_texts passes it through.
    if source != target and not ROUTER.supports(source, target):
        raise UnsupportedPair(source, target)
    return source, target


def translate(principal, texts: list[str], source: str, target: str, terminology_names: list[str] | None,
              settings: dict | None, sample: str | None = None) -> Outcome:
    """`source` may be `auto` (detected on `sample`, default: all texts joined)."""
    settings = settings or {}
    source, target = resolve_pair(source, target, sample if sample is not None else "\n".join(texts))
    terms = TermSet.load(principal, terminology_names, source, target)
    used: dict = {}
    protected, mappings = [], []
    for text in texts:
        safe, mapping = terms.protect(text, used)
        protected.append(safe)
        mappings.append(mapping)
    translated, steps = translate_texts(protected, source, target)
    out = [TermSet.restore(text, mapping) if mapping else text for text, mapping in zip(translated, mappings)]
    applied_settings: dict = {}
    if settings.get("Profanity") == "MASK" and profanity.supports(target):
        # Source-language words an engine left untranslated are masked too.
        out = [profanity.mask(profanity.mask(text, target), source) for text in out]
        applied_settings["Profanity"] = "MASK"
    return Outcome(out, source, target, applied(used, list(terms.names)), applied_settings, steps)
