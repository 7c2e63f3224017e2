"""A dataset group's data as the algorithms and filters read it: what the imports stored (one Parquet file per
dataset) joined with what personalize-events recorded since (events, items, users).

Frames use the schema's column names: USER_ID, ITEM_ID, TIMESTAMP (epoch seconds), EVENT_TYPE, EVENT_VALUE and the
metadata fields.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, select

from models.recommend import RecommenderData
from services.gateway.context import Principal
from services.gateway.kit.resources import session
from services.personalize.schemas import Schema, parse_schema
from services.personalize.store import (
    DATASET, SCHEMA, TABLES, PersonalizeResource, RecordedEvent, RecordedRecord, children, data_path,
)

# The id column of each dataset type, and the name filters give the dataset.
ID_COLUMNS = {"Interactions": None, "Items": "ITEM_ID", "Users": "USER_ID", "Actions": "ACTION_ID",
              "Action_Interactions": None}
FILTER_NAMES = {"Interactions": "Interactions", "Items": "Items", "Users": "Users"}
INTERACTION_COLUMNS = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]


def datasets(principal: Principal, group_arn: str) -> dict[str, PersonalizeResource]:
    """The group's datasets by type (Interactions, Items, Users, ...)."""
    return {row.spec["datasetType"]: row for row in children(principal, group_arn, DATASET)}


def schema_of(principal: Principal, dataset: PersonalizeResource) -> Schema:
    return parse_schema(TABLES[SCHEMA].get(principal, dataset.spec["schemaArn"]).spec["schema"])


def stored_path(dataset: PersonalizeResource):
    return data_path(dataset.account_id, dataset.arn, "parquet")


def stored_frame(dataset: PersonalizeResource) -> pd.DataFrame | None:
    """What the dataset's imports stored, or None before its first import."""
    path = stored_path(dataset)
    return pd.read_parquet(path) if path.exists() else None


def events_frame(principal: Principal, group_arn: str, user_id: str | None = None, target: str = "item",
                 after_id: int = 0, up_to_id: int | None = None) -> pd.DataFrame:
    """The interactions personalize-events recorded for the group (of one user when given; with ids in
    (after_id, up_to_id] when given): item interactions, or with target "action" action interactions (their action
    id in ITEM_ID)."""
    query = select(RecordedEvent.user_id, RecordedEvent.item_id, RecordedEvent.timestamp, RecordedEvent.event_type,
                   RecordedEvent.event_value).where(
        RecordedEvent.account_id == principal.account_id, RecordedEvent.region == principal.region,
        RecordedEvent.dataset_group_arn == group_arn, RecordedEvent.item_id.is_not(None),
        RecordedEvent.target == target, RecordedEvent.id > after_id)
    if user_id is not None:
        query = query.where(RecordedEvent.user_id == user_id)
    if up_to_id is not None:
        query = query.where(RecordedEvent.id <= up_to_id)
    with session() as db:
        rows = db.execute(query.order_by(RecordedEvent.id)).all()
    frame = pd.DataFrame(rows, columns=INTERACTION_COLUMNS)
    return frame.astype({"USER_ID": "string", "ITEM_ID": "string", "TIMESTAMP": "int64", "EVENT_TYPE": "string",
                         "EVENT_VALUE": "float64"}).astype({"USER_ID": object, "ITEM_ID": object,
                                                              "EVENT_TYPE": object})


def events_stamp(principal: Principal, group_arn: str) -> tuple[int, int]:
    """(how many events the group has recorded, the newest one's id): a reader's cache is current while both hold,
    and only appended to while the count grew by what came after its newest id."""
    with session() as db:
        count, newest = db.execute(select(func.count(), func.max(RecordedEvent.id)).where(
            RecordedEvent.account_id == principal.account_id, RecordedEvent.dataset_group_arn == group_arn)).one()
    return count, newest or 0


def events_between(principal: Principal, group_arn: str, after_id: int, up_to_id: int) -> int:
    """How many events of the group have ids in (after_id, up_to_id]."""
    with session() as db:
        return db.scalar(select(func.count()).where(
            RecordedEvent.account_id == principal.account_id, RecordedEvent.dataset_group_arn == group_arn,
            RecordedEvent.id > after_id, RecordedEvent.id <= up_to_id)) or 0


def records_frame(principal: Principal, dataset: PersonalizeResource) -> pd.DataFrame | None:
    """Items, users or actions that PutItems / PutUsers / PutActions recorded for the dataset."""
    with session() as db:
        rows = db.execute(select(RecordedRecord.record_id, RecordedRecord.properties).where(
            RecordedRecord.account_id == principal.account_id, RecordedRecord.region == principal.region,
            RecordedRecord.dataset_arn == dataset.arn)).all()
    if not rows:
        return None
    column = ID_COLUMNS[dataset.spec["datasetType"]]
    return pd.DataFrame([{column: record_id, **properties} for record_id, properties in rows])


def recorded_items(principal: Principal, group_arn: str, user_id: str, target: str) -> list[str]:
    """The items (or actions) of one user's recorded events, oldest first (one indexed query: it runs per request)."""
    with session() as db:
        return list(db.scalars(select(RecordedEvent.item_id).where(
            RecordedEvent.account_id == principal.account_id, RecordedEvent.user_id == user_id,
            RecordedEvent.dataset_group_arn == group_arn, RecordedEvent.target == target,
            RecordedEvent.item_id.is_not(None)).order_by(RecordedEvent.id)))


