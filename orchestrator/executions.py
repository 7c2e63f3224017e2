"""Durable executions on DBOS Transact.

Every Standard execution is a DBOS workflow (`orchestrator.execution`); Parallel branches and Map iterations that
do more than compute (tasks, waits, callbacks) run as child workflows (`orchestrator.branch`) whose ids extend
their parent's, so a StopExecution reaches all of them. What the interpreter does through the engine:

- history events are buffered and written by one checkpointed step at the next effect (or every 500 events), so
  a chain of pure states costs one write, and a replay after a crash recomputes the pure states without writing
  their events twice;
- a task call is a checkpointed step: after a crash it is not called again once it has returned;
- Wait and retry back-offs are durable timers: `DBOS.recv` with a timeout, which DBOS records, so a restarted
  process waits only what is left, and a StopExecution message wakes the sleeper;
- task tokens are durable messages: SendTaskSuccess/Failure/Heartbeat `DBOS.send` to the waiting workflow.

Express executions (StartSyncExecution) and TestState run the same interpreter on the inline engine, without
checkpoints, as AWS runs them (at most once, in memory).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
import traceback
from typing import Any

from dbos import DBOS, SetWorkflowID

from orchestrator import integrations
from orchestrator.asl.errors import StatesError
from orchestrator.asl.timestamps import iso
from orchestrator.interpreter import Aborted, Interpreter, dumps
from orchestrator.store import (FAILED, RUNNING, SUCCEEDED, TIMED_OUT, close_token, details_member,
                                execution_status, finish_execution, load_execution, new_token, save_resume,
                                write_events)
from services.gateway.context import Principal
from services.gateway.jobs import register_queue
from services.gateway.kit.times import utcnow

log = logging.getLogger("aigate.orchestrator")

# Where executions are enqueued when this process runs no workers, so a separate `aigate worker` (which listens
# to it like the job kinds' queues) picks them up.
QUEUE = "stepfunctions"
register_queue(QUEUE)
TOPIC = "sfn"
BRANCH_WINDOW = 40  # child workflows one Map/Parallel keeps running at once when MaxConcurrency is 0
EVENT_BATCH = 500
SYNC_POLL_SECONDS = 1.0


def root_id(workflow_id: str) -> str:
    return workflow_id.split("/", 1)[0]


# -- engines ----------------------------------------------------------------------------------------------------


def is_pure(machine: dict) -> bool:
    """Only computation (no task, wait or callback): safe to recompute on replay, so run inline."""
    for state in machine.get("States", {}).values():
        kind = state.get("Type")
        if kind in ("Pass", "Choice", "Succeed", "Fail"):
            continue
        if kind == "Parallel" and all(is_pure(branch) for branch in state.get("Branches", [])):
            continue
        if kind == "Map" and "ItemReader" not in state and "ResultWriter" not in state and \
                is_pure(state.get("ItemProcessor") or state.get("Iterator") or {}):
            continue
        return False
    return True


class BaseEngine:
    # (error, cause) an ExecutionTimeout at `deadline` carries; empty: the defaults (the machine's TimeoutSeconds).
    timeout_reason: tuple = ()

    def __init__(self, execution_arn: str, principal: Principal, deadline: dt.datetime | None):
        self.execution_arn = execution_arn
        self.principal = principal
        self.deadline = deadline
        self.buffer: list[tuple[str, dict | None, dt.datetime]] = []

    def event(self, kind: str, details: dict | None = None) -> None:
        member = details_member(kind)
        self.buffer.append((kind, {member: details} if member and details is not None else None, utcnow()))
        if len(self.buffer) >= EVENT_BATCH:
            self.flush()

    def flush(self) -> None:
        raise NotImplementedError

    def transition(self) -> None:
        """Called as each state is entered. Durable executions are bounded by their history (write_events ends one
        at the 25,000-event quota), so they check nothing here (a clock read would be a checkpointed step)."""

    def now(self) -> dt.datetime:
        return utcnow()

    def run_job(self, job: dict) -> dict:
        """One Parallel branch or Map iteration, here; returns {"output"} or {"error", "cause"}."""
        map_info = job.get("map")
        if map_info:
            self.event("MapIterationStarted", {"name": map_info["name"], "index": map_info["index"]})
        interpreter = Interpreter(self, job["context"], job["variables"], job["language"])
        try:
            output = interpreter.run(job["machine"], job["input"])
        except ExecutionTimeout:
            raise
        except StatesError as error:
            if map_info:
                self.event("MapIterationFailed", {"name": map_info["name"], "index": map_info["index"]})
            return {"error": error.error, "cause": error.cause}
        if map_info:
            self.event("MapIterationSucceeded", {"name": map_info["name"], "index": map_info["index"]})
        return {"output": output}

    def run_inline(self, jobs: list[dict], tolerated: tuple) -> list[dict]:
        outcomes = []
        for job in jobs:
            outcome = self.run_job(job)
            outcomes.append(outcome)
            if "error" in outcome and not _tolerates(tolerated, outcomes, len(jobs)):
                break
        return outcomes

    def remaining(self, seconds: float | None) -> tuple[float | None, bool]:
        """`seconds` capped by the execution's deadline; True when the cap applies."""
        if self.deadline is None:
            return seconds, False
        left = max(0.0, (self.deadline - self.clock()).total_seconds())
        if seconds is None or left < seconds:
            return left, True
        return seconds, False

    def invoke(self, resource_arn: str, parameters: Any, options: dict) -> Any:
        resource = integrations.parse_resource(resource_arn)
        timeout, heartbeat = options.get("timeout"), options.get("heartbeat")
        if timeout is None and resource.pattern in ("token", "sync"):
            timeout = 99999999
        elif timeout is None and resource.pattern == "request":
            timeout = 60 if resource.kind == "http" else None
        kind = {"resourceType": resource.resource_type, "resource": resource.resource_name}
        scheduled = {**kind, "region": self.principal.region, "parameters": dumps(parameters)}
        if timeout is not None:
            scheduled["timeoutInSeconds"] = int(timeout)
        if heartbeat is not None:
            scheduled["heartbeatInSeconds"] = int(heartbeat)
        self.event("TaskScheduled", scheduled)
        self.event("TaskStarted", dict(kind))
        try:
            limit, capped = self.remaining(timeout)
            if resource.pattern == "request":
                result = self.call(resource, parameters, limit)
            elif resource.pattern == "token":
                token = options["context"]["Task"]["Token"]
                submitted = self.call(resource, parameters, limit)
                self.event("TaskSubmitted", {**kind, "output": dumps(submitted), "outputDetails": {"truncated": False}})
                result = self.wait_token(token, limit, heartbeat)
            else:
                result = self.wait_job(resource, parameters, limit, kind)
        except StatesError as error:
            if error.error in ("States.Timeout", "States.HeartbeatTimeout"):
                self.event("TaskTimedOut", {**kind, "error": error.error, "cause": error.cause})
                if capped and self.deadline is not None and self.clock() >= self.deadline:
                    raise ExecutionTimeout(*self.timeout_reason) from None
            else:
                self.event("TaskFailed", {**kind, "error": error.error, "cause": error.cause})
            raise
        self.event("TaskSucceeded", {**kind, "output": dumps(result), "outputDetails": {"truncated": False}})
        return result

    def wait_job(self, resource: integrations.Resource, parameters: Any, limit: float | None, kind: dict) -> Any:
        started = self.call(resource, parameters, None)
        self.event("TaskSubmitted", {**kind, "output": dumps(started), "outputDetails": {"truncated": False}})
        operation, request = integrations.sync_describe(resource, parameters or {}, started)
        waited = 0.0
        while True:
            described = self.call(integrations.Resource("sdk", resource.service, operation, "request", resource.arn),
                                  request, None)
            status = (integrations.job_status(described) or "").upper()
            if status in integrations.SUCCESS_STATES:
                return described
            if status in integrations.FAILURE_STATES:
                raise StatesError("States.TaskFailed", dumps(described)[:32000])
            if limit is not None and waited >= limit:
                raise StatesError("States.Timeout", "The job did not finish within the task's TimeoutSeconds.")
            self.sleep(SYNC_POLL_SECONDS, checked=False)
            waited += SYNC_POLL_SECONDS


