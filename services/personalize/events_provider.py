"""personalize-events: interactions, items and users recorded as they happen, keyed by AWS operation name.

Everything is stored durably in the database before the answer; the next request sees it (serving.py), and the
next training includes it (datasets.py).
"""

from __future__ import annotations

import json

from services.gateway.context import RequestContext
from services.gateway.kit.resources import session
from services.gateway.kit.times import utcnow
from services.gateway.registry import ServiceProvider
from services.personalize import datasets
from services.personalize.errors import EventsInvalidInput, EventsNotFound
from services.personalize.store import (
    DATASET, EVENT_TRACKER, TABLES, PersonalizeResource, RecordedEvent, RecordedRecord, checked_arn,
)

provider = ServiceProvider("personalize-events")

# The fields an event's `properties` may not set: they have members of their own.
EVENT_MEMBERS = {"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE", "IMPRESSION", "RECOMMENDATION_ID"}


def _tracker(ctx: RequestContext, tracking_id: str) -> PersonalizeResource:
    for row in TABLES[EVENT_TRACKER].list(ctx):
        if row.details.get("trackingId") == tracking_id:
            return row
    raise EventsNotFound(f"The tracking ID {tracking_id} does not belong to an event tracker of this account.")


def _properties(text: str | None, what: str) -> dict:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise EventsInvalidInput(f"The properties of {what} are not valid JSON.") from None
    if not isinstance(value, dict):
        raise EventsInvalidInput(f"The properties of {what} must be a JSON object.")
    return value


def _schema_names(fields: set[str], given: dict, what: str, reserved: set[str]) -> dict:
    """Properties keyed as AWS documents them (camelCase: numberOfRatings for NUMBER_OF_RATINGS) mapped onto the
    schema's field names."""
    by_key = {name.replace("_", "").lower(): name for name in fields}
    out = {}
    for key, value in given.items():
        name = by_key.get(key.replace("_", "").lower())
        if name is None or name in reserved:
            raise EventsInvalidInput(f"The property {key} of {what} is not a field of the dataset's schema.")
        if isinstance(value, list):
            value = "|".join(str(part) for part in value)
        out[name] = value
    return out


@provider.operation("PutEvents")
def put_events(ctx: RequestContext, request: dict) -> dict:
    tracker = _tracker(ctx, request["trackingId"])
    group_arn = tracker.parent_arn
    interactions = datasets.datasets(ctx.principal, group_arn).get("Interactions")
    fields = {field.key for field in datasets.schema_of(ctx.principal, interactions).fields} if interactions else set()
    rows = []
    for index, event in enumerate(request["eventList"]):
        what = f"event {index + 1}"
        properties = _schema_names(fields, _properties(event.get("properties"), what), what, EVENT_MEMBERS)
        source = (event.get("metricAttribution") or {}).get("eventAttributionSource")
        if source is not None and "EVENT_ATTRIBUTION_SOURCE" in fields:  # the interaction's column, as imported
            properties["EVENT_ATTRIBUTION_SOURCE"] = source
        if "ITEM_ID" in fields and not event.get("itemId"):
            raise EventsInvalidInput(f"The {what} needs an itemId: the Interactions schema has ITEM_ID.")
        value = event.get("eventValue")
        rows.append(RecordedEvent(
            account_id=ctx.account_id, region=ctx.region, dataset_group_arn=group_arn,
            user_id=request.get("userId"), session_id=request["sessionId"], item_id=event.get("itemId"),
            event_type=event["eventType"], event_value=float(value) if value is not None else None,
            timestamp=int(event["sentAt"].timestamp()), properties=properties or None))
    with session() as db:
        db.add_all(rows)
    return {}


def _put_records(ctx: RequestContext, dataset_arn: str, dataset_type: str, records: list[dict], id_member: str,
                 word: str) -> dict:
    dataset = TABLES[DATASET].find(ctx, checked_arn(ctx, dataset_arn, DATASET))
    if dataset is None:
        raise EventsNotFound(f"Resource {dataset_arn} does not exist.")
    if dataset.spec["datasetType"] != dataset_type:
        raise EventsInvalidInput(f"The dataset {dataset_arn} is a {dataset.spec['datasetType']} dataset, not "
                                 f"{dataset_type}.")
    fields = {field.key for field in datasets.schema_of(ctx.principal, dataset).fields}
    id_column = datasets.ID_COLUMNS[dataset_type]
    now = utcnow()
    with session() as db:
        for index, record in enumerate(records):
            what = f"{word} {record[id_member]}"
            properties = _schema_names(fields, _properties(record.get("properties"), what), what, {id_column})
            db.merge(RecordedRecord(account_id=ctx.account_id, region=ctx.region, dataset_arn=dataset.arn,
                                    record_id=record[id_member], properties=properties, updated_at=now))
    return {}


@provider.operation("PutItems")
def put_items(ctx: RequestContext, request: dict) -> dict:
    return _put_records(ctx, request["datasetArn"], "Items", request["items"], "itemId", "item")


@provider.operation("PutUsers")
def put_users(ctx: RequestContext, request: dict) -> dict:
    return _put_records(ctx, request["datasetArn"], "Users", request["users"], "userId", "user")


@provider.operation("PutActions")
def put_actions(ctx: RequestContext, request: dict) -> dict:
    return _put_records(ctx, request["datasetArn"], "Actions", request["actions"], "actionId", "action")


@provider.operation("PutActionInteractions")
def put_action_interactions(ctx: RequestContext, request: dict) -> dict:
    tracker = _tracker(ctx, request["trackingId"])
    found = datasets.datasets(ctx.principal, tracker.parent_arn)
    if "Action_Interactions" not in found:
        raise EventsNotFound(f"The dataset group {tracker.parent_arn} has no Action_Interactions dataset.")
    fields = {field.key for field in datasets.schema_of(ctx.principal, found["Action_Interactions"]).fields}
    rows = []
    for index, interaction in enumerate(request["actionInteractions"]):
        what = f"action interaction {index + 1}"
        properties = _schema_names(fields, _properties(interaction.get("properties"), what), what,
                                   EVENT_MEMBERS | {"ACTION_ID"})
        rows.append(RecordedEvent(
            account_id=ctx.account_id, region=ctx.region, dataset_group_arn=tracker.parent_arn, target="action",
            user_id=interaction.get("userId"), session_id=interaction["sessionId"], item_id=interaction["actionId"],
            event_type=interaction["eventType"], event_value=None,
            timestamp=int(interaction["timestamp"].timestamp()), properties=properties or None))
    with session() as db:
        db.add_all(rows)
    return {}
