"""models/recommend on MovieLens-100k (read from the recbole wheel) and small synthetic sets: real behaviour of the
recipes' algorithms, no service."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.recommend import (DEFAULT_HYPERPARAMETERS, HPO_RANGES, METRIC_NAMES, RECIPE_TYPES, RecommenderData,
                              TrainedModel, evaluate_aws, movielens_100k, train, tune)
from models.recommend.evaluation import held_out_users


@pytest.fixture(scope="module")
def ml() -> RecommenderData:
    return movielens_100k()


@pytest.fixture(scope="module")
def genres(ml) -> dict[str, set[str]]:
    return {item: set(value.split("|")) for item, value in zip(ml.items["ITEM_ID"], ml.items["GENRES"])}


@pytest.fixture(scope="module")
def personalization(ml) -> TrainedModel:
    return train("aws-user-personalization", ml, seed=0)


@pytest.fixture(scope="module")
def similar(ml) -> TrainedModel:
    return train("aws-similar-items", ml, seed=0)


def _items_of_genre(ml, genre: str) -> list[str]:
    return ml.items.loc[ml.items["GENRES"].str.split("|").apply(lambda values: genre in values), "ITEM_ID"].tolist()


def test_loader_reads_ml100k(ml):
    assert len(ml.interactions) == 100_000
    assert ml.interactions["USER_ID"].nunique() == 943 and len(ml.items) == 1682
    assert ml.interactions["TIMESTAMP"].dtype == np.int64
    assert set(ml.items.loc[ml.items["ITEM_ID"] == "1", "GENRES"].iloc[0].split("|")) == {
        "Animation", "Children's", "Comedy"}


def test_every_recipe_has_a_type_defaults_and_ranges():
    assert RECIPE_TYPES["aws-hrnn-coldstart"] == "USER_PERSONALIZATION"
    assert RECIPE_TYPES["aws-item-attribute-affinity"] == "USER_SEGMENTATION"
    for recipe in RECIPE_TYPES:
        assert all(isinstance(value, str) for value in DEFAULT_HYPERPARAMETERS[recipe].values())
        assert set(HPO_RANGES[recipe]) == {"integerHyperParameterRanges", "continuousHyperParameterRanges",
                                           "categoricalHyperParameterRanges"}


def test_aws_metrics_beat_popularity(ml):
    personal = evaluate_aws("aws-user-personalization", ml, {}, seed=0)
    popular = evaluate_aws("aws-popularity-count", ml, {}, seed=0)
    assert list(personal) == METRIC_NAMES
    assert all(0 <= value <= 1 for value in personal.values())
    assert personal["normalized_discounted_cumulative_gain_at_10"] > 1.5 * popular[
        "normalized_discounted_cumulative_gain_at_10"]
    assert personal["mean_reciprocal_rank_at_25"] > popular["mean_reciprocal_rank_at_25"]
    assert personal["coverage"] > 2 * popular["coverage"]


def test_scores_sum_to_one_best_first(personalization):
    everything = personalization.recommend("1", len(personalization.item_ids))
    scores = [score for _, score in everything]
    assert sum(scores) == pytest.approx(1, abs=1e-4)
    assert scores == sorted(scores, reverse=True)
    assert len(personalization.recommend("1", 10)) == 10


def test_session_history_shifts_recommendations(personalization, ml, genres):
    horror = [item for item in _items_of_genre(ml, "Horror")
              if personalization.arrays["popularity"][personalization.item_ids.index(item)] >= 50][:10]
    cold_start = [item for item, _ in personalization.recommend(None, 10)]
    with_history = [item for item, _ in personalization.recommend(None, 10, history=horror)]
    assert sum("Horror" in genres[item] for item in with_history) >= 3 + sum(
        "Horror" in genres[item] for item in cold_start)
    known = [item for item, _ in personalization.recommend("1", 10)]
    assert [item for item, _ in personalization.recommend("1", 10, history=horror)] != known


def test_exclude_seen_and_allowed(personalization, ml):
    seen = set(ml.interactions.loc[ml.interactions["USER_ID"] == "1", "ITEM_ID"])
    unseen_only = [item for item, _ in personalization.recommend("1", 100)]
    assert not seen & set(unseen_only)
    assert seen & {item for item, _ in personalization.recommend("1", 100, exclude_seen=False)}
    assert "50" not in {item for item, _ in personalization.recommend(None, 100, history=["50"])}
    allowed = np.zeros(len(personalization.item_ids), dtype=bool)
    allowed[:20] = True
    answer = personalization.recommend("1", 50, allowed=allowed, exclude_seen=False)
    assert len(answer) == 20 and {item for item, _ in answer} == set(personalization.item_ids[:20])


def test_related_items_share_genres_more_than_chance(similar, genres):
    def overlap(a: str, b: str) -> float:
        return len(genres[a] & genres[b]) / len(genres[a] | genres[b])

    queries = [str(item) for item in range(1, 101)]
    related = [np.mean([overlap(query, item) for item, _ in similar.related(query, 10)]) for query in queries]
    chance = [np.mean([overlap(query, item) for item in genres]) for query in queries]
    assert np.mean(related) > 1.5 * np.mean(chance)
    assert all(item != "50" for item, _ in similar.related("50", 10))
    assert similar.related("no-such-item", 10) == []


def test_cold_item_with_metadata_gets_related_items(ml, genres):
    # Item 50 (Star Wars) keeps its metadata but loses every interaction: a cold item.
    cold = RecommenderData(ml.interactions[ml.interactions["ITEM_ID"] != "50"], ml.items, ml.users, ml.textual_fields)
    model = train("aws-sims", cold)
    answer = model.related("50", 10)
    assert len(answer) == 10
    assert np.mean(["Sci-Fi" in genres[item] for item, _ in answer]) >= 0.5
    model.add_items(pd.DataFrame({"ITEM_ID": ["new-horror"], "TITLE": ["Night of the Living Dead Returns"],
                                  "GENRES": ["Horror"], "RELEASE_YEAR": [1998]}))
    answer = model.related("new-horror", 10)
    assert np.mean(["Horror" in genres[item] for item, _ in answer]) >= 0.8


def test_new_item_reaches_users_through_exploration(ml):
    model = train("aws-user-personalization", ml, {"exploration_weight": "0.9"})
    model.add_items(pd.DataFrame({"ITEM_ID": ["new-trek"], "TITLE": ["Star Trek: The Next Voyage"],
                                  "GENRES": ["Action|Adventure|Sci-Fi"], "RELEASE_YEAR": [1998]}))
    trek_fans = ["222", "227", "228", "229", "230", "380"]
    assert "new-trek" in [item for item, _ in model.recommend(None, 10, history=trek_fans)]
    without = model.with_exploration(exploration_weight="0")
    assert "new-trek" not in [item for item, _ in without.recommend(None, 100, history=trek_fans)]
    assert model.hyperparameters["exploration_weight"] == "0.9"


def test_rank_puts_unknown_items_last(personalization):
    ranked = personalization.rank("1", ["50", "bogus", "181", "100", "also-bogus"])
    assert [item for item, _ in ranked[-2:]] == ["bogus", "also-bogus"]
    assert all(score is None for _, score in ranked[-2:])
    scores = [score for _, score in ranked[:3]]
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1, abs=1e-5)


def test_save_load_round_trip(tmp_path, personalization, similar):
    for model in (personalization, similar):
        path = str(tmp_path / f"{model.recipe}.npz")
        model.save(path)
        back = TrainedModel.load(path)
        assert back.item_ids == model.item_ids and back.algorithm == model.algorithm
        if model.recipe_type == "RELATED_ITEMS":
            assert back.related("50", 20) == model.related("50", 20)
        else:
            assert back.recommend("1", 25) == model.recommend("1", 25)
            assert back.recommend(None, 25, history=["50", "181"]) == model.recommend(None, 25, history=["50", "181"])
            assert back.rank("1", ["50", "181", "x"]) == model.rank("1", ["50", "181", "x"])


def test_als_folds_in_session_history(ml, tmp_path):
    model = train("aws-user-personalization", ml, {"algorithm": "als", "als_iterations": "5"}, seed=0)
    base = [item for item, _ in model.recommend("1", 10)]
    assert [item for item, _ in model.recommend("1", 10, history=["222", "227", "228", "229"])] != base
    model.save(str(tmp_path / "als.npz"))
    assert TrainedModel.load(str(tmp_path / "als.npz")).recommend("1", 10) == model.recommend("1", 10)


def _synthetic_burst() -> RecommenderData:
    rng = np.random.default_rng(0)
    day = 86_400
    rows = [(f"u{rng.integers(500)}", f"i{rng.integers(20)}", int(rng.integers(0, 30 * day))) for _ in range(3000)]
    rows += [(f"u{rng.integers(500)}", "steady-hit", int(rng.integers(0, 30 * day))) for _ in range(1500)]
    rows += [(f"u{rng.integers(500)}", "burst", int(rng.integers(29 * day, 30 * day))) for _ in range(60)]
    return RecommenderData(pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"]))


def test_trending_now_ranks_a_burst_first_popularity_the_steady_hit():
    data = _synthetic_burst()
    assert train("aws-trending-now", data).recommend(None, 3)[0][0] == "burst"
    popular = train("aws-popularity-count", data).recommend(None, 3)
    assert popular[0][0] == "steady-hit" and 0 < popular[0][1] < 1


def test_item_affinity_finds_the_genre_fans(ml):
    model = train("aws-item-affinity", ml)
    horror = set(_items_of_genre(ml, "Horror"))
    users = [user for user, _ in model.users_for_items(sorted(horror), 20)]
    share = ml.interactions.assign(horror=ml.interactions["ITEM_ID"].isin(horror)).groupby("USER_ID")["horror"].mean()
    assert share[users].mean() > 2 * share.mean()
    mask = np.isin(model.item_ids, sorted(horror))
    assert model.users_for_attribute(mask, 20) == model.users_for_items(sorted(horror), 20)


def test_event_filters_and_degenerate_data(ml):
    liked = train("aws-popularity-count", ml, event_value_threshold=4.0)
    assert liked.arrays["popularity"].sum() == (ml.interactions["EVENT_VALUE"] >= 4).sum()
    with pytest.raises(ValueError, match="no interactions"):
        train("aws-user-personalization", ml, event_type="purchase")
    with pytest.raises(ValueError):
        train("aws-no-such-recipe", ml)
    with pytest.raises(ValueError, match="semantic"):
        train("aws-semantic-similarity", RecommenderData(ml.interactions))


def test_semantic_similarity_finds_the_sequels(ml):
    model = train("aws-semantic-similarity", ml)
    assert model.algorithm in ("semantic_minilm", "semantic_tfidf")
    titles = dict(zip(ml.items["ITEM_ID"], ml.items["TITLE"]))
    star_trek = [titles[item] for item, _ in model.related("222", 5)]  # Star Trek: First Contact
    assert sum("Star Trek" in title for title in star_trek) >= 3


def test_next_best_action_on_an_actions_dataset():
    rng = np.random.default_rng(1)
    actions = pd.DataFrame({"ITEM_ID": ["signup", "upgrade", "refer", "survey"],
                            "CATEGORY": ["growth", "revenue", "growth", "research"]})
    rows = [(f"u{user}", action, step) for user in range(200) for step, action in
            enumerate(rng.choice(["signup", "upgrade"] if user % 2 else ["refer", "survey"], size=5))]
    model = train("aws-next-best-action", RecommenderData(pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID",
                                                                                        "TIMESTAMP"]), actions))
    assert model.recipe_type == "NEXT_BEST_ACTION"
    assert model.recommend(None, 1, history=["signup"], exclude_seen=True)[0][0] == "upgrade"


def test_tune_searches_on_validation_users(ml):
    best, metrics = tune("aws-user-personalization", ml, seed=0, max_jobs=3)
    assert set(best) >= set(DEFAULT_HYPERPARAMETERS["aws-user-personalization"])
    assert all(isinstance(value, str) for value in best.values())
    default_metrics = evaluate_aws("aws-user-personalization", ml, DEFAULT_HYPERPARAMETERS[
        "aws-user-personalization"], seed=1, exclude_users=held_out_users(ml, 0))
    assert metrics["normalized_discounted_cumulative_gain_at_10"] >= default_metrics[
        "normalized_discounted_cumulative_gain_at_10"]

