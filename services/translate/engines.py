"""Which engine translates which language pair, and the translation pipeline every operation shares:
terminology placeholders -> engine (directly, or pivoting through English) -> terms restored -> profanity mask."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

from services.gateway.errors import ServiceError
from services.gateway.runtime import runtime
from services.translate.errors import ServiceUnavailable, UnsupportedLanguagePair
from services.translate.languages import normalize

log = logging.getLogger("aigate.translate")

# Best first: a configured neural model beats the rule-based default for the pairs it covers.
ENGINES = ("neural-mt", "apertium")
PIVOT = "en"
_CACHE_SECONDS = 30.0
# Engines whose segments are sentences (neural models degrade on long inputs); Apertium takes whole texts.
_SENTENCE_ENGINES = {"neural-mt"}
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…。！？])(\s+)")


@dataclass(frozen=True)
class Step:
    engine: str
    source: str
    target: str


class Router:
    """Pairs per engine, read from the loaded engines (cached for a few seconds so that a model folder added
    while the gateway runs is picked up without a restart)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pairs: dict[str, set[tuple[str, str]]] = {}
        self._errors: dict[str, str] = {}
        self._at = 0.0

    def refresh(self, force: bool = False) -> dict[str, set[tuple[str, str]]]:
        with self._lock:
            if not force and self._pairs and time.monotonic() - self._at < _CACHE_SECONDS:
                return self._pairs
            pairs: dict[str, set[tuple[str, str]]] = {}
            errors: dict[str, str] = {}
            models = runtime().models
            for name in ENGINES:
                try:
                    engine = models.get(name)
                    rescan = getattr(engine, "rescan", None)
                    if rescan is not None:
                        rescan()
                    pairs[name] = set(engine.pairs)
                except Exception as error:  # an engine without weights (WeightsError) or install is not offered
                    errors[name] = str(error).splitlines()[0]
                    pairs[name] = set()
            self._pairs, self._errors, self._at = pairs, errors, time.monotonic()
            return pairs

    def direct(self, source: str, target: str, exclude: tuple[str, ...] = ()) -> str | None:
        for name, pairs in self.refresh().items():
            if name not in exclude and (source, target) in pairs:
                return name
        return None

    def route(self, source: str, target: str) -> list[Step]:
        engine = self.direct(source, target)
        if engine:
            return [Step(engine, source, target)]
        if PIVOT not in (source, target):
            first, second = self.direct(source, PIVOT), self.direct(PIVOT, target)
            if first and second:
                return [Step(first, source, PIVOT), Step(second, PIVOT, target)]
        raise UnsupportedPair(source, target)

    def languages(self) -> set[str]:
        """Every language some route reaches (as source or target)."""
        found: set[str] = set()
        for pairs in self.refresh().values():
            for source, target in pairs:
                found.update((source, target))
        return found

    def supports(self, source: str, target: str) -> bool:
        try:
            self.route(source, target)
            return True
        except ServiceError:
            return False


ROUTER = Router()


class UnsupportedPair(UnsupportedLanguagePair):
    """No engine route from `source` to `target`."""

    def __init__(self, source: str, target: str, reason: str | None = None):
        super().__init__(f"Unsupported language pair: {source} to {target}. " + (
            reason or "No engine of this gateway translates it; ListLanguages shows the languages they translate."))


def split_sentences(text: str) -> list[str]:
    """Sentences with their trailing whitespace kept on the separator pieces (joins back to `text`)."""
    return _SENTENCE_SPLIT.split(text)


def engine_translate(step: Step, texts: list[str]) -> list[str]:
    models = runtime().models
    with models.use(step.engine) as engine:
        if step.engine not in _SENTENCE_ENGINES:
            return engine.translate(texts, step.source, step.target)
        pieces = [split_sentences(text) for text in texts]
        flat = [piece for parts in pieces for index, piece in enumerate(parts) if index % 2 == 0 and piece.strip()]
        translated = iter(engine.translate([piece.strip() for piece in flat], step.source, step.target)
                          if flat else [])
        out = []
        for parts in pieces:
            rebuilt = []
            for index, piece in enumerate(parts):
                if index % 2 == 1 or not piece.strip():
                    rebuilt.append(piece)
                else:
                    lead = piece[: len(piece) - len(piece.lstrip())]
                    trail = piece[len(piece.rstrip()):]
                    rebuilt.append(lead + next(translated) + trail)
            out.append("".join(rebuilt))
        return out


def translate_texts(texts: list[str], source: str, target: str) -> tuple[list[str], list[Step]]:
    """Translate segments from `source` to `target` along the best route; empty segments stay as they are."""
    source, target = normalize(source), normalize(target)
    if source == target:
        return list(texts), []
    steps = ROUTER.route(source, target)
    todo = [i for i, text in enumerate(texts) if text.strip()]
    current = [texts[i] for i in todo]
    for step in steps:
        if not current:
            break
        failed: tuple[str, ...] = ()
        while True:
            try:
                current = engine_translate(step, current)
                break
            except ServiceError:
                raise
            except Exception as error:
                # A broken model folder must not take the pair down: the next engine that has it answers.
                log.exception("engine %s failed on %s-%s", step.engine, step.source, step.target)
                failed += (step.engine,)
                fallback = ROUTER.direct(step.source, step.target, exclude=failed)
                if fallback is None:
                    raise ServiceUnavailable(f"The {step.engine} engine failed to translate {step.source} to "
                                             f"{step.target}: {type(error).__name__}") from None
                step = Step(fallback, step.source, step.target)
    out = list(texts)
    for i, text in zip(todo, current):
        out[i] = text
    return out, steps
