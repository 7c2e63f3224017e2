"""GetSolutionMetrics as Amazon Personalize documents it, and performHPO's search.

AWS's protocol (https://docs.aws.amazon.com/personalize/latest/dg/working-with-training-metrics.html): 90% of the
users train; for each of the other 10%, the oldest 90% of their interactions are the input and the newest 10% the
truth. The input is given to the model as history at scoring time (the way session events are, never trained on) and
is left out of the ranking. RELATED_ITEMS recipes are queried with the user's last input item. Every list is 25 long:

- precision_at_K: hits in the first K / K;  mean_reciprocal_rank_at_25: 1 / rank of the first hit (0 when none);
- normalized_discounted_cumulative_gain_at_K: sum 1/log2(1 + rank) over hits / the same for a perfect list;
- coverage: distinct items recommended to the test users / items in the catalogue (interactions and items dataset).
"""

from __future__ import annotations

import math

import numpy as np

from models.recommend.algorithms import (DEFAULT_HYPERPARAMETERS, HPO_RANGES, RECIPE_TYPES, RELATED_ITEMS,
                                         TrainedModel, train)
from models.recommend.data import RecommenderData, filter_events

METRIC_NAMES = ["coverage", "mean_reciprocal_rank_at_25", "normalized_discounted_cumulative_gain_at_5",
                "normalized_discounted_cumulative_gain_at_10", "normalized_discounted_cumulative_gain_at_25",
                "precision_at_5", "precision_at_10", "precision_at_25"]
LIST_LENGTH = 25
TEST_SHARE = 0.1


def aws_split(data: RecommenderData, seed: int, exclude_users: set[str] = frozenset()
              ) -> tuple[RecommenderData, list[tuple[list[str], set[str]]]]:
    """The training data (every interaction of 90% of the users, the items and users datasets unchanged) and one
    (input items oldest first, truth items) case per test user. exclude_users are left out altogether."""
    frame = data.interactions
    if exclude_users:
        frame = frame[~frame["USER_ID"].astype(str).isin(exclude_users)]
    users = np.array(sorted(frame["USER_ID"].astype(str).unique()))
    if len(users) < 2:
        raise ValueError("metrics need interactions of at least 2 users")
    rng = np.random.default_rng(seed)
    test = set(rng.choice(users, size=max(1, int(round(TEST_SHARE * len(users)))), replace=False))
    held = frame["USER_ID"].astype(str).isin(test)
    cases = []
    for _, events in frame[held].sort_values("TIMESTAMP", kind="stable").groupby(
            frame.loc[held, "USER_ID"].astype(str), sort=True):
        items = events["ITEM_ID"].astype(str).tolist()
        n_truth = max(1, int(round(TEST_SHARE * len(items))))
        given = items[:-n_truth]
        truth = set(items[-n_truth:]) - set(given)  # already-seen items are excluded, so they can never be hit
        if truth:
            cases.append((given, truth))
    train_data = RecommenderData(interactions=frame[~held], items=data.items, users=data.users,
                                 textual_fields=data.textual_fields)
    return train_data, cases


def recommendations_for(model: TrainedModel, given: list[str]) -> list[str]:
    """The 25-long list the protocol scores for one test user."""
    if model.recipe_type == RELATED_ITEMS:
        if not given:
            return []
        seen = set(given)
        related = model.related(given[-1], LIST_LENGTH + len(seen))
        return [item for item, _ in related if item not in seen][:LIST_LENGTH]
    return [item for item, _ in model.recommend(None, LIST_LENGTH, history=given, exclude_seen=True)]


def ranking_metrics(lists: list[list[str]], truths: list[set[str]], catalogue_size: int) -> dict[str, float]:
    sums = {name: 0.0 for name in METRIC_NAMES if name != "coverage"}
    for recommended, truth in zip(lists, truths):
        hits = [item in truth for item in recommended[:LIST_LENGTH]]
        for k in (5, 10, 25):
            sums[f"precision_at_{k}"] += sum(hits[:k]) / k
            dcg = sum(1 / math.log2(rank + 2) for rank, hit in enumerate(hits[:k]) if hit)
            ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(truth))))
            sums[f"normalized_discounted_cumulative_gain_at_{k}"] += dcg / ideal
        sums["mean_reciprocal_rank_at_25"] += next((1 / (rank + 1) for rank, hit in enumerate(hits) if hit), 0.0)
    metrics = {name: value / max(len(lists), 1) for name, value in sums.items()}
    recommended_items = {item for recommended in lists for item in recommended}
    metrics["coverage"] = len(recommended_items) / max(catalogue_size, 1)
    return {name: round(metrics[name], 4) for name in METRIC_NAMES}