class ExecutionTimeout(StatesError):
    """The execution's own TimeoutSeconds ran out: no Retry or Catch inside it applies."""

    final = True

    def __init__(self, error: str = "States.Timeout", cause: str = "The execution exceeded its TimeoutSeconds."):
        super().__init__(error, cause)

    def __reduce__(self):
        return (ExecutionTimeout, (self.error, self.cause))


def _tolerates(tolerated: tuple, outcomes: list[dict], total: int) -> bool:
    count, percentage = tolerated if tolerated else (None, None)
    failures = sum(1 for outcome in outcomes if "error" in outcome)
    if count is None and percentage is None:
        return False
    if count is not None and failures <= count:
        return True
    return percentage is not None and failures <= total * percentage / 100.0


class DurableEngine(BaseEngine):
    """Effects as DBOS operations of the workflow running this code."""

    def __init__(self, execution_arn: str, principal: Principal, deadline: dt.datetime | None, workflow_id: str):
        super().__init__(execution_arn, principal, deadline)
        self.workflow_id = workflow_id
        self.spawned = 0

    def flush(self) -> None:
        if not self.buffer:
            return
        events, self.buffer = self.buffer, []
        status = DBOS.run_step({"name": "sfn.history"}, write_events, self.execution_arn, events)
        if status != RUNNING:
            raise Aborted()

    def clock(self) -> dt.datetime:
        return DBOS.run_step({"name": "sfn.clock"}, utcnow)

    def random(self) -> float:
        return DBOS.run_step({"name": "sfn.random"}, random.random)

    def task_token(self) -> str:
        self.flush()
        return DBOS.run_step({"name": "sfn.token"}, new_token, self.execution_arn, self.workflow_id,
                             self.principal.account_id, self.principal.region)

    def effect(self, name: str, fn, *args: Any) -> Any:
        self.flush()
        return DBOS.run_step({"name": name}, fn, *args)

    def call(self, resource: integrations.Resource, parameters: Any, timeout: float | None) -> Any:
        self.flush()
        return DBOS.run_step({"name": "sfn.task"}, integrations.call, resource, parameters, self.principal, timeout)

    def sleep(self, seconds: float, checked: bool = True) -> None:
        self.flush()
        limit, capped = self.remaining(seconds) if checked else (seconds, False)
        if limit and limit > 0:
            end = self.clock() + dt.timedelta(seconds=limit)
            left = limit
            while left > 0:
                message = DBOS.recv(TOPIC, timeout_seconds=left)
                if message is None:
                    break
                if message.get("kind") == "stop":
                    raise Aborted()
                # A late callback for a task that already ended: drop it and wait what is left (the clock is
                # checkpointed, so a replay takes the same path).
                left = (end - self.clock()).total_seconds()
        if capped:
            raise ExecutionTimeout()
        if execution_status_step(self.execution_arn) != RUNNING:
            raise Aborted()

    def wait_token(self, token: str, limit: float | None, heartbeat: float | None) -> Any:
        self.flush()
        waited_since = self.clock()
        try:
            while True:
                elapsed = (self.clock() - waited_since).total_seconds()
                left = None if limit is None else limit - elapsed
                if left is not None and left <= 0:
                    raise StatesError("States.Timeout", "The task did not report back within its TimeoutSeconds.")
                window = min(x for x in (left, heartbeat, 31_536_000.0) if x is not None)
                message = DBOS.recv(TOPIC, timeout_seconds=window)
                if message is None:
                    if heartbeat is not None and (left is None or heartbeat < left):
                        raise StatesError("States.HeartbeatTimeout", "The task sent no heartbeat within its "
                                                                     "HeartbeatSeconds.")
                    continue
                kind = message.get("kind")
                if kind == "stop":
                    raise Aborted()
                if message.get("token") != token:
                    continue
                if kind == "success":
                    return message["output"]
                if kind == "failure":
                    raise StatesError(message.get("error") or "", message.get("cause") or "")
                # heartbeat: wait again, a new window
        finally:
            DBOS.run_step({"name": "sfn.token.close"}, close_token, token)

    def branches(self, jobs: list[dict], max_concurrency: int, tolerated: tuple = (None, None)) -> list[dict]:
        if all(is_pure(job["machine"]) for job in jobs):
            return self.run_inline(jobs, tolerated)
        self.flush()
        self.spawned += 1
        window = max_concurrency if max_concurrency and max_concurrency > 0 else BRANCH_WINDOW
        deadline = iso(self.deadline) if self.deadline else None
        handles: list = []
        outcomes: list[dict] = []
        principal = [self.principal.account_id, self.principal.region]

        def collect() -> None:
            outcome = handles[len(outcomes)].get_result()
            outcomes.append(outcome)

        for index, job in enumerate(jobs):
            while len(handles) - len(outcomes) >= window:
                collect()
            if any("aborted" in outcome for outcome in outcomes):
                break
            if any("error" in outcome for outcome in outcomes) and not _tolerates(tolerated, outcomes, len(jobs)):
                break
            with SetWorkflowID(f"{self.workflow_id}/{self.spawned}.{index}"):
                handles.append(DBOS.start_workflow(run_branch, self.execution_arn, principal, job, deadline))
        while len(outcomes) < len(handles):
            collect()
        if any("aborted" in outcome for outcome in outcomes):
            raise Aborted()
        if any("timeout" in outcome for outcome in outcomes):
            raise ExecutionTimeout()
        return outcomes


