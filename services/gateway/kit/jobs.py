"""The job API of a service, from one declaration per job kind.

    TRANSLATION_JOBS = JobApi(
        service="translate", kind="translate.text-translation", queue="translate",
        start="StartTextTranslationJob", describe="DescribeTextTranslationJob",
        list="ListTextTranslationJobs", stop="StopTextTranslationJob",
        id_member="JobId", describe_member="TextTranslationJobProperties",
        not_found=lambda job_id: ResourceNotFound(f"The job {job_id} does not exist."),
        accept=accept_translation,            # (ctx, request) -> Submission, after the service's checks
        properties=properties,                # (job) -> the properties shape
        list_where=list_filter,               # (request) -> SQL conditions on Job from the List request
        paging=PAGING)
    TRANSLATION_JOBS.register(provider)

gives the provider Start/Describe(or Get)/List/Stop/Delete handlers (those the declaration names) on the
durable job runner (services/gateway/jobs.py): a job is addressed by its id or, with `by_name`, by its name,
which is then unique per account, region and kind (`name_taken` is the service's conflict error). The runner
(registered with `@runner`) gets a JobRun whose `principal` is the caller's and whose `details` hold what
`accept` worked out at submission; the stored request is the AWS request as it came.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import orjson
from sqlalchemy import select

from services.gateway.context import Principal, RequestContext
from services.gateway.errors import ServiceError
from services.gateway.jobs import ACTIVE_STATES, ENDED_STATES, Job, JobRun, job_kind
from services.gateway.kit.paging import Paging
from services.gateway.kit.tags import Tagging, drop_tags
from services.gateway.runtime import runtime


def stored_form(request: dict, *drop: str) -> dict:
    """The request as JSON stores it (datetimes as ISO text, bytes refused), without the members named."""
    return orjson.loads(orjson.dumps({key: value for key, value in request.items() if key not in drop}, default=str))


@dataclass(frozen=True)
class Submission:
    """What `accept` decided: the request to store, the job's name, idempotency token and service details."""

    request: dict
    name: str | None = None
    client_token: str | None = None
    details: dict | None = None
    tags: Any = None  # the request's tags (any wire shape), set on the job's ARN once it exists


