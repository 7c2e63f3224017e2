"""Durable asynchronous jobs on DBOS Transact.

A Start* operation records a job row and enqueues one DBOS workflow, whose id is the job id, on the queue of
the job's capability. The workflow runs the job kind's runner; every piece of work the runner does goes
through `JobRun.step`, a checkpointed DBOS step, so a process killed mid-job resumes at the first unfinished
step when it (or, with `executor_id` shared, its replacement) starts again. Describe/List read the job row.

A job accepted is never lost: the row is written before the workflow is enqueued, and at start-up every job
still SUBMITTED or IN_PROGRESS is enqueued again under its own id, which DBOS treats as a no-op for
workflows it already has.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from dbos import DBOS, DBOSConfig, SetWorkflowID
from sqlalchemy import JSON, DateTime, Float, Index, String, Text, UniqueConstraint, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.config import Settings
from services.gateway.context import Principal
from services.gateway.db import Base, Database
from services.gateway.errors import ServiceError, validation_error
from services.gateway.kit.times import aware, utcnow
from services.gateway.kit.tokens import decode_token, encode_token

log = logging.getLogger("aigate.jobs")

# Bump when job workflows change in a way an unfinished older run could not replay.
WORKFLOW_VERSION = "aigate-jobs-1"

SUBMITTED, IN_PROGRESS, COMPLETED, FAILED, STOP_REQUESTED, STOPPED = (
    "SUBMITTED", "IN_PROGRESS", "COMPLETED", "FAILED", "STOP_REQUESTED", "STOPPED",
)
ACTIVE_STATES = (SUBMITTED, IN_PROGRESS, STOP_REQUESTED)
ENDED_STATES = (COMPLETED, FAILED, STOPPED)
DELETED = "DELETED"  # what a runner's progress step sees once the job's row is gone (it stops there)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "client_token", name="uq_jobs_client_token"),
        Index("ix_jobs_listing", "account_id", "region", "kind", "created_at"),
    )

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict] = mapped_column(JSON)  # the AWS request as accepted, nothing added
    # What the service worked out when it accepted the job and the runner needs (e.g. lexicons as they were then).
    details: Mapped[dict | None] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON)
    client_token: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def summary(self) -> dict[str, Any]:
        """The job record as the native jobs API shows it, for any kind of job."""
        return {
            "JobId": self.job_id, "Kind": self.kind, "Queue": self.queue, "Name": self.name, "Status": self.status,
            "Progress": round(self.progress or 0.0, 4), "Message": self.message,
            **{label: (value.isoformat() if (value := self.time(field)) else None) for label, field in (
                ("CreatedAt", "created_at"), ("StartedAt", "started_at"), ("EndedAt", "ended_at"))},
        }

    def time(self, field: str) -> dt.datetime | None:
        return aware(getattr(self, field))


class JobStopped(Exception):
    """Raised inside a runner when a stop was requested; the job ends STOPPED."""


@dataclass(frozen=True)
class JobKind:
    name: str  # e.g. "comprehend.dominant-language"
    queue: str  # the capability's queue, e.g. "comprehend"
    run: Callable[["JobRun"], dict | None]


JOB_KINDS: dict[str, JobKind] = {}
# Queues of workflows that are not jobs of this table (state-machine executions), registered by their owners.
EXTRA_QUEUES: set[str] = set()


def register_queue(name: str) -> None:
    """A DBOS queue that this process registers and listens to like the job kinds' queues."""
    EXTRA_QUEUES.add(name)


# Periodic work by name (e.g. Personalize's automatic training): `fn(now)` runs every `periodic_interval_s` seconds.
PERIODIC: dict[str, Callable[[dt.datetime], None]] = {}


def periodic(name: str) -> Callable[[Callable[[dt.datetime], None]], Callable]:
    """Register `fn(now)` to run periodically, on one member of the cluster per tick: each tick is a DBOS scheduled
    workflow whose id is the schedule's name and time, so processes sharing the database run it once between them.
    It should find what is due from the database itself (a tick may be skipped while no process runs)."""

    def register(fn: Callable[[dt.datetime], None]) -> Callable:
        PERIODIC[name] = fn
        return fn

    return register


