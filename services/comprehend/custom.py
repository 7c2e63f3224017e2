"""Custom models users train on their own labelled data (document classifiers, entity recognizers) and the
endpoints that serve them: the tables, what both kinds of model share (names and ARNs, training data, the
training job's life cycle, listing, deletion, the fitted-model cache).

- classifiers.py: CreateDocumentClassifier's training (TF-IDF + logistic regression) and classification jobs;
- recognizers.py: CreateEntityRecognizer's training (entity list or annotations: phrases + a spaCy NER model);
- endpoints.py: endpoints (CreateEndpoint → ClassifyDocument / DetectEntities with EndpointArn).

Fitted models are stored in the metadata database (they are small), so every gateway and worker sharing the
database can serve them.
"""

from __future__ import annotations

import datetime as dt
import pickle
import random
import re
import threading
from collections import defaultdict
from typing import Callable

from sqlalchemy import JSON, DateTime, LargeBinary, Select, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.comprehend.errors import (
    InvalidFilter,
    InvalidRequest,
    ResourceInUse,
    ResourceNotFound,
    ResourceUnavailable,
    UnsupportedLanguage,
)
from services.comprehend.jobs import input_objects
from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.errors import ServiceError
from services.gateway.jobs import JobRun, failure_message
from services.gateway.kit.inputs import relative_name
from services.gateway.kit.jobs import stored_form
from services.gateway.kit.resources import ResourceTable, ScopedByArn, session
from services.gateway.kit.tags import drop_tags
from services.gateway.kit.times import aware, utcnow
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError

CLASSIFIER, RECOGNIZER = "document-classifier", "entity-recognizer"
ENDPOINT_KINDS = {CLASSIFIER: "document-classifier-endpoint", RECOGNIZER: "entity-recognizer-endpoint"}
LABELS = {CLASSIFIER: "Document classifier", RECOGNIZER: "Entity recognizer"}
MAX_TRAINING_BYTES = 100 * 1024 * 1024
TEST_FRACTION = 0.1


class CustomModel(ScopedByArn, Base):
    """A custom classifier or entity recognizer (one row per version)."""

    __tablename__ = "comprehend_custom_models"

    arn: Mapped[str] = mapped_column(String(400), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # document-classifier | entity-recognizer
    name: Mapped[str] = mapped_column(String(256))
    version: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict] = mapped_column(JSON)  # the Create* request (without ClientRequestToken and Tags)
    metadata_: Mapped[dict | None] = mapped_column("metadata", JSON)
    model: Mapped[bytes | None] = mapped_column(LargeBinary)
    job_id: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    training_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    training_ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Endpoint(ScopedByArn, Base):
    __tablename__ = "comprehend_endpoints"

    arn: Mapped[str] = mapped_column(String(400), primary_key=True)
    model_arn: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(32))
    inference_units: Mapped[int] = mapped_column()
    role_arn: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def _models_of(kind: str) -> ResourceTable[CustomModel]:
    return ResourceTable(CustomModel, key="arn", where=(CustomModel.kind == kind,),
                         not_found=lambda arn: ResourceNotFound(f"{LABELS[kind]} {arn} does not exist."),
                         conflict=lambda arn: ResourceInUse(f"{arn} already exists."))


MODELS: dict[str, ResourceTable[CustomModel]] = {kind: _models_of(kind) for kind in (CLASSIFIER, RECOGNIZER)}
ENDPOINTS: ResourceTable[Endpoint] = ResourceTable(
    Endpoint, key="arn",
    not_found=lambda arn: ResourceNotFound(f"Endpoint {arn} does not exist."),
    conflict=lambda arn: ResourceInUse(f"Endpoint {arn} already exists."))
# Newest first; the ARN makes the order total (keyset paging).
MODEL_ORDER = [(CustomModel.submitted_at, True), (CustomModel.arn, False)]


def model_arn(ctx: RequestContext, kind: str, name: str, version: str | None) -> str:
    return ctx.arn("comprehend", f"{kind}/{name}" + (f"/version/{version}" if version else ""))


def check_name(name: str) -> None:
    if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name):
        raise InvalidRequest(f"Invalid name {name!r}.")


# ---------------------------------------------------------------------------------------------------------------
# Fitted models
# ---------------------------------------------------------------------------------------------------------------

_loaded: dict[str, tuple[dt.datetime | None, object]] = {}
_loaded_lock = threading.Lock()