@dataclass(frozen=True)
class JobApi:
    service: str
    kind: str  # the job kind in the gateway's job table, e.g. "translate.text-translation"
    queue: str  # the DBOS queue its runs go to
    describe: str  # Describe*/Get* operation
    id_member: str  # the request member addressing a job: JobId, TaskId, TranscriptionJobName...
    describe_member: str  # Describe*/Get* output member holding the properties
    not_found: Callable[[str], ServiceError]  # (id or name) -> error
    properties: Callable[[Job], dict]  # the properties shape
    accept: Callable[[RequestContext, dict], Submission]  # (ctx, Start* request) -> what to store; raises on bad input
    started: Callable[[RequestContext, Job], dict]  # (ctx, job) -> the Start* response
    paging: Paging
    start: str | None = None
    list: str | None = None
    stop: str | None = None
    delete: str | None = None
    by_name: bool = False  # jobs are addressed by their name (unique per account, region, kind)
    name_taken: Callable[[str], ServiceError] | None = None  # the conflict error for a name in use
    summary: Callable[[Job], dict] | None = None  # List* items (default: the properties)
    list_where: Callable[[dict], list] = lambda request: []  # List* request -> conditions on Job
    list_extra: Callable[[dict], dict] = lambda request: {}  # List* request -> members echoed in the answer
    # Stop* of a job that has ended: None answers its status as it is; else the service's error.
    stop_ended: Callable[[Job], ServiceError] | None = None
    stopped: Callable[[Job], dict] = lambda job: {}  # (job after the stop request) -> the Stop* response
    arn: Callable[[Job], str] | None = None  # the job's ARN, where the service tags jobs
    tagging: Tagging | None = None
    # (`list` in this class body is the List* operation field: the factory must name the builtin)
    _runner: list = field(default_factory=lambda: [], compare=False, repr=False)

    # ---------------------------------------------------------------- the runner

    def runner(self, run: Callable[[JobRun], dict | None]) -> Callable[[JobRun], dict | None]:
        """Register the function that does one job's work (durably: through `run.step`)."""
        job_kind(self.kind, self.queue)(run)
        return run

    # ---------------------------------------------------------------- lookups

    def find(self, ctx: RequestContext | Principal, key: str) -> Job | None:
        """The caller's job (`ctx` may also be a bare Principal, e.g. for a Tagging's `exists`), or None."""
        principal = ctx.principal if isinstance(ctx, RequestContext) else ctx
        store = runtime().jobs.store
        return store.find_by_name(principal, self.kind, key) if self.by_name else \
            store.get(principal, self.kind, key)

    def get(self, ctx: RequestContext, key: str) -> Job:
        job = self.find(ctx, key)
        if job is None:
            raise self.not_found(key)
        return job

    # ---------------------------------------------------------------- operations

    def submit(self, ctx: RequestContext, request: dict) -> Job:
        accepted = self.accept(ctx, request)
        if self.by_name and accepted.name is not None and self.find(ctx, accepted.name) is not None:
            raise self.name_taken(accepted.name)  # type: ignore[misc]
        if self.tagging is not None:
            self.tagging.check_new(accepted.tags)
        job = runtime().jobs.submit(ctx.principal, self.kind, accepted.request, name=accepted.name,
                                    client_token=accepted.client_token, details=accepted.details)
        if accepted.tags and self.tagging is not None and self.arn is not None:
            self.tagging.tag(ctx, self.arn(job), accepted.tags)
        return job

    def handle_start(self, ctx: RequestContext, request: dict) -> dict:
        return self.started(ctx, self.submit(ctx, request))

    def handle_describe(self, ctx: RequestContext, request: dict) -> dict:
        return {self.describe_member: self.properties(self.get(ctx, request[self.id_member]))}

    def handle_list(self, ctx: RequestContext, request: dict) -> dict:
        query = select(Job).where(Job.account_id == ctx.account_id, Job.region == ctx.region, Job.kind == self.kind,
                                  *self.list_where(request))
        return self.paging.page_query(ctx, request, query, [(Job.created_at, True), (Job.job_id, True)],
                                      self.summary or self.properties, **self.list_extra(request))

    def handle_stop(self, ctx: RequestContext, request: dict) -> dict:
        job = self.get(ctx, request[self.id_member])
        if job.status in ENDED_STATES:
            if self.stop_ended is not None:
                raise self.stop_ended(job)
            return self.stopped(job)
        return self.stopped(runtime().jobs.store.request_stop(ctx.principal, self.kind, job.job_id))

    def handle_delete(self, ctx: RequestContext, request: dict) -> dict:
        job = self.get(ctx, request[self.id_member])
        runtime().jobs.store.delete(ctx.principal, self.kind, job.job_id)
        if self.arn is not None:
            drop_tags(self.arn(job))
        return {}

    def register(self, provider) -> "JobApi":
        """The operations this declaration names, on the service's provider."""
        for operation, handler in ((self.start, self.handle_start), (self.describe, self.handle_describe),
                                   (self.list, self.handle_list), (self.stop, self.handle_stop),
                                   (self.delete, self.handle_delete)):
            if operation:
                provider.operation(operation)(handler)
        return self


def is_active(job: Job) -> bool:
    return job.status in ACTIVE_STATES


# ---------------------------------------------------------------- List* filters, as the services spell them


def submitted_between(before: Any = None, after: Any = None) -> list:
    conditions = []
    if before is not None:
        conditions.append(Job.created_at < before)
    if after is not None:
        conditions.append(Job.created_at > after)
    return conditions


def named(name: str | None) -> list:
    return [Job.name == name] if name else []


def name_contains(text: str | None) -> list:
    # Case-insensitive, as Transcribe's JobNameContains.
    return [Job.name.ilike(f"%{_escape_like(text)}%", escape="\\")] if text else []


def in_statuses(statuses: list[str] | None) -> list:
    return [Job.status.in_(statuses)] if statuses is not None else []


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def reverse_statuses(mapping: dict[str, str]) -> dict[str, list[str]]:
    """{gateway status: AWS status} -> {AWS status: [gateway statuses]}, for List* status filters."""
    reverse: dict[str, list[str]] = {}
    for ours, theirs in mapping.items():
        reverse.setdefault(theirs, []).append(ours)
    return reverse