def every_seconds_cron(seconds: int) -> str:
    """A six-field (seconds first) crontab firing about every `seconds`: on the divisions of the minute below 60 s,
    of the hour from one minute up."""
    if seconds < 60:
        return f"*/{seconds} * * * * *"
    return f"0 */{min(seconds // 60, 59)} * * * *"


def job_kind(name: str, queue: str) -> Callable[[Callable[["JobRun"], dict | None]], Callable]:
    """Register a runner: `runner(run: JobRun) -> result dict stored on the job (or None)`."""

    def register(runner: Callable[[JobRun], dict | None]) -> Callable:
        JOB_KINDS[name] = JobKind(name, queue, runner)
        return runner

    return register


class JobStore:
    """Job rows; every query is scoped to the caller's account and region."""

    def __init__(self, db: Database):
        self.db = db

    def create(self, principal: Principal, kind: JobKind, name: str | None, request: dict,
               client_token: str | None, details: dict | None = None) -> tuple[Job, bool]:
        """Insert a SUBMITTED job; with a client token already used for this kind, return that job instead."""
        with self.db.session() as session:
            if client_token:
                existing = session.scalar(
                    select(Job).where(Job.account_id == principal.account_id, Job.kind == kind.name,
                                      Job.client_token == client_token))
                if existing is not None:
                    return existing, False
            now = utcnow()
            job = Job(job_id=secrets.token_hex(16), account_id=principal.account_id, region=principal.region,
                      kind=kind.name, queue=kind.queue, name=name, status=SUBMITTED, progress=0.0,
                      request=request, details=details, client_token=client_token, created_at=now, updated_at=now)
            session.add(job)
        return job, True

    def get(self, principal: Principal, kind: str | None, job_id: str) -> Job | None:
        """The caller's job, or None; `kind` None accepts any kind."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
        if job is None or job.account_id != principal.account_id or job.region != principal.region:
            return None
        return job if kind is None or job.kind == kind else None

    def find_by_name(self, principal: Principal, kind: str, name: str) -> Job | None:
        """The caller's job of this kind with this name (services that address jobs by name keep it unique)."""
        with self.db.session() as session:
            return session.scalar(select(Job).where(Job.account_id == principal.account_id,
                                                    Job.region == principal.region, Job.kind == kind,
                                                    Job.name == name).limit(1))

    def delete(self, principal: Principal, kind: str, job_id: str) -> bool:
        """Forget the caller's job (an active one is stopped first: its workflow ends at its next step)."""
        job = self.get(principal, kind, job_id)
        if job is None:
            return False
        if job.status in ACTIVE_STATES:
            self.request_stop(principal, kind, job_id)
        with self.db.session() as session:
            session.execute(delete(Job).where(Job.job_id == job_id))
        return True

    def load(self, job_id: str) -> Job | None:
        with self.db.session() as session:
            return session.get(Job, job_id)

    def list(self, principal: Principal, kind: str | None, status: str | None = None, name: str | None = None,
             submitted_before: dt.datetime | None = None, submitted_after: dt.datetime | None = None,
             next_token: str | None = None, max_results: int = 100) -> tuple[list[Job], str | None]:
        """Newest first; the token is an opaque keyset cursor (created_at, job_id)."""
        query = select(Job).where(Job.account_id == principal.account_id, Job.region == principal.region)
        if kind:
            query = query.where(Job.kind == kind)
        if status:
            query = query.where(Job.status == status)
        if name:
            query = query.where(Job.name == name)
        if submitted_before:
            query = query.where(Job.created_at < submitted_before)
        if submitted_after:
            query = query.where(Job.created_at > submitted_after)
        if next_token:
            try:
                created_at, job_id = decode_token("jobs", next_token)
            except ValueError:
                raise validation_error("Invalid pagination token") from None
            query = query.where((Job.created_at < created_at) | ((Job.created_at == created_at) & (Job.job_id < job_id)))
        query = query.order_by(Job.created_at.desc(), Job.job_id.desc()).limit(max_results + 1)
        with self.db.session() as session:
            jobs = list(session.scalars(query))
        token = None
        if len(jobs) > max_results:
            jobs = jobs[:max_results]
            last = jobs[-1]
            token = encode_token("jobs", [last.time("created_at"), last.job_id])
        return jobs, token

    def update(self, job_id: str, **fields: Any) -> None:
        fields["updated_at"] = utcnow()
        with self.db.session() as session:
            session.execute(update(Job).where(Job.job_id == job_id).values(**fields))

    def transition(self, job_id: str, from_states: tuple[str, ...], **fields: Any) -> bool:
        """Update the job only if it is still in one of `from_states` (a stop and a start may race)."""
        fields["updated_at"] = utcnow()
        with self.db.session() as session:
            result = session.execute(
                update(Job).where(Job.job_id == job_id, Job.status.in_(from_states)).values(**fields))
            return result.rowcount == 1

    def request_stop(self, principal: Principal, kind: str, job_id: str) -> Job | None:
        """SUBMITTED jobs stop at once; running ones at their next step."""
        job = self.get(principal, kind, job_id)
        if job is None:
            return None
        if not self.transition(job_id, (SUBMITTED,), status=STOPPED, ended_at=utcnow(),
                               message="Stopped before it started."):
            self.transition(job_id, (IN_PROGRESS,), status=STOP_REQUESTED)
        return self.load(job_id)

    def active(self) -> list[Job]:
        with self.db.session() as session:
            return list(session.scalars(select(Job).where(Job.status.in_(ACTIVE_STATES))))

    def counts(self) -> Iterable[tuple[str, str, int]]:
        with self.db.session() as session:
            rows = session.execute(select(Job.queue, Job.status, func.count()).group_by(Job.queue, Job.status))
            return [(queue, status, count) for queue, status, count in rows]