def fitted(row: CustomModel):
    """The unpickled model of a TRAINED row, cached per ARN and training time."""
    if row.status != "TRAINED" or row.model is None:
        raise ResourceUnavailable(f"Model {row.arn} is not trained (status {row.status}).")
    with _loaded_lock:
        cached = _loaded.get(row.arn)
        if cached is not None and cached[0] == row.training_ended_at:
            return cached[1]
    model = pickle.loads(row.model)
    with _loaded_lock:
        _loaded[row.arn] = (row.training_ended_at, model)
    return model


def check_trained(scope: RequestContext | Principal, kind: str, arn: str) -> CustomModel:
    """For Start*Job and CreateEndpoint with a custom model: the model must exist (ResourceNotFoundException) and
    be trained (ResourceUnavailableException), as AWS checks before accepting the request."""
    row = MODELS[kind].get(scope, arn)
    if row.status != "TRAINED":
        raise ResourceUnavailable(f"Model {arn} is not trained (status {row.status}).")
    return row


def trained_model(principal: Principal, kind: str, arn: str):
    """The fitted model of the caller's trained `arn` (inference in jobs)."""
    return fitted(MODELS[kind].get(principal, arn))


# ---------------------------------------------------------------------------------------------------------------
# Training data
# ---------------------------------------------------------------------------------------------------------------


