"""Forecast's resources: one table for every resource type, keyed by ARN, and where their data files live.

A resource whose creation is long work (an import, a predictor, a forecast, an export) has a durable job of the
gateway (services/gateway/jobs.py) whose id the row keeps; its AWS status is read off the job's, so a kill -9
mid-training leaves a CREATE_IN_PROGRESS resource that the restarted gateway finishes. Resources with no such
work (dataset groups, datasets) are ACTIVE from the start.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.forecast.errors import InvalidInput, ResourceAlreadyExists, ResourceNotFound
from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.jobs import COMPLETED, FAILED, IN_PROGRESS, STOP_REQUESTED, STOPPED, SUBMITTED
from services.gateway.kit.arns import build_arn, owned, parse_arn
from services.gateway.kit.resources import JobBacked, ResourceTable, ScopedByArn
from services.gateway.runtime import runtime

SERVICE = "forecast"

# Resource types by their ARN's resource type, with the words AWS's messages use for them.
DATASET_GROUP, DATASET, IMPORT_JOB = "dataset-group", "dataset", "dataset-import-job"
PREDICTOR, FORECAST, FORECAST_EXPORT = "predictor", "forecast", "forecast-export-job"
BACKTEST_EXPORT = "predictor-backtest-export-job"
WHATIF_ANALYSIS, WHATIF_FORECAST = "what-if-analysis", "what-if-forecast"
WHATIF_EXPORT = "what-if-forecast-export"
EXPLAINABILITY, EXPLAINABILITY_EXPORT, MONITOR = "explainability", "explainability-export", "monitor"
WORDS = {DATASET_GROUP: "dataset group", DATASET: "dataset", IMPORT_JOB: "dataset import job",
         PREDICTOR: "predictor", FORECAST: "forecast", FORECAST_EXPORT: "forecast export job",
         BACKTEST_EXPORT: "predictor backtest export job", WHATIF_ANALYSIS: "what-if analysis",
         WHATIF_FORECAST: "what-if forecast", WHATIF_EXPORT: "what-if forecast export",
         EXPLAINABILITY: "explainability", EXPLAINABILITY_EXPORT: "explainability export", MONITOR: "monitor"}

ACTIVE = "ACTIVE"
# The AWS status of a resource from its creation job's status.
JOB_STATUSES = {SUBMITTED: "CREATE_PENDING", IN_PROGRESS: "CREATE_IN_PROGRESS", COMPLETED: ACTIVE,
                FAILED: "CREATE_FAILED", STOP_REQUESTED: "CREATE_STOPPING", STOPPED: "CREATE_STOPPED"}
BUSY = ("CREATE_PENDING", "CREATE_IN_PROGRESS", "CREATE_STOPPING")


class ForecastResource(JobBacked, ScopedByArn, Base):
    __tablename__ = "forecast_resources"

    arn: Mapped[str] = mapped_column(String(256), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(63))
    parent_arn: Mapped[str | None] = mapped_column(String(256), index=True)  # dataset, dataset group, predictor...
    spec: Mapped[dict] = mapped_column(JSON)  # the Create* request as accepted (Tags left out)
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # what the service keeps beside it (member ARNs)
    job_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default=ACTIVE)  # for resources without a job
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def state(self) -> tuple[str, str | None, dict | None]:
        """(AWS status, message, the job's result) as of now."""
        job = self.job()
        if job is None:
            return self.status, self.message, None
        return JOB_STATUSES.get(job.status, job.status), job.message, job.result


def not_found(arn: str) -> ResourceNotFound:
    arn_parts = parse_arn(arn)
    word = WORDS.get(arn_parts.resource_type, "resource") if arn_parts else "resource"
    return ResourceNotFound(f"No {word} found with the arn: {arn}")


def already_exists(arn: str) -> ResourceAlreadyExists:
    arn_parts = parse_arn(arn)
    word = WORDS.get(arn_parts.resource_type, "resource") if arn_parts else "resource"
    return ResourceAlreadyExists(f"A {word} already exists with the arn: {arn}")


def table(kind: str) -> ResourceTable[ForecastResource]:
    return ResourceTable(ForecastResource, key="arn", not_found=not_found, conflict=already_exists,
                         where=(ForecastResource.kind == kind,))


ANY = ResourceTable(ForecastResource, key="arn", not_found=not_found)
TABLES = {kind: table(kind) for kind in WORDS}
DATASET_GROUPS, DATASETS, FORECASTS = TABLES[DATASET_GROUP], TABLES[DATASET], TABLES[FORECAST]
WHATIF_FORECASTS = TABLES[WHATIF_FORECAST]


def resource_arn(scope: RequestContext | Principal, kind: str, *names: str) -> str:
    principal = scope.principal if isinstance(scope, RequestContext) else scope
    return build_arn(SERVICE, principal.region, principal.account_id, "/".join((kind, *names)))


def checked_arn(ctx: RequestContext, arn: str, kind: str | None = None) -> str:
    """An ARN of this service that the request gave: malformed ones are InvalidInputException, others' (another
    account, region or type) simply not found."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != SERVICE or not parsed.resource_id:
        raise InvalidInput(f"The ARN {arn} is not a valid Amazon Forecast ARN.")
    if not owned(parsed, SERVICE, ctx.account_id, ctx.region) or (kind and parsed.resource_type != kind):
        raise not_found(arn)
    return arn


def get(ctx: RequestContext | Principal, kind: str, arn: str) -> ForecastResource:
    if isinstance(ctx, RequestContext):
        checked_arn(ctx, arn, kind)
    return TABLES[kind].get(ctx, arn)


def children(scope: RequestContext | Principal, parent_arn: str) -> list[ForecastResource]:
    return ANY.list(scope, ForecastResource.parent_arn == parent_arn, order_by=(ForecastResource.created_at,))


def data_path(account_id: str, arn: str, suffix: str) -> Path:
    """Where a resource's data file lives (a hash of its ARN: names never reach the file system)."""
    digest = hashlib.sha256(arn.encode()).hexdigest()[:32]
    folder = runtime().settings.data_dir / "forecast" / account_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{digest}.{suffix}"