class JobRun:
    """What a runner sees: the job's request and checkpointed steps."""

    def __init__(self, store: JobStore, job: Job):
        self._store = store
        self.job_id = job.job_id
        self.request: dict = job.request
        self.details: dict = job.details or {}
        self.name = job.name
        self.principal = Principal(job.account_id, job.region)

    def step(self, fn: Callable[..., Any], *args: Any, name: str | None = None) -> Any:
        """Run fn(*args) once: on recovery a finished step returns its recorded result instead of running again."""
        return DBOS.run_step({"name": name or fn.__name__}, fn, *args)

    def progress(self, done: int, total: int) -> None:
        """Record progress and stop here if a stop was requested (both checkpointed, so replay agrees)."""
        fraction = 1.0 if total <= 0 else min(1.0, done / total)
        status = DBOS.run_step({"name": "job.progress"}, _set_progress, self._store, self.job_id, fraction)
        if status in (STOP_REQUESTED, DELETED):
            raise JobStopped()


def _set_progress(store: JobStore, job_id: str, fraction: float) -> str:
    store.update(job_id, progress=fraction)
    job = store.load(job_id)
    return job.status if job else DELETED


class JobManager:
    """Owns DBOS for this process: launch, queues, submission, recovery."""

    store: JobStore

    def __init__(self, settings: Settings, db: Database):
        self.settings = settings
        self.store = JobStore(db)
        _ACTIVE["store"] = self.store

    def launch(self, listen: Iterable[str] | None) -> None:
        """Start DBOS; `listen` names the queues this process runs (None: all, empty: none)."""
        config: DBOSConfig = {
            "name": "aigate",
            "system_database_url": self.settings.dbos_url,
            "executor_id": self.settings.executor_id,
            "application_version": WORKFLOW_VERSION,
            "log_level": "WARNING",
        }
        DBOS(config=config)
        if listen is not None:
            DBOS.listen_queues(list(listen))
        DBOS.launch()
        for queue in self.queues():
            DBOS.register_queue(queue, worker_concurrency=self.settings.concurrency_of(queue),
                                 polling_interval_sec=self.settings.job_poll_interval_s)
        if PERIODIC:  # create or replace: every member applies the same schedules
            cron = every_seconds_cron(self.settings.periodic_interval_s)
            DBOS.apply_schedules([{"schedule_name": f"aigate.{name}", "workflow_fn": run_periodic, "schedule": cron,
                                   "context": name} for name in sorted(PERIODIC)])
        self.reconcile()

    @staticmethod
    def queues() -> list[str]:
        return sorted({kind.queue for kind in JOB_KINDS.values()} | EXTRA_QUEUES)

    def reconcile(self) -> None:
        for job in self.store.active():
            log.info("re-enqueueing job", extra={"fields": {"job_id": job.job_id, "status": job.status}})
            self._enqueue(job)

    def submit(self, principal: Principal, kind_name: str, request: dict, name: str | None = None,
               client_token: str | None = None, details: dict | None = None) -> Job:
        kind = JOB_KINDS[kind_name]
        job, created = self.store.create(principal, kind, name, request, client_token, details)
        if created:
            self._enqueue(job)
        elif job.request != request:
            raise ServiceError("IdempotentParameterMismatchException",
                               "The ClientRequestToken was already used with different parameters.")
        return job

    @staticmethod
    def _enqueue(job: Job) -> None:
        with SetWorkflowID(job.job_id):
            DBOS.enqueue_workflow(job.queue, run_job, job.job_id)

    @staticmethod
    def shutdown() -> None:
        DBOS.destroy(workflow_completion_timeout_sec=0)