def execution_status_step(execution_arn: str) -> str | None:
    return DBOS.run_step({"name": "sfn.status"}, execution_status, execution_arn)


class InlineEngine(BaseEngine):
    """Express and TestState: effects run directly; history events are only counted (no API reads an Express
    execution's history, and an endless loop must not fill memory with them)."""

    def __init__(self, execution_arn: str, principal: Principal, deadline: dt.datetime | None):
        super().__init__(execution_arn, principal, deadline)
        self.events = 0

    def flush(self) -> None:
        self.events += len(self.buffer)
        self.buffer = []

    def transition(self) -> None:
        # A loop of pure states never sleeps nor calls out: the deadline (an Express execution's five minutes) is
        # checked at each state, so such a loop ends TIMED_OUT at it.
        if self.deadline is not None and utcnow() >= self.deadline:
            raise ExecutionTimeout(*self.timeout_reason)

    def clock(self) -> dt.datetime:
        return utcnow()

    def random(self) -> float:
        return random.random()

    def task_token(self) -> str:
        raise StatesError("States.Runtime", "The .waitForTaskToken pattern is not supported by Express workflows")

    def effect(self, name: str, fn, *args: Any) -> Any:
        return fn(*args)

    def call(self, resource, parameters, timeout):
        return integrations.call(resource, parameters, self.principal, timeout)

    def sleep(self, seconds: float, checked: bool = True) -> None:
        limit, capped = self.remaining(seconds) if checked else (seconds, False)
        if limit:
            time.sleep(limit)
        if capped:
            raise ExecutionTimeout(*self.timeout_reason)

    def wait_token(self, token, limit, heartbeat):
        raise StatesError("States.Runtime", "The .waitForTaskToken pattern is not supported by Express workflows")

    def branches(self, jobs: list[dict], max_concurrency: int, tolerated: tuple = (None, None)) -> list[dict]:
        if all(is_pure(job["machine"]) for job in jobs) or len(jobs) <= 1:
            return self.run_inline(jobs, tolerated)
        from concurrent.futures import ThreadPoolExecutor

        window = max_concurrency if max_concurrency and max_concurrency > 0 else BRANCH_WINDOW

        def run(job: dict) -> tuple[dict, int]:
            child = InlineEngine(self.execution_arn, self.principal, self.deadline)
            child.timeout_reason = self.timeout_reason
            outcome = child.run_job(job)
            child.flush()
            return outcome, child.events

        with ThreadPoolExecutor(max_workers=min(window, len(jobs)), thread_name_prefix="sfn-express") as pool:
            results = list(pool.map(run, jobs))
        self.flush()
        self.events += sum(count for _, count in results)
        return [outcome for outcome, _ in results]


