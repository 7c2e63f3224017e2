"""Recommendations from trained solution versions: GetRecommendations, GetPersonalizedRanking and the lines of a
batch inference job.

Trained models are loaded once per process (a small LRU cache keyed by ARN and file time). What personalize-events
records acts on the next request without retraining: a user's recorded events are passed to the model as session
history, and filters read the imported data joined with the recorded events and items (cached until either
changes).
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.recommend import TrainedModel
from services.gateway.context import Principal
from services.gateway.errors import ServiceError
from services.personalize import datasets
from services.personalize.errors import RuntimeInvalidInput, RuntimeNotFound, TrainingFailed
from services.personalize.filters import FilterExpression, parse_filter, parse_filter_values
from services.personalize.recipes import PERSONALIZED_ACTIONS, PERSONALIZED_RANKING, RELATED_ITEMS, USER_PERSONALIZATION, Recipe, recipe
from services.personalize.store import (
    ACTIVE, ANY, RECOMMENDER, SOLUTION_VERSION, PersonalizeResource, children, dataset_arn, model_path,
)

MAX_RESULTS = 500
MAX_RESULTS_WITH_METADATA = 50
MAX_RANKING_INPUTS = 500
MODELS_KEPT = 8
SCORED = (USER_PERSONALIZATION, PERSONALIZED_RANKING)


# ------------------------------------------------------------------------------------------------ models


_models: OrderedDict[tuple[str, float], TrainedModel] = OrderedDict()
_models_lock = threading.Lock()


def loaded_model(version: PersonalizeResource) -> TrainedModel:
    path = model_path(version)
    if not path.exists():
        raise TrainingFailed(f"The solution version {version.arn} has no trained model.")
    key = (version.arn, path.stat().st_mtime)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    model = TrainedModel.load(str(path))
    with _models_lock:
        _models[key] = model
        while len(_models) > MODELS_KEPT:
            _models.popitem(last=False)
    return model


_served: OrderedDict[tuple, TrainedModel] = OrderedDict()


def served_model(principal: Principal, version: PersonalizeResource, exploration: dict | None = None
                 ) -> TrainedModel:
    """The version's model as a campaign (or batch job) serves it: under its itemExplorationConfig, and with the
    items PutItems recorded since training in its catalogue (recommendable by metadata, without retraining)."""
    base = loaded_model(version)
    items_arn = dataset_arn(version.details["datasetGroupArn"], "Items")
    stamp = datasets.records_stamp(principal, items_arn)
    exploration = exploration or {}
    if stamp is None and not exploration:
        return base
    key = (version.arn, id(base), stamp, tuple(sorted(exploration.items())))
    with _models_lock:
        if key in _served:
            _served.move_to_end(key)
            return _served[key]
    model = base.with_exploration(exploration.get("explorationWeight"), exploration.get("explorationItemAgeCutOff"))
    if stamp is not None:
        model.add_items(datasets.records_frame(principal, ANY.get(principal, items_arn)))
    with _models_lock:
        _served[key] = model
        while len(_served) > MODELS_KEPT:
            _served.popitem(last=False)
    return model


@dataclass(frozen=True)
class Served:
    """What answers a runtime request: the trained resource (a solution version, or a recommender, which trains its
    own model) and the campaign's or recommender's config."""

    version: PersonalizeResource
    config: dict

    @property
    def recipe_type(self) -> str:
        return recipe_of(self.version).recipe_type

    @property
    def exploration(self) -> dict | None:
        return self.config.get("itemExplorationConfig")

    @property
    def with_metadata(self) -> bool:
        return bool(self.config.get("enableMetadataWithRecommendations"))


# What a trained resource serves never changes once it is trained: its row and recipe are kept by (ARN, job), so a
# request reads only its campaign's row (a deleted and re-created recommender has another job).
_trained: dict[tuple[str, str | None], tuple[PersonalizeResource, Recipe]] = {}
_versions: dict[str, PersonalizeResource] = {}


def _trained_entry(version: PersonalizeResource) -> tuple[PersonalizeResource, Recipe]:
    key = (version.arn, version.job_id)
    entry = _trained.get(key)
    if entry is None:
        result = version.state()[2] or {}
        entry = (version, recipe(result.get("recipeArn") or version.spec["snapshot"]["recipeArn"]))
        if result:  # trained: final
            _trained[key] = entry
    return entry


def recipe_of(version: PersonalizeResource) -> Recipe:
    """The recipe a solution version or recommender trained (AutoML's best one, once trained)."""
    return _trained_entry(version)[1]


def served_by(principal: Principal, row: PersonalizeResource) -> Served:
    """A campaign serves its solution version, or with syncWithLatestSolutionVersion its solution's newest ACTIVE
    one; a recommender serves its own model."""
    if row.kind == RECOMMENDER:
        return Served(_trained_entry(row)[0], row.spec.get("recommenderConfig") or {})
    config = row.spec.get("campaignConfig") or {}
    arn = row.spec["solutionVersionArn"]
    if config.get("syncWithLatestSolutionVersion"):
        active = [candidate for candidate in children(principal, row.parent_arn, SOLUTION_VERSION)
                  if candidate.state()[0] == ACTIVE]
        if active:
            arn = active[-1].arn
    version = _versions.get(arn)
    if version is None:
        version = _trained_entry(ANY.get(principal, arn))[0]
        if (version.arn, version.job_id) in _trained:
            _versions[arn] = version  # solution version ARNs are never reused
    return Served(version, config)


# ------------------------------------------------------------------------------------------------ group data


@dataclass
class GroupData:
    """A dataset group's frames as filters read them, with each user's interaction rows found in one lookup, and
    the stamp of the data they were read from."""

    interactions: pd.DataFrame
    items: pd.DataFrame | None
    users: pd.DataFrame | None
    rows_of_user: dict
    files: tuple  # the datasets' stored files and recorded records when read
    events: tuple[int, int]  # datasets.events_stamp of the events included

    def user_interactions(self, user_id: str | None) -> pd.DataFrame:
        rows = self.rows_of_user.get(user_id)
        return self.interactions.iloc[rows if rows is not None else []]

    def with_events(self, new: pd.DataFrame, events: tuple[int, int]) -> "GroupData":
        """The same data with events recorded since appended (a new frame: the filters cache frames by identity)."""
        start = len(self.interactions)
        frame = pd.concat([self.interactions, new], ignore_index=True) if len(new) else self.interactions
        rows = dict(self.rows_of_user)
        for user, positions in new.groupby("USER_ID").indices.items():
            rows[user] = np.concatenate([rows.get(user, np.zeros(0, dtype=np.int64)), positions + start])
        return GroupData(frame, self.items, self.users, rows, self.files, events)


_groups: dict[str, GroupData] = {}
_groups_lock = threading.Lock()


def _files_stamp(principal: Principal, group_arn: str) -> tuple:
    found = datasets.datasets(principal, group_arn)
    files = tuple(sorted((kind, datasets.stored_path(row).stat().st_mtime if datasets.stored_path(row).exists()
                          else 0.0) for kind, row in found.items()))
    records = tuple(datasets.records_stamp(principal, row.arn) for _, row in sorted(found.items()))
    return files, records


def group_data(principal: Principal, group_arn: str) -> GroupData:
    """The group's data, read once per process and kept current: events recorded since are appended; a new import,
    a deletion or new records read it again."""
    files, events = _files_stamp(principal, group_arn), datasets.events_stamp(principal, group_arn)
    with _groups_lock:
        cached = _groups.get(group_arn)
    if cached is not None and cached.files == files:
        if cached.events == events:
            return cached
        (count, newest), (cached_count, cached_newest) = events, cached.events
        if newest > cached_newest and \
                count == cached_count + datasets.events_between(principal, group_arn, cached_newest, newest):
            new = datasets.events_frame(principal, group_arn, after_id=cached_newest, up_to_id=newest)
            loaded = cached.with_events(new, events)
            with _groups_lock:
                _groups[group_arn] = loaded
            return loaded
    data = datasets.group_data(principal, group_arn, events_up_to=events[1])  # exactly the events stamped
    frame = data.interactions.reset_index(drop=True)
    loaded = GroupData(frame, data.items, data.users, frame.groupby("USER_ID").indices if len(frame) else {},
                       files, events)
    with _groups_lock:
        _groups[group_arn] = loaded
    return loaded


# ------------------------------------------------------------------------------------------------ filters


_filters: dict[tuple[str, str], FilterExpression] = {}


def compiled_filter(row: PersonalizeResource) -> FilterExpression:
    key = (row.arn, row.spec["filterExpression"])
    if key not in _filters:
        _filters[key] = parse_filter(row.spec["filterExpression"])
    return _filters[key]


def _runtime_error(error: Exception) -> RuntimeInvalidInput:
    return RuntimeInvalidInput(getattr(error, "message", str(error)))


def filter_mask(principal: Principal, filter_row: PersonalizeResource, values: dict[str, str] | None,
                candidates: np.ndarray, user_id: str | None, data: GroupData, current_item: str | None = None
                ) -> np.ndarray:
    expression = compiled_filter(filter_row)
    try:
        parsed = parse_filter_values(expression, values or {})
        return expression.allowed_items(candidates, data.items, data.user_interactions(user_id), data.users,
                                        user_id, parsed, current_item=current_item)
    except ServiceError as error:  # the control plane's InvalidInput: the runtime answers its own
        raise _runtime_error(error) from None


def _filter_row(principal: Principal, arn: str | None, group_arn: str) -> PersonalizeResource | None:
    if not arn:
        return None
    row = ANY.find(principal, arn)
    if row is None or row.kind != "filter":
        raise RuntimeNotFound(f"Resource {arn} does not exist.")
    if row.parent_arn != group_arn:
        raise RuntimeInvalidInput(f"The filter {arn} is not of the campaign's or recommender's dataset group.")
    return row


# ------------------------------------------------------------------------------------------------ requests


def recommendation_id() -> str:
    raw = secrets.token_hex(16)
    return f"RID-{raw[:2]}-{raw[2:6]}-{raw[6:10]}-{raw[10:14]}-{raw[14:]}"


def session_history(principal: Principal, group_arn: str, user_id: str | None) -> list[str]:
    """The items of the user's recorded events, oldest first: they shift recommendations without retraining."""
    return datasets.recorded_items(principal, group_arn, user_id, "item") if user_id else []


def _metadata(data: GroupData, columns: dict[str, list[str]] | None, item_ids: list[str]) -> list[dict] | None:
    if not columns:
        return None
    wanted = columns.get("ITEMS") or []
    if data.items is None:
        raise RuntimeInvalidInput("metadataColumns needs an Items dataset.")
    unknown = [name for name in wanted if name not in data.items.columns]
    if unknown:
        raise RuntimeInvalidInput(f"The Items dataset has no column {unknown[0]}.")
    indexed = data.items.set_index("ITEM_ID")
    out = []
    for item in item_ids:
        if item in indexed.index:
            row = indexed.loc[item]
            out.append({name: "" if pd.isna(row[name]) else str(row[name]) for name in wanted})
        else:
            out.append({})
    return out


def _scored(recipe_type: str, pairs: list[tuple[str, float | None]], metadata: list[dict] | None,
            promoted: set[str], promotion: str | None) -> list[dict]:
    out = []
    for index, (item, score) in enumerate(pairs):
        entry = {"itemId": item}
        if recipe_type in SCORED and score is not None:
            entry["score"] = float(f"{score:.7g}")
        if item in promoted:
            entry["promotionName"] = promotion
        if metadata is not None:
            entry["metadata"] = metadata[index]
        out.append(entry)
    return out


def check_results(number: int | None, with_metadata: bool) -> int:
    limit = MAX_RESULTS_WITH_METADATA if with_metadata else MAX_RESULTS
    number = 25 if number is None else number
    if not 1 <= number <= limit:
        raise RuntimeInvalidInput(f"numResults must be between 1 and {limit}.")
    return number


def _check_metadata(served: Served, columns: dict | None) -> None:
    if columns and not served.with_metadata:
        raise RuntimeInvalidInput("metadataColumns needs a campaign or recommender with "
                                  "enableMetadataWithRecommendations.")


def recommendations(principal: Principal, served: Served, request: dict) -> dict:
    version = served.version
    model = served_model(principal, version, served.exploration)
    group_arn = version.details["datasetGroupArn"]
    metadata_columns = request.get("metadataColumns")
    _check_metadata(served, metadata_columns)
    number = check_results(request.get("numResults"), bool(metadata_columns))
    user_id, item_id = request.get("userId"), request.get("itemId")
    recipe_type = served.recipe_type
    if recipe_type == RELATED_ITEMS and not item_id:
        raise RuntimeInvalidInput("itemId is required for a related-items campaign.")
    if recipe_type == USER_PERSONALIZATION and not user_id:
        raise RuntimeInvalidInput("userId is required for a user-personalization campaign.")
    if recipe_type not in (RELATED_ITEMS, USER_PERSONALIZATION):
        raise RuntimeInvalidInput(f"GetRecommendations does not serve {recipe_type} campaigns.")
    # Only filters, promotions and metadata read the group's data.
    needs_data = bool(request.get("filterArn") or request.get("promotions") or metadata_columns)
    data = group_data(principal, group_arn) if needs_data else None
    candidates = np.asarray(model.item_ids, dtype=object) if needs_data else None
    allowed = None
    filter_row = _filter_row(principal, request.get("filterArn"), group_arn)
    if filter_row is not None:
        allowed = filter_mask(principal, filter_row, request.get("filterValues"), candidates, user_id, data,
                              current_item=item_id)
    promotion = (request.get("promotions") or [None])[0]
    promoted: set[str] = set()
    if recipe_type == RELATED_ITEMS:
        pairs = model.related(item_id, number, allowed=allowed, user_id=user_id)
        if not pairs:  # an item the model never saw, without metadata: the popular items, as AWS answers
            pairs = model.recommend(None, number, allowed=allowed)
    else:
        history = session_history(principal, group_arn, user_id)
        pairs = model.recommend(user_id, number, history=history, allowed=allowed)
        if promotion is not None:
            pairs, promoted = _promote(principal, model, promotion, pairs, number, candidates, user_id, history,
                                       allowed, group_arn, data)
    items = [item for item, _ in pairs]
    metadata = _metadata(data, metadata_columns, items)
    return {"itemList": _scored(recipe_type, pairs, metadata, promoted, promotion and promotion["name"]),
            "recommendationId": recommendation_id()}


def _promote(principal, model, promotion, pairs, number, candidates, user_id, history, allowed, group_arn, data):
    """A share of the results from the items the promotion's filter allows, spread through the list."""
    row = _filter_row(principal, promotion.get("filterArn"), group_arn)
    if row is None:
        raise RuntimeInvalidInput("A promotion needs a filterArn.")
    share = promotion.get("percentPromotedItems", 10)
    mask = filter_mask(principal, row, promotion.get("filterValues"), candidates, user_id, data)
    if allowed is not None:
        mask = mask & allowed
    count = math.ceil(number * share / 100)
    chosen = model.recommend(user_id, count, history=history, allowed=mask)
    chosen_ids = {item for item, _ in chosen}
    rest = [pair for pair in pairs if pair[0] not in chosen_ids][:number - len(chosen)]
    out = list(rest)
    step = max(1, len(out) // max(1, len(chosen)))
    for index, pair in enumerate(chosen):
        out.insert(min(len(out), index * (step + 1)), pair)
    return out[:number], chosen_ids


def ranking(principal: Principal, served: Served, request: dict) -> dict:
    version = served.version
    model = served_model(principal, version)
    if served.recipe_type != PERSONALIZED_RANKING:
        raise RuntimeInvalidInput(f"GetPersonalizedRanking needs a personalized-ranking campaign; this one is "
                                  f"{served.recipe_type}.")
    inputs = request["inputList"]
    if not 1 <= len(inputs) <= MAX_RANKING_INPUTS:
        raise RuntimeInvalidInput(f"inputList must have between 1 and {MAX_RANKING_INPUTS} items.")
    metadata_columns = request.get("metadataColumns")
    _check_metadata(served, metadata_columns)
    group_arn = version.details["datasetGroupArn"]
    data = group_data(principal, group_arn) if request.get("filterArn") or metadata_columns else None
    user_id = request["userId"]
    history = session_history(principal, group_arn, user_id)
    pairs = model.rank(user_id, list(dict.fromkeys(inputs)), history=history)
    filter_row = _filter_row(principal, request.get("filterArn"), group_arn)
    if filter_row is not None:
        candidates = np.asarray([item for item, _ in pairs], dtype=object)
        keep = filter_mask(principal, filter_row, request.get("filterValues"), candidates, user_id, data)
        pairs = [pair for pair, kept in zip(pairs, keep) if kept]
    items = [item for item, _ in pairs]
    metadata = _metadata(data, metadata_columns, items)
    return {"personalizedRanking": _scored(PERSONALIZED_RANKING, pairs, metadata, set(), None),
            "recommendationId": recommendation_id()}


def action_recommendations(principal: Principal, served: Served, request: dict) -> dict:
    """The actions a user is most likely to take next; actions stay recommendable after they are taken, as
    Personalize's repeatable actions do."""
    if served.recipe_type != PERSONALIZED_ACTIONS:
        raise RuntimeInvalidInput(f"GetActionRecommendations needs a next-best-action campaign; this one is "
                                  f"{served.recipe_type}.")
    if request.get("filterArn"):
        raise RuntimeInvalidInput("Filters select items and users; this gateway has no action filters.")
    number = check_results(request.get("numResults"), False)
    version = served.version
    model = served_model(principal, version)
    user_id = request.get("userId")
    history = [] if not user_id else list(datasets.events_frame(
        principal, version.details["datasetGroupArn"], user_id, target="action")["ITEM_ID"])
    pairs = model.recommend(user_id, number, history=history, exclude_seen=False)
    return {"actionList": [{"actionId": action, "score": float(f"{score:.7g}")} for action, score in pairs],
            "recommendationId": recommendation_id()}


# ------------------------------------------------------------------------------------------------ batch lines


def batch_line(principal: Principal, version: PersonalizeResource, model: TrainedModel,
               filter_row: PersonalizeResource | None, spec: dict, given: dict) -> dict:
    """One line of a batch inference job's output, as AWS writes them: input, output and error."""
    group_arn = version.details["datasetGroupArn"]
    data = group_data(principal, group_arn)
    user_id, item_id, item_list = given.get("userId"), given.get("itemId"), given.get("itemList")
    candidates = np.asarray(model.item_ids, dtype=object)
    allowed = None
    if filter_row is not None:
        allowed = filter_mask(principal, filter_row, given.get("filterValues"), candidates, user_id, data)
    number_wanted = spec["numResults"]
    recipe_type = recipe_of(version).recipe_type
    if recipe_type == PERSONALIZED_RANKING:
        if not isinstance(item_list, list) or not user_id:
            return {"input": given, "output": None, "error": "A ranking line needs userId and itemList."}
        pairs = model.rank(str(user_id), [str(item) for item in item_list])
        if allowed is not None:
            keep = set(candidates[allowed])
            pairs = [pair for pair in pairs if pair[0] in keep]
    elif recipe_type == RELATED_ITEMS:
        if not item_id:
            return {"input": given, "output": None, "error": "A related-items line needs itemId."}
        pairs = model.related(str(item_id), number_wanted, allowed=allowed) or \
            model.recommend(None, number_wanted, allowed=allowed)
    else:
        if not user_id:
            return {"input": given, "output": None, "error": "A user-personalization line needs userId."}
        pairs = model.recommend(str(user_id), number_wanted, allowed=allowed)
    output = {"recommendedItems": [item for item, _ in pairs]}
    if recipe_type in SCORED:
        output["scores"] = [None if score is None else float(f"{score:.7g}") for _, score in pairs]
    return {"input": given, "output": output, "error": None}


def segment_line(principal: Principal, version: PersonalizeResource, model: TrainedModel,
                 filter_row: PersonalizeResource | None, spec: dict, given: dict) -> dict:
    """One line of a batch segment job's output: the users most likely to interact with the line's items
    (`itemIds`, aws-item-affinity) or with the items of an attribute expression (`itemAttributes`,
    aws-item-attribute-affinity)."""
    data = group_data(principal, version.details["datasetGroupArn"])
    wanted = spec["numResults"]
    # With a filter, every user is scored and the filter keeps those it allows.
    count = len(model.user_ids) if filter_row is not None else wanted
    try:
        if "itemIds" in given:
            if not isinstance(given["itemIds"], list) or not given["itemIds"]:
                return {"input": given, "output": None, "error": "itemIds must be a list of item ids."}
            users = model.users_for_items([str(item) for item in given["itemIds"]], count)
        elif "itemAttributes" in given:
            expression = parse_filter(f"INCLUDE ItemID WHERE {given['itemAttributes']}")
            mask = expression.allowed_items(np.asarray(model.item_ids, dtype=object), data.items, None, data.users,
                                            None, {})
            users = model.users_for_attribute(mask, count)
        else:
            return {"input": given, "output": None, "error": "A line needs itemIds or itemAttributes."}
    except (ValueError, ServiceError) as error:  # an unknown item, a bad itemAttributes expression
        return {"input": given, "output": None, "error": getattr(error, "message", str(error))}
    if filter_row is not None:
        expression = compiled_filter(filter_row)
        values = parse_filter_values(expression, given.get("filterValues") or {})
        allowed = expression.allowed_users(np.asarray([user for user, _ in users], dtype=object), data.items,
                                           data.interactions, data.users, values)
        users = [pair for pair, kept in zip(users, allowed) if kept][:wanted]
    return {"input": given, "output": {"usersList": [user for user, _ in users]}, "error": None}