# The store the workflows use, set by the JobManager of this process.
_ACTIVE: dict[str, JobStore] = {}


def _start(job_id: str) -> str | None:
    store = _ACTIVE["store"]
    job = store.load(job_id)
    if job is None or job.status not in ACTIVE_STATES:
        return None
    started = store.transition(job_id, (SUBMITTED, IN_PROGRESS), status=IN_PROGRESS,
                               started_at=job.started_at or utcnow())
    if not started:  # a stop got in first
        store.transition(job_id, (STOP_REQUESTED,), status=STOPPED, ended_at=utcnow(), message="Stopped on request.")
        return None
    return job.kind


def _finish(job_id: str, status: str, result: dict | None, message: str | None) -> None:
    fields: dict[str, Any] = {"status": status, "result": result, "message": message, "ended_at": utcnow()}
    if status == COMPLETED:
        fields["progress"] = 1.0
    _ACTIVE["store"].update(job_id, **fields)


# What a job's status says when its runner failed on a bug rather than on its input: the exception's type, text
# and trace go to the log only (they can name paths, settings or data of the gateway, never a client's business).
INTERNAL_FAILURE_MESSAGE = "An internal error occurred while running the job. Try your request again."


def failure_message(error: Exception) -> str:
    """The message a failed job shows: a service error's own, else the generic internal one."""
    if isinstance(error, ServiceError):
        return error.message
    return INTERNAL_FAILURE_MESSAGE


@DBOS.workflow(name="aigate.run_job")
def run_job(job_id: str) -> None:
    kind_name = DBOS.run_step({"name": "job.start"}, _start, job_id)
    if kind_name is None:
        return
    store = _ACTIVE["store"]
    run = JobRun(store, store.load(job_id))
    try:
        result = JOB_KINDS[kind_name].run(run)
        json.dumps(result)  # a result the job row cannot store fails the job here, instead of leaving it running
    except JobStopped:
        DBOS.run_step({"name": "job.finish"}, _finish, job_id, STOPPED, None, "Stopped on request.")
        return
    except Exception as error:
        fields = {"job_id": job_id, "error": error.message if isinstance(error, ServiceError)
                  else f"{type(error).__name__}: {error}"}
        if not isinstance(error, ServiceError):  # a bug, not bad input: keep where it happened
            fields["trace"] = traceback.format_exc(limit=8)
        log.warning("job failed", extra={"fields": fields})
        DBOS.run_step({"name": "job.finish"}, _finish, job_id, FAILED, None, failure_message(error))
        return
    DBOS.run_step({"name": "job.finish"}, _finish, job_id, COMPLETED, result, None)


def _run_periodic(name: str) -> None:
    try:
        PERIODIC[name](utcnow())
    except Exception:  # the next tick looks again; a failing one must not stop the schedule
        log.warning("periodic work failed", extra={"fields": {"name": name, "trace": traceback.format_exc(limit=8)}})


@DBOS.workflow(name="aigate.run_periodic")
def run_periodic(scheduled_at: dt.datetime, name: str) -> None:
    """One tick. The work runs in a thread of its own, outside this workflow's context, so that the jobs it starts
    are workflows of their own (as when a request starts them), not children of the tick."""
    if name in PERIODIC:
        worker = threading.Thread(target=_run_periodic, args=(name,), name=f"periodic-{name}")
        worker.start()
        worker.join()