# -- workflows --------------------------------------------------------------------------------------------------


def context_object(info: dict, execution_arn: str) -> dict:
    return {
        "Execution": {"Id": execution_arn, "Name": info["name"], "StartTime": info["start"], "RoleArn": info["role_arn"],
                      "Input": json.loads(info["input"]), "RedriveCount": info.get("redrive_count", 0)},
        "StateMachine": {"Id": info["state_machine_arn"], "Name": info["state_machine_name"]},
    }


def execution_deadline(definition: dict, start_iso: str) -> dt.datetime | None:
    seconds = definition.get("TimeoutSeconds")
    if not seconds:
        return None
    return dt.datetime.fromisoformat(start_iso.replace("Z", "+00:00")) + dt.timedelta(seconds=seconds)


@DBOS.workflow(name="orchestrator.execution")
def run_execution(execution_arn: str) -> None:
    info = DBOS.run_step({"name": "sfn.load"}, load_execution, execution_arn)
    if info is None or info["status"] != RUNNING:
        return
    definition = json.loads(info["definition"])
    principal = Principal(info["account_id"], info["region"])
    engine = DurableEngine(execution_arn, principal, execution_deadline(definition, info["start"]), DBOS.workflow_id)
    resume = info.get("resume") if info["redrive_count"] else None
    variables = dict(resume["variables"]) if resume else {}
    interpreter = Interpreter(engine, context_object(info, execution_arn), variables,
                              definition.get("QueryLanguage", "JSONPath"))
    value = json.loads(info["input"]) if not resume else resume["input"]
    try:
        output = interpreter.run(definition, value, start_at=resume["state"] if resume else None)
    except Aborted:
        where = interpreter.current
        if where is not None:  # a redrive of the stopped execution starts again at the state it was in
            DBOS.run_step({"name": "sfn.aborted"}, save_resume, execution_arn,
                          {"state": where[0], "input": where[1], "variables": interpreter.variables})
        return
    except StatesError as error:
        where = interpreter.current
        resume_at = {"state": where[0], "input": where[1], "variables": interpreter.variables} if where else None
        status = TIMED_OUT if isinstance(error, ExecutionTimeout) else FAILED
        events, engine.buffer = engine.buffer, []
        DBOS.run_step({"name": "sfn.finish"}, finish_execution, execution_arn, events, status, None,
                      error.error, error.cause, resume_at)
        return
    except Exception as error:  # a bug: fail the execution with States.Runtime rather than leave it running
        log.warning("execution failed on an internal error", extra={"fields": {
            "execution": execution_arn, "trace": traceback.format_exc(limit=8)}})
        events, engine.buffer = engine.buffer, []
        DBOS.run_step({"name": "sfn.finish"}, finish_execution, execution_arn, events, FAILED, None,
                      "States.Runtime", f"Internal error: {type(error).__name__}: {error}", None)
        return
    events, engine.buffer = engine.buffer, []
    DBOS.run_step({"name": "sfn.finish"}, finish_execution, execution_arn, events, SUCCEEDED, dumps(output),
                  None, None, None)


