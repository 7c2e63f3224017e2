"""The orchestrator's tables (sfn_*) and what reads and writes them: state machines, executions with their
history, task tokens. Every table belongs to an account and region and is keyed by ARN (or token); the API
reaches the caller's rows through the ResourceTable declarations below, the workflows by key."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, Select, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator import arns
from orchestrator.asl.timestamps import iso
from orchestrator.errors import (ExecutionAlreadyExists, ExecutionDoesNotExist, ExecutionNotRedrivable,
                                 InvalidToken, StateMachineAlreadyExists, StateMachineDoesNotExist)
from services.gateway.context import Principal
from services.gateway.db import Base
from services.gateway.kit.resources import ResourceTable, ScopedByArn, session
from services.gateway.kit.times import aware, utcnow

RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE = (
    "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
REDRIVABLE = (FAILED, TIMED_OUT, ABORTED)


# -- tables -----------------------------------------------------------------------------------------------------


class StateMachine(ScopedByArn, Base):
    __tablename__ = "sfn_state_machines"
    __table_args__ = (Index("ix_sfn_sm_listing", "account_id", "region", "name"),)

    arn: Mapped[str] = mapped_column(String(256), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    definition: Mapped[str] = mapped_column(Text)
    role_arn: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    logging_configuration: Mapped[dict | None] = mapped_column(JSON)
    tracing_configuration: Mapped[dict | None] = mapped_column(JSON)
    revision_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Execution(ScopedByArn, Base):
    __tablename__ = "sfn_executions"
    __table_args__ = (Index("ix_sfn_exec_listing", "account_id", "region", "state_machine_arn", "started_at"),)

    arn: Mapped[str] = mapped_column(String(300), primary_key=True)
    state_machine_arn: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[str] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[str] = mapped_column(Text)
    role_arn: Mapped[str] = mapped_column(String(256))
    revision_id: Mapped[str] = mapped_column(String(64))
    trace_header: Mapped[str | None] = mapped_column(String(256))
    workflow_id: Mapped[str] = mapped_column(String(128))
    redrive_count: Mapped[int] = mapped_column(Integer, default=0)
    redrive_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Where a failed execution stopped, for RedriveExecution: the top-level state, its input and the variables.
    resume: Mapped[dict | None] = mapped_column(JSON)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class HistoryEvent(Base):
    __tablename__ = "sfn_history_events"
    __table_args__ = (Index("ix_sfn_history", "execution_arn", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_arn: Mapped[str] = mapped_column(String(300), ForeignKey("sfn_executions.arn", ondelete="CASCADE"))
    timestamp: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    type: Mapped[str] = mapped_column(String(48))
    details: Mapped[dict | None] = mapped_column(JSON)


class TaskToken(ScopedByArn, Base):
    __tablename__ = "sfn_task_tokens"

    token: Mapped[str] = mapped_column(String(600), primary_key=True)
    execution_arn: Mapped[str] = mapped_column(String(300))
    workflow_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # OPEN | CLOSED
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


MACHINES = ResourceTable(
    StateMachine, key="arn",
    not_found=lambda arn: StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'"),
    conflict=lambda arn: StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'"))
EXECUTIONS = ResourceTable(
    Execution, key="arn",
    not_found=lambda arn: ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'"),
    conflict=lambda arn: ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'"))
TOKENS = ResourceTable(TaskToken, key="token",
                       not_found=lambda token: InvalidToken("Invalid Token: the task token is not valid"))


# Event type → the HistoryEvent member holding its details.
DETAILS_MEMBER = {
    "ExecutionStarted": "executionStartedEventDetails", "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails", "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails", "ExecutionRedriven": "executionRedrivenEventDetails",
    "TaskScheduled": "taskScheduledEventDetails", "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails", "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails", "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails", "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails", "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails", "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails", "EvaluationFailed": "evaluationFailedEventDetails",
}


def details_member(kind: str) -> str | None:
    if kind in DETAILS_MEMBER:
        return DETAILS_MEMBER[kind]
    if kind.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if kind.endswith("StateExited"):
        return "stateExitedEventDetails"
    return None


# -- what the API records ---------------------------------------------------------------------------------------


def record_execution(principal: Principal, arn: str, machine: StateMachine, name: str, text: str,
                     trace_header: str | None, workflow_id: str) -> tuple[Execution, bool]:
    """A new RUNNING execution with its ExecutionStarted event (one transaction); (row, created). A name in use
    by a RUNNING execution with the same input answers that execution (StartExecution is idempotent so);
    ExecutionAlreadyExists otherwise."""
    now = utcnow()
    with session() as db:
        existing = EXECUTIONS.find(principal, arn, db)
        if existing is not None and existing.status == RUNNING and existing.input == text:
            return existing, False
        row = EXECUTIONS.create(
            principal, db, arn=arn, state_machine_arn=machine.arn, name=name, status=RUNNING, input=text,
            definition=machine.definition, role_arn=machine.role_arn, revision_id=machine.revision_id,
            trace_header=trace_header, workflow_id=workflow_id, redrive_count=0, started_at=now)
        db.flush()
        db.add(HistoryEvent(execution_arn=arn, timestamp=now, type="ExecutionStarted", details={
            "executionStartedEventDetails": {"input": text, "inputDetails": {"truncated": False},
                                             "roleArn": machine.role_arn}}))
    return row, True


def record_stop(execution_arn: str, error: str | None, cause: str | None, details: dict) -> tuple[dt.datetime, bool]:
    """Mark a RUNNING execution ABORTED with its ExecutionAborted event; (stop date, whether it was running)."""
    now = utcnow()
    with session() as db:
        stored = db.get(Execution, execution_arn, with_for_update=True)
        if stored.status != RUNNING:
            return aware(stored.stopped_at) or now, False
        stored.status, stored.stopped_at = ABORTED, now
        stored.error, stored.cause = error, cause
        db.add(HistoryEvent(execution_arn=execution_arn, timestamp=now, type="ExecutionAborted",
                            details={"executionAbortedEventDetails": details}))
    return now, True


def workflow_id_for(execution_arn: str, redrive_count: int = 0) -> str:
    """The DBOS workflow id of an execution's run (each redrive is a new run)."""
    digest = hashlib.sha256(execution_arn.encode()).hexdigest()[:32]
    return f"sfn-{digest}" + (f"-r{redrive_count}" if redrive_count else "")


