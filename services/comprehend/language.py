"""Dominant-language detection on the langid engine, in Comprehend's terms."""

from __future__ import annotations

from models.batching import MicroBatcher
from services.gateway.runtime import runtime

# Comprehend lists the likely languages, not all 97: keep candidates above this score.
MIN_SCORE = 0.01
MAX_LANGUAGES = 5


def _languages(ranked: list[tuple[str, float]]) -> list[dict]:
    kept = [(code, score) for code, score in ranked if score >= MIN_SCORE][:MAX_LANGUAGES] or ranked[:1]
    return [{"LanguageCode": code, "Score": round(float(score), 6)} for code, score in kept]


def detect_languages_many(texts: list[str]) -> list[list[dict]]:
    return [_languages(ranked) for ranked in runtime().models.get("langid").classify_many(texts)]


def _rank_many(texts: list[str]) -> list[list[tuple[str, float]]]:
    return runtime().models.get("langid").classify_many(texts, top=MAX_LANGUAGES)


# Concurrent requests share one trip to the worker thread: the per-request hop costs more than langid itself.
_batcher: MicroBatcher[str, list[tuple[str, float]]] = MicroBatcher(_rank_many, max_batch_size=64, max_wait_ms=0)


async def detect_languages_batched(text: str) -> list[dict]:
    return _languages(await _batcher.submit(text))