def read_text(account_id: str, uri: str) -> str:
    try:
        data = runtime().blobs.read(uri, account_id, max_bytes=MAX_TRAINING_BYTES)
    except BlobError as error:
        raise InvalidRequest(f"NO_READ_ACCESS_TO_INPUT: {error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest(f"INVALID_ENCODING: {uri} is not UTF-8 text") from None


def read_prefix(account_id: str, uri: str) -> list[tuple[str, str]]:
    """(relative name, text) of every object under a prefix (or the one object `uri` names)."""
    return [(relative_name(uri, found), read_text(account_id, found)) for found in input_objects(account_id, uri)]


def split(items: list, seed: str) -> tuple[list, list]:
    """A reproducible 90/10 train/test split (at least one test item when there are 10 or more)."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    test_count = int(len(items) * TEST_FRACTION) if len(items) >= 10 else 0
    test = {order[i] for i in range(test_count)}
    return [x for i, x in enumerate(items) if i not in test], [x for i, x in enumerate(items) if i in test]


# ---------------------------------------------------------------------------------------------------------------
# Life cycle: create (and train as a job), list, stop, delete
# ---------------------------------------------------------------------------------------------------------------


def create_model(ctx: RequestContext, request: dict, kind: str, name: str, training_kind: str) -> str:
    """The model's row (SUBMITTED) and its training job; returns the model's ARN."""
    check_name(name)
    language = request["LanguageCode"]
    if language != "en":
        raise UnsupportedLanguage(
            f"Custom models for language {language!r} are not supported on this gateway (English only).")
    version = request.get("VersionName")
    arn = model_arn(ctx, kind, name, version)
    stored = stored_form(request, "ClientRequestToken", "Tags")
    MODELS[kind].create(ctx, arn=arn, kind=kind, name=name, version=version, status="SUBMITTED", language=language,
                        request=stored, submitted_at=utcnow())
    job = runtime().jobs.submit(ctx.principal, training_kind, stored, name=name, details={"ModelArn": arn})
    MODELS[kind].update(ctx, arn, job_id=job.job_id)
    return arn


def model_times(row: CustomModel) -> dict:
    return {"SubmitTime": aware(row.submitted_at), "EndTime": aware(row.ended_at),
            "TrainingStartTime": aware(row.training_started_at), "TrainingEndTime": aware(row.training_ended_at)}


def model_query(ctx: RequestContext, kind: str, request: dict, name_key: str) -> Select:
    """List*'s Filter (Status, the name, one of SubmitTimeBefore / SubmitTimeAfter) on the caller's models."""
    found = request.get("Filter", {})
    if "SubmitTimeBefore" in found and "SubmitTimeAfter" in found:
        raise InvalidFilter("Specify SubmitTimeBefore or SubmitTimeAfter, not both.")
    conditions = []
    if found.get("Status"):
        conditions.append(CustomModel.status == found["Status"])
    if found.get(name_key):
        conditions.append(CustomModel.name == found[name_key])
    if found.get("SubmitTimeBefore"):
        conditions.append(CustomModel.submitted_at < found["SubmitTimeBefore"])
    if found.get("SubmitTimeAfter"):
        conditions.append(CustomModel.submitted_at > found["SubmitTimeAfter"])
    return MODELS[kind].query(ctx, *conditions)


def summaries(ctx: RequestContext, kind: str, name_key: str) -> list[dict]:
    """One summary per model name (its versions counted, the latest described), by name."""
    by_name: dict[str, list[CustomModel]] = defaultdict(list)
    for row in MODELS[kind].list(ctx):
        by_name[row.name].append(row)
    found = []
    for name, versions in sorted(by_name.items()):
        latest = max(versions, key=lambda r: aware(r.submitted_at))
        found.append({name_key: name, "NumberOfVersions": len(versions),
                      "LatestVersionCreatedAt": aware(latest.submitted_at),
                      **({"LatestVersionName": latest.version} if latest.version else {}),
                      "LatestVersionStatus": latest.status})
    return found


def delete_model(ctx: RequestContext, kind: str, arn: str) -> None:
    row = MODELS[kind].get(ctx, arn)
    in_use = ENDPOINTS.list(ctx, Endpoint.model_arn == arn)
    if in_use:
        raise ResourceInUse(f"{arn} is used by endpoint {in_use[0].arn}.")
    if row.status in ("SUBMITTED", "TRAINING"):
        raise ResourceInUse(f"{arn} is training; stop the training first.")
    MODELS[kind].delete(ctx, arn)
    drop_tags(arn)
    with _loaded_lock:
        _loaded.pop(arn, None)


def stop_training(ctx: RequestContext, kind: str, arn: str) -> None:
    with MODELS[kind].editing(ctx, arn) as row:
        if row.status == "SUBMITTED":
            row.status, row.ended_at = "STOPPED", utcnow()
        elif row.status == "TRAINING":
            row.status = "STOP_REQUESTED"
        else:
            raise InvalidRequest(f"{arn} is not training (status {row.status}).")


# ---------------------------------------------------------------------------------------------------------------
# The training job (kinds comprehend.train-classifier / comprehend.train-recognizer)
# ---------------------------------------------------------------------------------------------------------------


def update_model(principal: Principal, kind: str, arn: str, **fields) -> None:
    """Set fields of a model in training (nothing when it was deleted meanwhile)."""
    with session() as db:
        row = MODELS[kind].find(principal, arn, db)
        if row is not None:
            for key, value in fields.items():
                setattr(row, key, value)


def training_request(principal: Principal, kind: str, arn: str) -> dict:
    """The Create* request of the model being trained."""
    return MODELS[kind].get(principal, arn).request


def _mark_training(principal: Principal, kind: str, arn: str) -> str:
    with session() as db:
        row = MODELS[kind].find(principal, arn, db)
        if row is None:
            return "DELETED"
        if row.status in ("STOP_REQUESTED", "STOPPED"):
            row.status, row.ended_at = "STOPPED", utcnow()
            return "STOPPED"
        row.status, row.training_started_at = "TRAINING", row.training_started_at or utcnow()
        return "TRAINING"


def _finish_training(principal: Principal, kind: str, arn: str, status: str, message: str | None) -> None:
    now = utcnow()
    fields = {"status": status, "message": message, "ended_at": now}
    if status == "TRAINED":
        fields["training_ended_at"] = now
    update_model(principal, kind, arn, **fields)


def _stop_requested(principal: Principal, kind: str, arn: str) -> bool:
    row = MODELS[kind].find(principal, arn)
    return row is not None and row.status == "STOP_REQUESTED"


def run_training(run: JobRun, kind: str, train: Callable[[Principal, str], dict]) -> dict:
    """A training job: mark the model TRAINING, `train(caller, arn)` (a checkpointed step that stores the fitted
    model and returns its metadata), then TRAINED, STOPPED (stop requested meanwhile) or IN_ERROR."""
    arn = run.details["ModelArn"]
    principal = run.principal
    if run.step(_mark_training, principal, kind, arn, name="mark-training") != "TRAINING":
        return {"ModelArn": arn}
    try:
        metadata = run.step(train, principal, arn, name="train")
    except ServiceError as error:
        run.step(_finish_training, principal, kind, arn, "IN_ERROR", error.message, name="finish")
        raise
    except Exception as error:  # the kit logs it; the model says only that it failed internally
        run.step(_finish_training, principal, kind, arn, "IN_ERROR", failure_message(error), name="finish")
        raise
    stopped = _stop_requested(principal, kind, arn)
    run.step(_finish_training, principal, kind, arn, "STOPPED" if stopped else "TRAINED", None, name="finish")
    return {"ModelArn": arn, **metadata}
