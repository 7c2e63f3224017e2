"""Personalize's resources: one table for every resource type, keyed by ARN; the events, items and users that
arrive through personalize-events; and where data files and trained models live.

A resource whose creation is long work (an import, a solution version, a batch job) has a durable job of the
gateway (services/gateway/jobs.py) whose id the row keeps; its AWS status is read off the job's, so a kill -9
mid-training leaves a `CREATE IN_PROGRESS` version that the restarted gateway finishes. Resources with no such work
(dataset groups, schemas, datasets, solutions, campaigns, filters, event trackers, metric attributions) are ACTIVE
from the start.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from sqlalchemy import JSON, BigInteger, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.jobs import COMPLETED, FAILED, IN_PROGRESS, STOP_REQUESTED, STOPPED, SUBMITTED
from services.gateway.kit.arns import build_arn, owned, parse_arn
from services.gateway.kit.resources import JobBacked, ResourceTable, Scoped, ScopedByArn
from services.gateway.runtime import runtime
from services.personalize.errors import InvalidInput, ResourceAlreadyExists, ResourceNotFound

SERVICE = "personalize"

# Resource types by their ARN's resource type, with the words AWS's messages use for them.
DATASET_GROUP, SCHEMA, DATASET, IMPORT_JOB = "dataset-group", "schema", "dataset", "dataset-import-job"
EXPORT_JOB = "dataset-export-job"
SOLUTION, SOLUTION_VERSION, CAMPAIGN = "solution", "solution-version", "campaign"
FILTER, EVENT_TRACKER, BATCH_INFERENCE_JOB = "filter", "event-tracker", "batch-inference-job"
BATCH_SEGMENT_JOB, RECOMMENDER, DATA_DELETION_JOB = "batch-segment-job", "recommender", "data-deletion-job"
METRIC_ATTRIBUTION = "metric-attribution"  # arn:aws:personalize:<region>:<account>:metric-attribution/<name>
WORDS = {DATASET_GROUP: "dataset group", SCHEMA: "schema", DATASET: "dataset", IMPORT_JOB: "dataset import job",
         EXPORT_JOB: "dataset export job", SOLUTION: "solution", SOLUTION_VERSION: "solution version",
         CAMPAIGN: "campaign", FILTER: "filter", EVENT_TRACKER: "event tracker",
         BATCH_INFERENCE_JOB: "batch inference job", BATCH_SEGMENT_JOB: "batch segment job",
         RECOMMENDER: "recommender", DATA_DELETION_JOB: "data deletion job",
         METRIC_ATTRIBUTION: "metric attribution"}

ACTIVE = "ACTIVE"
# The AWS status of a resource from its creation job's status (Personalize's statuses have spaces).
JOB_STATUSES = {SUBMITTED: "CREATE PENDING", IN_PROGRESS: "CREATE IN_PROGRESS", COMPLETED: ACTIVE,
                FAILED: "CREATE FAILED", STOP_REQUESTED: "CREATE STOPPING", STOPPED: "CREATE STOPPED"}
# Batch jobs report their own words (DescribeBatchInferenceJob: PENDING, IN PROGRESS, ACTIVE, CREATE FAILED).
BATCH_STATUSES = {SUBMITTED: "PENDING", IN_PROGRESS: "IN PROGRESS", COMPLETED: ACTIVE, FAILED: "CREATE FAILED",
                  STOP_REQUESTED: "IN PROGRESS", STOPPED: "CREATE FAILED"}
# Data deletion jobs: PENDING, IN_PROGRESS, COMPLETED, FAILED.
DELETION_STATUSES = {SUBMITTED: "PENDING", IN_PROGRESS: "IN_PROGRESS", COMPLETED: "COMPLETED", FAILED: "FAILED",
                     STOP_REQUESTED: "IN_PROGRESS", STOPPED: "FAILED"}
BUSY = ("CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING", "PENDING", "IN PROGRESS", "IN_PROGRESS")


class PersonalizeResource(JobBacked, ScopedByArn, Base):
    __tablename__ = "personalize_resources"

    arn: Mapped[str] = mapped_column(String(256), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(63))
    parent_arn: Mapped[str | None] = mapped_column(String(256), index=True)  # dataset group, dataset, solution...
    spec: Mapped[dict] = mapped_column(JSON)  # the Create* request as accepted (tags left out)
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # what the service keeps beside it
    job_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default=ACTIVE)  # for resources without a job
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def state(self) -> tuple[str, str | None, dict | None]:
        """(AWS status, failure reason, the job's result) as of now."""
        job = self.job()
        if job is None:
            return self.status, self.message, None
        words = BATCH_STATUSES if self.kind in (BATCH_INFERENCE_JOB, BATCH_SEGMENT_JOB) else \
            DELETION_STATUSES if self.kind == DATA_DELETION_JOB else JOB_STATUSES
        status = words.get(job.status, job.status)
        if self.kind == RECOMMENDER and status == ACTIVE and self.status != ACTIVE:
            status = self.status  # StopRecommender / StartRecommender once trained
        return status, job.message, job.result


class RecordedEvent(ScopedByArn, Base):
    """One interaction from PutEvents: it acts on the next request (filters, session history) and joins the
    interactions of the next training."""

    __tablename__ = "personalize_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_group_arn: Mapped[str] = mapped_column(String(256), index=True)
    user_id: Mapped[str | None] = mapped_column(String(256), index=True)
    session_id: Mapped[str] = mapped_column(String(256), index=True)
    item_id: Mapped[str | None] = mapped_column(String(256))  # the action's id for an action interaction
    target: Mapped[str] = mapped_column(String(8), default="item")  # "item" (PutEvents), "action" (PutActionInteractions)
    event_type: Mapped[str] = mapped_column(String(256))
    event_value: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[int] = mapped_column(BigInteger)  # epoch seconds (sentAt)
    properties: Mapped[dict | None] = mapped_column(JSON)


class RecordedRecord(Scoped, Base):
    """One item, user or action from PutItems / PutUsers / PutActions, by its dataset: the newest properties win."""

    __tablename__ = "personalize_records"

    dataset_arn: Mapped[str] = mapped_column(String(256), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    properties: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def not_found(arn: str) -> ResourceNotFound:
    return ResourceNotFound(f"Resource {arn} does not exist.")


def already_exists(arn: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Resource {arn} already exists.")


def table(kind: str) -> ResourceTable[PersonalizeResource]:
    return ResourceTable(PersonalizeResource, key="arn", not_found=not_found, conflict=already_exists,
                         where=(PersonalizeResource.kind == kind,))


ANY = ResourceTable(PersonalizeResource, key="arn", not_found=not_found)
TABLES = {kind: table(kind) for kind in WORDS}


def resource_arn(scope: RequestContext | Principal, kind: str, *names: str) -> str:
    principal = scope.principal if isinstance(scope, RequestContext) else scope
    resource = "/".join((SOLUTION if kind == SOLUTION_VERSION else kind, *names))
    return build_arn(SERVICE, principal.region, principal.account_id, resource)


def dataset_arn(group_arn: str, dataset_type: str) -> str:
    """A dataset's ARN: its group's name and its type (a group has one dataset of each type)."""
    head, _, group_name = group_arn.partition(":dataset-group/")
    return f"{head}:dataset/{group_name}/{dataset_type.upper()}"


def kind_of(arn: str) -> str | None:
    """The resource type an ARN names: a solution version's ARN is its solution's with one more part."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != SERVICE:
        return None
    if parsed.resource_type == SOLUTION and len(parsed.path) == 3:
        return SOLUTION_VERSION
    return parsed.resource_type


def checked_arn(ctx: RequestContext, arn: str, kind: str | None = None) -> str:
    """An ARN of this service that the request gave: malformed ones are InvalidInputException, others' (another
    account, region or type) simply not found."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != SERVICE or not parsed.resource_id:
        raise InvalidInput(f"The ARN {arn} is not a valid Amazon Personalize ARN.")
    if not owned(parsed, SERVICE, ctx.account_id, ctx.region) or (kind and kind_of(arn) != kind):
        raise not_found(arn)
    return arn


def get(ctx: RequestContext | Principal, kind: str, arn: str) -> PersonalizeResource:
    if isinstance(ctx, RequestContext):
        checked_arn(ctx, arn, kind)
    return TABLES[kind].get(ctx, arn)


def children(scope: RequestContext | Principal, parent_arn: str, kind: str | None = None) -> list[PersonalizeResource]:
    where = [PersonalizeResource.parent_arn == parent_arn]
    if kind is not None:
        where.append(PersonalizeResource.kind == kind)
    return ANY.list(scope, *where, order_by=(PersonalizeResource.created_at, PersonalizeResource.arn))


def data_path(account_id: str, arn: str, suffix: str) -> Path:
    """Where a resource's data file lives (a hash of its ARN: names never reach the file system)."""
    digest = hashlib.sha256(arn.encode()).hexdigest()[:32]
    folder = runtime().settings.data_dir / "personalize" / account_id
    if folder not in _FOLDERS_MADE:  # this runs per request: one mkdir per folder and process
        folder.mkdir(parents=True, exist_ok=True)
        _FOLDERS_MADE.add(folder)
    return folder / f"{digest}.{suffix}"


_FOLDERS_MADE: set[Path] = set()


def model_path(version: PersonalizeResource) -> Path:
    """Where a solution version's trained model lives."""
    return data_path(version.account_id, version.arn, "model")