def record_redrive(execution_arn: str) -> tuple[dt.datetime, str]:
    """Make a FAILED/TIMED_OUT/ABORTED execution RUNNING again under a new workflow id, with its
    ExecutionRedriven event; (redrive date, workflow id). ExecutionNotRedrivable in any other status."""
    now = utcnow()
    with session() as db:
        stored = db.get(Execution, execution_arn, with_for_update=True)
        if stored.status not in REDRIVABLE:
            raise ExecutionNotRedrivable(f"Execution {execution_arn} is {stored.status} and cannot be redriven")
        if (stored.error, stored.cause) == HISTORY_LIMIT_ERROR or _event_count(db, execution_arn) >= MAX_HISTORY_EVENTS - 1:
            raise ExecutionNotRedrivable(f"Execution {execution_arn} reached the maximum number of history events "
                                         f"({MAX_HISTORY_EVENTS}) and cannot be redriven")
        # With no resume point (stopped or failed before any state ran) it starts again from the top.
        count = stored.redrive_count + 1
        stored.status, stored.redrive_count, stored.redrive_at = RUNNING, count, now
        stored.stopped_at, stored.error, stored.cause, stored.output = None, None, None, None
        stored.workflow_id = workflow_id_for(execution_arn, count)
        workflow_id = stored.workflow_id
        db.add(HistoryEvent(execution_arn=execution_arn, timestamp=now, type="ExecutionRedriven",
                            details={"executionRedrivenEventDetails": {"redriveCount": count}}))
    return now, workflow_id


def history_query(execution_arn: str) -> Select:
    return select(HistoryEvent).where(HistoryEvent.execution_arn == execution_arn)


def events_before(execution_arn: str, seq: int) -> int:
    """How many of the execution's events come before the event `seq` (its id is one more)."""
    with session() as db:
        return db.scalar(select(func.count()).select_from(HistoryEvent).where(
            HistoryEvent.execution_arn == execution_arn, HistoryEvent.seq < seq)) or 0


# -- what the workflows read and write --------------------------------------------------------------------------


# AWS's hard quota of events in one execution's history. At 24,999 events the next one decides: an
# ExecutionSucceeded (or the execution's own end) is written as event 25,000; anything else is replaced by an
# ExecutionFailed with HISTORY_LIMIT_ERROR, and the execution ends there.
MAX_HISTORY_EVENTS = 25_000
HISTORY_LIMIT_ERROR = ("States.Runtime",
                       f"The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS}).")


def _event_count(db, execution_arn: str) -> int:
    return db.scalar(select(func.count()).select_from(HistoryEvent).where(
        HistoryEvent.execution_arn == execution_arn)) or 0