def _catalogue_size(data: RecommenderData) -> int:
    items = set(data.interactions["ITEM_ID"].astype(str))
    if data.items is not None and "ITEM_ID" in data.items:
        items |= set(data.items["ITEM_ID"].astype(str))
    return len(items)


def _filtered(data: RecommenderData, event_type, event_value_threshold) -> RecommenderData:
    return RecommenderData(interactions=filter_events(data.interactions, event_type, event_value_threshold),
                           items=data.items, users=data.users, textual_fields=data.textual_fields)


def evaluate_aws(recipe: str, data: RecommenderData, hyperparameters: dict[str, str] | None = None, seed: int = 0,
                 event_type: str | None = None, event_value_threshold: float | None = None,
                 exclude_users: set[str] = frozenset()) -> dict[str, float]:
    """GetSolutionMetrics' metrics for the recipe trained with these hyperparameters (train's event filters apply
    first). exclude_users: users left out of both sides (tune's way to keep the test users unseen)."""
    data = _filtered(data, event_type, event_value_threshold)
    train_data, cases = aws_split(data, seed, exclude_users)
    if not cases:
        raise ValueError("no test user has an interaction to predict")
    model = train(recipe, train_data, hyperparameters, seed=seed)
    lists = [recommendations_for(model, given) for given, _ in cases]
    return ranking_metrics(lists, [truth for _, truth in cases], _catalogue_size(data))


def _sample(ranges: dict, rng: np.random.Generator) -> dict[str, str]:
    """One random point of Personalize-shaped ranges; a range spanning over a decade is sampled on a log scale."""
    point = {}
    for kind in ("integerHyperParameterRanges", "continuousHyperParameterRanges"):
        for entry in ranges.get(kind, []):
            low, high = float(entry["minValue"]), float(entry["maxValue"])
            if low > 0 and high / low > 10:
                value = math.exp(rng.uniform(math.log(low), math.log(high)))
            else:
                value = rng.uniform(low, high)
            point[entry["name"]] = str(int(round(value))) if kind.startswith("integer") else f"{value:.4g}"
    for entry in ranges.get("categoricalHyperParameterRanges", []):
        point[entry["name"]] = str(rng.choice(entry["values"]))
    return point


def tune(recipe: str, data: RecommenderData, seed: int = 0,
         hpo_objective: str = "normalized_discounted_cumulative_gain_at_10", max_jobs: int = 8,
         ranges: dict | None = None, hyperparameters: dict[str, str] | None = None,
         event_type: str | None = None, event_value_threshold: float | None = None
         ) -> tuple[dict[str, str], dict[str, float]]:
    """performHPO: random search over `ranges` (default HPO_RANGES[recipe]), max_jobs trials, the first being the
    defaults. Every trial is measured under AWS's protocol on validation users drawn from the training users:
    evaluate_aws's test users for this seed are left out entirely. hyperparameters: fixed values the search keeps.
    Returns the best full hyperparameters and that trial's validation metrics."""
    if recipe not in RECIPE_TYPES:
        raise ValueError(f"unknown recipe {recipe!r}")
    if hpo_objective not in METRIC_NAMES:
        raise ValueError(f"hpo_objective must be one of {METRIC_NAMES}")
    data = _filtered(data, event_type, event_value_threshold)
    held_out = held_out_users(data, seed)
    fixed = {**DEFAULT_HYPERPARAMETERS[recipe], **{key: str(value) for key, value in (hyperparameters or {}).items()}}
    ranges = HPO_RANGES[recipe] if ranges is None else ranges
    rng = np.random.default_rng(seed)
    trials = [dict(fixed)] + [{**fixed, **_sample(ranges, rng)} for _ in range(max(max_jobs, 1) - 1)]
    best: tuple[dict[str, str], dict[str, float]] | None = None
    for trial in trials:
        metrics = evaluate_aws(recipe, data, trial, seed=seed + 1, exclude_users=held_out)
        if best is None or metrics[hpo_objective] > best[1][hpo_objective]:
            best = (trial, metrics)
    return best


def held_out_users(data: RecommenderData, seed: int) -> set[str]:
    """The users evaluate_aws tests on for this seed."""
    train_data, _ = aws_split(data, seed)
    return set(data.interactions["USER_ID"].astype(str)) - set(train_data.interactions["USER_ID"].astype(str))