@DBOS.workflow(name="orchestrator.branch")
def run_branch(execution_arn: str, principal: list, job: dict, deadline: str | None) -> dict:
    engine = DurableEngine(execution_arn, Principal(*principal),
                           dt.datetime.fromisoformat(deadline.replace("Z", "+00:00")) if deadline else None,
                           DBOS.workflow_id)
    try:
        outcome = engine.run_job(job)
        engine.flush()
    except Aborted:
        return {"aborted": True}
    except ExecutionTimeout:
        try:
            engine.flush()
        except Aborted:
            return {"aborted": True}
        return {"timeout": True}
    return outcome


def launch(execution_arn: str, workflow_id: str) -> None:
    from services.gateway.runtime import runtime

    with SetWorkflowID(workflow_id):
        if runtime().settings.run_workers:
            DBOS.start_workflow(run_execution, execution_arn)
        else:
            DBOS.enqueue_workflow(QUEUE, run_execution, execution_arn)


def ensure_running(execution_arn: str, workflow_id: str) -> None:
    """A RUNNING execution whose workflow DBOS does not know (the process died between recording the execution
    and starting it): start it now. Starting under the same id is a no-op when it exists."""
    try:
        if DBOS.get_workflow_status(workflow_id) is None:
            launch(execution_arn, workflow_id)
    except Exception:  # best effort: the next Describe tries again
        log.warning("could not check the workflow of an execution", extra={"fields": {"execution": execution_arn}})


def wait_stopped(workflow_id: str, timeout: float) -> bool:
    """Wait until a stopped execution's workflows have all ended (they record where they stopped as they go)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pending = DBOS.list_workflows(workflow_id_prefix=root_id(workflow_id), status=["PENDING", "ENQUEUED"],
                                          load_input=False, load_output=False)
        except Exception:
            return True
        if not pending:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def signal_stop(workflow_id: str) -> None:
    """Wake every workflow of an execution (root, branches, iterations) so they see it stopped."""
    try:
        statuses = DBOS.list_workflows(workflow_id_prefix=root_id(workflow_id), status=["PENDING", "ENQUEUED"],
                                       load_input=False, load_output=False)
    except Exception:  # listing is best effort; the workflows also see the stop at their next write
        statuses = []
    for status in statuses:
        try:
            DBOS.send(status.workflow_id, {"kind": "stop"}, TOPIC)
        except Exception:
            pass


def send_to_token(workflow_id: str, message: dict) -> None:
    DBOS.send(workflow_id, message, TOPIC)