def records_stamp(principal: Principal, dataset_arn: str) -> str | None:
    """When the dataset's recorded items, users or actions last changed (None: it has none)."""
    with session() as db:
        count, newest = db.execute(select(func.count(), func.max(RecordedRecord.updated_at)).where(
            RecordedRecord.account_id == principal.account_id, RecordedRecord.dataset_arn == dataset_arn)).one()
    return f"{count}:{newest}" if count else None


def forget_records(principal: Principal, dataset_arn: str) -> None:
    with session() as db:
        db.execute(delete(RecordedRecord).where(RecordedRecord.account_id == principal.account_id,
                                                RecordedRecord.dataset_arn == dataset_arn))


def forget_users(principal: Principal, group_arn: str, users_dataset: PersonalizeResource | None,
                 users: set[str]) -> int:
    """Deletes the users' recorded events and recorded Users rows; how many records went."""
    if not users:
        return 0
    with session() as db:
        deleted = db.execute(delete(RecordedEvent).where(
            RecordedEvent.account_id == principal.account_id, RecordedEvent.dataset_group_arn == group_arn,
            RecordedEvent.user_id.in_(users))).rowcount
        if users_dataset is not None:
            deleted += db.execute(delete(RecordedRecord).where(
                RecordedRecord.account_id == principal.account_id, RecordedRecord.dataset_arn == users_dataset.arn,
                RecordedRecord.record_id.in_(users))).rowcount
    return deleted


def forget_events(principal: Principal, group_arn: str, target: str) -> None:
    with session() as db:
        db.execute(delete(RecordedEvent).where(RecordedEvent.account_id == principal.account_id,
                                               RecordedEvent.dataset_group_arn == group_arn,
                                               RecordedEvent.target == target))


def metadata_frame(principal: Principal, dataset: PersonalizeResource | None) -> pd.DataFrame | None:
    """A metadata dataset (Items, Users, Actions): the import's rows, with recorded ones replacing them by id."""
    if dataset is None:
        return None
    stored, recorded = stored_frame(dataset), records_frame(principal, dataset)
    column = ID_COLUMNS[dataset.spec["datasetType"]]
    if recorded is None:
        return stored
    if stored is None:
        return recorded.reset_index(drop=True)
    merged = pd.concat([stored, recorded], ignore_index=True)
    return merged.drop_duplicates(column, keep="last").reset_index(drop=True)


def interactions_frame(principal: Principal, group_arn: str, dataset: PersonalizeResource | None,
                       events_up_to: int | None = None) -> pd.DataFrame:
    """The imported interactions followed by the recorded events (up to event `events_up_to` when given)."""
    stored = stored_frame(dataset) if dataset is not None else None
    events = events_frame(principal, group_arn, up_to_id=events_up_to)
    if stored is None:
        return events
    if events.empty:
        return stored
    return pd.concat([stored, events], ignore_index=True)


def group_data(principal: Principal, group_arn: str, events_up_to: int | None = None) -> RecommenderData:
    found = datasets(principal, group_arn)
    items = found.get("Items")
    textual = [field.key for field in schema_of(principal, items).fields if field.textual] if items else []
    return RecommenderData(interactions=interactions_frame(principal, group_arn, found.get("Interactions"),
                                                           events_up_to),
                           items=metadata_frame(principal, items), users=metadata_frame(principal, found.get("Users")),
                           textual_fields=tuple(textual))


def action_data(principal: Principal, group_arn: str) -> RecommenderData:
    """The group's actions and action interactions as the algorithms read items and interactions (the action id in
    ITEM_ID): what aws-next-best-action trains on."""
    found = datasets(principal, group_arn)
    stored = stored_frame(found["Action_Interactions"]) if "Action_Interactions" in found else None
    events = events_frame(principal, group_arn, target="action")
    if stored is not None:
        stored = stored.rename(columns={"ACTION_ID": "ITEM_ID"})
        events = stored if events.empty else pd.concat([stored, events], ignore_index=True)
    actions = metadata_frame(principal, found.get("Actions"))
    if actions is not None:
        actions = actions.rename(columns={"ACTION_ID": "ITEM_ID"})
    return RecommenderData(interactions=events, items=actions, textual_fields=())


def save_copy(data: RecommenderData, folder: Path) -> None:
    """A training's own copy of the data (Parquet files in `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("interactions", "items", "users"):
        frame = getattr(data, part)
        if frame is not None:
            frame.to_parquet(folder / f"{part}.parquet", index=False)
    (folder / "textual.json").write_text(json.dumps(list(data.textual_fields or ())))


def load_copy(folder: Path) -> RecommenderData:
    parts = {part: pd.read_parquet(folder / f"{part}.parquet") if (folder / f"{part}.parquet").exists() else None
             for part in ("interactions", "items", "users")}
    return RecommenderData(**parts, textual_fields=tuple(json.loads((folder / "textual.json").read_text())))


def remove_copy(folder: Path) -> None:
    if folder.is_dir():
        shutil.rmtree(folder)


def dataset_fields(principal: Principal, group_arn: str) -> dict[str, set[str]]:
    """The fields a filter expression may name, by the dataset name filters use."""
    out: dict[str, set[str]] = {}
    for dataset_type, dataset in datasets(principal, group_arn).items():
        if dataset_type in FILTER_NAMES:
            out[FILTER_NAMES[dataset_type]] = {field.key for field in schema_of(principal, dataset).fields}
    return out


def dataset_types(principal: Principal, group_arn: str) -> set[str]:
    return {FILTER_NAMES.get(kind, kind) for kind in datasets(principal, group_arn)}