def _fail_at_history_limit(db, row: Execution, events: list, written: int, now: dt.datetime) -> None:
    """Write as many of `events` as fit under the quota, then the ExecutionFailed that ends the execution."""
    room = max(0, MAX_HISTORY_EVENTS - 1 - written)
    error, cause = HISTORY_LIMIT_ERROR
    db.add_all([HistoryEvent(execution_arn=row.arn, timestamp=ts, type=kind, details=details)
                for kind, details, ts in events[:room]])
    db.add(HistoryEvent(execution_arn=row.arn, timestamp=now, type="ExecutionFailed",
                        details={"executionFailedEventDetails": {"error": error, "cause": cause}}))
    row.status, row.output, row.error, row.cause, row.stopped_at = FAILED, None, error, cause, now
    row.resume = None  # not redrivable: its history is full


def write_events(execution_arn: str, events: list[tuple[str, dict | None, dt.datetime]]) -> str | None:
    """Append events; returns the execution's status afterwards (so a stop is seen at the next write). Events that
    would take the history past its quota end the execution instead (FAILED, States.Runtime), which the caller
    sees as a status other than RUNNING."""
    with session() as db:
        row = db.get(Execution, execution_arn, with_for_update=True)
        status = row.status if row is not None else None
        if status != RUNNING:
            return status
        written = _event_count(db, execution_arn)
        if written + len(events) > MAX_HISTORY_EVENTS - 1:
            _fail_at_history_limit(db, row, events, written, utcnow())
            return FAILED
        db.add_all([HistoryEvent(execution_arn=execution_arn, timestamp=ts, type=kind, details=details)
                    for kind, details, ts in events])
    return status


def finish_execution(execution_arn: str, events: list, status: str, output: str | None, error: str | None,
                     cause: str | None, resume: dict | None) -> None:
    """Write the last events and the outcome, unless the execution was stopped meanwhile. When the last events
    and the outcome's event do not fit in the history quota, the execution fails on the quota instead."""
    now = utcnow()
    final = {SUCCEEDED: ("ExecutionSucceeded", {"output": output, "outputDetails": {"truncated": False}}),
             FAILED: ("ExecutionFailed", _error_details(error, cause)),
             TIMED_OUT: ("ExecutionTimedOut", _error_details(error, cause))}[status]
    with session() as db:
        row = db.get(Execution, execution_arn, with_for_update=True)
        if row is None or row.status != RUNNING:
            return
        written = _event_count(db, execution_arn)
        if written + len(events) + 1 > MAX_HISTORY_EVENTS:
            _fail_at_history_limit(db, row, events, written, now)
            return
        db.add_all([HistoryEvent(execution_arn=execution_arn, timestamp=ts, type=kind, details=details)
                    for kind, details, ts in [*events, (final[0], {details_member(final[0]): final[1]}, now)]])
        row.status, row.output, row.error, row.cause, row.stopped_at = status, output, error, cause, now
        row.resume = resume


def save_resume(execution_arn: str, resume: dict) -> None:
    with session() as db:
        row = db.get(Execution, execution_arn)
        if row is not None and row.status == ABORTED:
            row.resume = resume


def _error_details(error: str | None, cause: str | None) -> dict:
    details = {}
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    return details


def load_execution(execution_arn: str) -> dict | None:
    with session() as db:
        row = db.get(Execution, execution_arn)
        if row is None:
            return None
        machine = db.get(StateMachine, row.state_machine_arn)
        return {"status": row.status, "definition": row.definition, "input": row.input, "name": row.name,
                "state_machine_arn": row.state_machine_arn,
                "state_machine_name": machine.name if machine else arns.state_machine_name(row.state_machine_arn),
                "role_arn": row.role_arn, "start": iso(aware(row.started_at)),
                "account_id": row.account_id, "region": row.region, "redrive_count": row.redrive_count,
                "resume": row.resume, "workflow_id": row.workflow_id}


def execution_status(execution_arn: str) -> str | None:
    with session() as db:
        return db.scalar(select(Execution.status).where(Execution.arn == execution_arn))


def new_token(execution_arn: str, workflow_id: str, account_id: str, region: str) -> str:
    raw = json.dumps({"w": workflow_id, "n": secrets.token_hex(12)}, separators=(",", ":")).encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    TOKENS.create(Principal(account_id, region), token=token, execution_arn=execution_arn, workflow_id=workflow_id,
                  status="OPEN", created_at=utcnow())
    return token


def close_token(token: str) -> None:
    with session() as db:
        db.execute(update(TaskToken).where(TaskToken.token == token).values(status="CLOSED"))
