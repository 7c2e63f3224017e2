"""The Step Functions API (JSON 1.0, `AWSStepFunctions.*`), keyed by AWS operation name."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from typing import Any

from sqlalchemy import func, select

from orchestrator import executions as ex
from orchestrator.asl import validate
from orchestrator.asl.errors import DefinitionError, StatesError
from orchestrator.executions import Execution, HistoryEvent, StateMachine, TaskToken
from orchestrator.interpreter import Aborted, FailState, Interpreter, dumps
from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError, validation_error
from services.gateway.registry import ServiceProvider

provider = ServiceProvider("stepfunctions")

_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
MAX_TAGS = 50
EXPRESS_LIMIT_SECONDS = 300


def _db():
    return ex.db()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _check_name(name: str, what: str = "name") -> None:
    if not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise ServiceError("InvalidName", f"Invalid Name: '{name}'")


def _parse_arn(arn: str, kinds: tuple[str, ...]) -> list[str]:
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states" or parts[5] not in kinds:
        raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
    return parts


def _definition(text: str) -> dict:
    try:
        return validate.check(text)
    except DefinitionError as error:
        raise ServiceError("InvalidDefinition", validate.invalid_definition_message(error)) from None


def _machine(ctx: RequestContext, arn: str) -> StateMachine:
    parts = _parse_arn(arn, ("stateMachine",))
    with _db().session() as session:
        row = session.get(StateMachine, ":".join(parts[:7]))
    if row is None or row.account_id != ctx.account_id or row.region != ctx.region:
        raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
    return row


def _execution(ctx: RequestContext, arn: str) -> Execution:
    _parse_arn(arn, ("execution", "express"))
    with _db().session() as session:
        row = session.get(Execution, arn)
    if row is None or row.account_id != ctx.account_id or row.region != ctx.region:
        raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
    return row


def _token(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": position}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except Exception:
        raise ServiceError("InvalidToken", f"Invalid Token: '{token[:64]}'") from None


def _tags(tags: list[dict] | None) -> dict:
    tags = {tag["key"]: tag.get("value", "") for tag in tags or []}
    if len(tags) > MAX_TAGS:
        raise ServiceError("TooManyTags", f"The number of tags exceeds the limit of {MAX_TAGS}.")
    return tags


def _json_input(text: str | None, what: str = "input") -> str:
    text = "{}" if text is None else text
    try:
        json.loads(text)
    except ValueError as error:
        raise ServiceError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{error}'") from None
    if len(text.encode()) > 256 * 1024:
        raise ServiceError("InvalidExecutionInput", "The input exceeds the maximum size of 262144 bytes")
    return text


# -- state machines ---------------------------------------------------------------------------------------------


@provider.operation("CreateStateMachine")
def create_state_machine(ctx: RequestContext, request: dict) -> dict:
    name = request["name"]
    _check_name(name)
    kind = request.get("type", "STANDARD")
    if not _ROLE.match(request["roleArn"]):
        raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {request['roleArn']}'")
    _definition(request["definition"])
    tags = _tags(request.get("tags"))
    arn = ctx.arn("states", f"stateMachine:{name}")
    now = _now()
    with _db().session() as session:
        existing = session.get(StateMachine, arn)
        if existing is not None:
            if existing.definition == request["definition"] and existing.role_arn == request["roleArn"] \
                    and existing.type == kind:
                return {"stateMachineArn": arn, "creationDate": ex.aware(existing.created_at)}
            raise ServiceError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
        session.add(StateMachine(
            arn=arn, account_id=ctx.account_id, region=ctx.region, name=name, type=kind, status="ACTIVE",
            definition=request["definition"], role_arn=request["roleArn"], description=request.get("versionDescription"),
            logging_configuration=request.get("loggingConfiguration"),
            tracing_configuration=request.get("tracingConfiguration"), revision_id=uuid.uuid4().hex, tags=tags,
            created_at=now, updated_at=now))
    return {"stateMachineArn": arn, "creationDate": now}


def _describe_machine(row: StateMachine) -> dict:
    out = {"stateMachineArn": row.arn, "name": row.name, "status": row.status, "definition": row.definition,
           "roleArn": row.role_arn, "type": row.type, "creationDate": ex.aware(row.created_at),
           "loggingConfiguration": row.logging_configuration or {"level": "OFF", "includeExecutionData": False},
           "revisionId": row.revision_id}
    if row.tracing_configuration:
        out["tracingConfiguration"] = row.tracing_configuration
    if row.description:
        out["description"] = row.description
    return out


@provider.operation("DescribeStateMachine")
def describe_state_machine(ctx: RequestContext, request: dict) -> dict:
    return _describe_machine(_machine(ctx, request["stateMachineArn"]))


@provider.operation("UpdateStateMachine")
def update_state_machine(ctx: RequestContext, request: dict) -> dict:
    row = _machine(ctx, request["stateMachineArn"])
    fields = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
    if not any(field in request for field in fields):
        raise ServiceError("MissingRequiredParameter", "Either the definition, the roleArn, the loggingConfiguration "
                                                       "or the tracingConfiguration must be specified")
    if "definition" in request:
        _definition(request["definition"])
    if "roleArn" in request and not _ROLE.match(request["roleArn"]):
        raise ServiceError("InvalidArn", f"Invalid Arn: '{request['roleArn']}'")
    now = _now()
    revision = uuid.uuid4().hex
    with _db().session() as session:
        stored = session.get(StateMachine, row.arn)
        stored.definition = request.get("definition", stored.definition)
        stored.role_arn = request.get("roleArn", stored.role_arn)
        if "loggingConfiguration" in request:
            stored.logging_configuration = request["loggingConfiguration"]
        if "tracingConfiguration" in request:
            stored.tracing_configuration = request["tracingConfiguration"]
        stored.revision_id, stored.updated_at = revision, now
    return {"updateDate": now, "revisionId": revision}


@provider.operation("DeleteStateMachine")
def delete_state_machine(ctx: RequestContext, request: dict) -> dict:
    arn = request["stateMachineArn"]
    _parse_arn(arn, ("stateMachine",))
    with _db().session() as session:
        row = session.get(StateMachine, arn)
        if row is not None and row.account_id == ctx.account_id and row.region == ctx.region:
            session.delete(row)
    return {}


@provider.operation("ListStateMachines")
def list_state_machines(ctx: RequestContext, request: dict) -> dict:
    limit = request.get("maxResults") or 100
    offset = _offset(request.get("nextToken"))
    with _db().session() as session:
        rows = list(session.scalars(
            select(StateMachine).where(StateMachine.account_id == ctx.account_id, StateMachine.region == ctx.region)
            .order_by(StateMachine.name).offset(offset).limit(limit + 1)))
    out = {"stateMachines": [{"stateMachineArn": row.arn, "name": row.name, "type": row.type,
                              "creationDate": ex.aware(row.created_at)} for row in rows[:limit]]}
    if len(rows) > limit:
        out["nextToken"] = _token(offset + limit)
    return out


@provider.operation("ValidateStateMachineDefinition")
def validate_state_machine_definition(ctx: RequestContext, request: dict) -> dict:
    found = validate.diagnostics(request["definition"])
    severity = request.get("severity", "ERROR")
    if severity == "ERROR":
        found = [d for d in found if d.severity == "ERROR"]
    limit = request.get("maxResults") or 100
    result = "FAIL" if any(d.severity == "ERROR" for d in found) else "OK"
    return {"result": result, "truncated": len(found) > limit,
            "diagnostics": [{"severity": d.severity, "code": d.code, "message": d.message, "location": d.location}
                            for d in found[:limit]]}


# -- executions -------------------------------------------------------------------------------------------------


@provider.operation("StartExecution")
def start_execution(ctx: RequestContext, request: dict) -> dict:
    machine = _machine(ctx, request["stateMachineArn"])
    name = request.get("name") or str(uuid.uuid4())
    _check_name(name)
    text = _json_input(request.get("input"))
    arn = ctx.arn("states", f"execution:{machine.name}:{name}")
    now = _now()
    workflow_id = ex.workflow_id_for(arn)
    with _db().session() as session:
        existing = session.get(Execution, arn)
        if existing is not None:
            if existing.status == ex.RUNNING and existing.input == text:
                return {"executionArn": arn, "startDate": ex.aware(existing.started_at)}
            raise ServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        session.add(Execution(
            arn=arn, account_id=ctx.account_id, region=ctx.region, state_machine_arn=machine.arn, name=name,
            status=ex.RUNNING, input=text, definition=machine.definition, role_arn=machine.role_arn,
            revision_id=machine.revision_id, trace_header=request.get("traceHeader"), workflow_id=workflow_id,
            redrive_count=0, started_at=now))
        session.flush()
        session.add(HistoryEvent(execution_arn=arn, timestamp=now, type="ExecutionStarted", details={
            "executionStartedEventDetails": {"input": text, "inputDetails": {"truncated": False},
                                             "roleArn": machine.role_arn}}))
    ex.launch(arn, workflow_id)
    return {"executionArn": arn, "startDate": now}


def _describe_execution(row: Execution, include_data: bool = True) -> dict:
    out = {"executionArn": row.arn, "stateMachineArn": row.state_machine_arn, "name": row.name, "status": row.status,
           "startDate": ex.aware(row.started_at), "redriveCount": row.redrive_count}
    if include_data:
        out["input"], out["inputDetails"] = row.input, {"included": True}
    if row.stopped_at:
        out["stopDate"] = ex.aware(row.stopped_at)
    if row.output is not None and include_data:
        out["output"], out["outputDetails"] = row.output, {"included": True}
    if row.error is not None:
        out["error"] = row.error
    if row.cause is not None:
        out["cause"] = row.cause
    if row.trace_header:
        out["traceHeader"] = row.trace_header
    if row.redrive_at:
        out["redriveDate"] = ex.aware(row.redrive_at)
    if row.status in (ex.FAILED, ex.TIMED_OUT, ex.ABORTED):
        out["redriveStatus"] = "REDRIVABLE" if row.resume or row.status == ex.ABORTED else "NOT_REDRIVABLE"
        if out["redriveStatus"] == "NOT_REDRIVABLE":
            out["redriveStatusReason"] = "The execution has no state to redrive from."
    elif row.status == ex.SUCCEEDED:
        out["redriveStatus"] = "NOT_REDRIVABLE"
        out["redriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
    return out


@provider.operation("DescribeExecution")
def describe_execution(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    if row.status == ex.RUNNING and (_now() - ex.aware(row.redrive_at or row.started_at)).total_seconds() > 10:
        ex.ensure_running(row.arn, row.workflow_id)
    return _describe_execution(row)


@provider.operation("DescribeStateMachineForExecution")
def describe_state_machine_for_execution(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    with _db().session() as session:
        machine = session.get(StateMachine, row.state_machine_arn)
    return {"stateMachineArn": row.state_machine_arn, "name": row.state_machine_arn.split(":")[6],
            "definition": row.definition, "roleArn": row.role_arn, "revisionId": row.revision_id,
            "updateDate": ex.aware(machine.updated_at) if machine else ex.aware(row.started_at),
            "loggingConfiguration": (machine.logging_configuration if machine else None)
            or {"level": "OFF", "includeExecutionData": False}}


@provider.operation("StopExecution")
def stop_execution(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    now = _now()
    details = {k: request[k] for k in ("error", "cause") if k in request}
    with _db().session() as session:
        stored = session.get(Execution, row.arn, with_for_update=True)
        if stored.status != ex.RUNNING:
            return {"stopDate": ex.aware(stored.stopped_at) or now}
        stored.status, stored.stopped_at = ex.ABORTED, now
        stored.error, stored.cause = request.get("error"), request.get("cause")
        session.add(HistoryEvent(execution_arn=row.arn, timestamp=now, type="ExecutionAborted",
                                 details={"executionAbortedEventDetails": details}))
    ex.signal_stop(row.workflow_id)
    return {"stopDate": now}


@provider.operation("ListExecutions")
def list_executions(ctx: RequestContext, request: dict) -> dict:
    if "mapRunArn" in request:
        raise ServiceError("ResourceNotFound", "Map runs are not recorded as separate resources by this gateway")
    if "stateMachineArn" not in request:
        raise validation_error("Either stateMachineArn or mapRunArn must be specified")
    machine = _machine(ctx, request["stateMachineArn"])
    limit = request.get("maxResults") or 100
    offset = _offset(request.get("nextToken"))
    query = select(Execution).where(Execution.account_id == ctx.account_id, Execution.region == ctx.region,
                                    Execution.state_machine_arn == machine.arn)
    if request.get("statusFilter"):
        query = query.where(Execution.status == request["statusFilter"])
    redrive = request.get("redriveFilter")
    if redrive == "REDRIVEN":
        query = query.where(Execution.redrive_count > 0)
    elif redrive == "NOT_REDRIVEN":
        query = query.where(Execution.redrive_count == 0)
    query = query.order_by(Execution.started_at.desc(), Execution.arn.desc()).offset(offset).limit(limit + 1)
    with _db().session() as session:
        rows = list(session.scalars(query))
    items = []
    for row in rows[:limit]:
        item = {"executionArn": row.arn, "stateMachineArn": row.state_machine_arn, "name": row.name,
                "status": row.status, "startDate": ex.aware(row.started_at), "redriveCount": row.redrive_count}
        if row.stopped_at:
            item["stopDate"] = ex.aware(row.stopped_at)
        if row.redrive_at:
            item["redriveDate"] = ex.aware(row.redrive_at)
        items.append(item)
    out = {"executions": items}
    if len(rows) > limit:
        out["nextToken"] = _token(offset + limit)
    return out


@provider.operation("GetExecutionHistory")
def get_execution_history(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    limit = request.get("maxResults") or 100
    offset = _offset(request.get("nextToken"))
    include_data = request.get("includeExecutionData", True)
    with _db().session() as session:
        total = session.scalar(select(func.count()).select_from(HistoryEvent)
                               .where(HistoryEvent.execution_arn == row.arn))
        query = select(HistoryEvent).where(HistoryEvent.execution_arn == row.arn)
        if request.get("reverseOrder"):
            query = query.order_by(HistoryEvent.seq.desc())
        else:
            query = query.order_by(HistoryEvent.seq)
        events = list(session.scalars(query.offset(offset).limit(limit + 1)))
    out_events = []
    for position, event in enumerate(events[:limit]):
        number = (total - offset - position) if request.get("reverseOrder") else offset + position + 1
        item = {"timestamp": ex.aware(event.timestamp), "type": event.type, "id": number,
                "previousEventId": number - 1}
        for member, details in (event.details or {}).items():
            if not include_data and isinstance(details, dict):
                details = {k: v for k, v in details.items() if k not in ("input", "output", "parameters")}
            item[member] = details
        out_events.append(item)
    out = {"events": out_events}
    if len(events) > limit:
        out["nextToken"] = _token(offset + limit)
    return out


@provider.operation("RedriveExecution")
def redrive_execution(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    if row.arn.split(":")[5] == "express":
        raise ServiceError("ExecutionNotRedrivable", "Express executions cannot be redriven")
    if row.status == ex.ABORTED and not ex.wait_stopped(row.workflow_id, timeout=5.0):
        raise ServiceError("ExecutionNotRedrivable", f"Execution {row.arn} is still stopping; redrive it in a moment")
    now = _now()
    with _db().session() as session:
        stored = session.get(Execution, row.arn, with_for_update=True)
        if stored.status not in (ex.FAILED, ex.TIMED_OUT, ex.ABORTED):
            raise ServiceError("ExecutionNotRedrivable",
                               f"Execution {row.arn} is {stored.status} and cannot be redriven")
        # With no resume point (stopped or failed before any state ran) it starts again from the top.
        count = stored.redrive_count + 1
        stored.status, stored.redrive_count, stored.redrive_at = ex.RUNNING, count, now
        stored.stopped_at, stored.error, stored.cause, stored.output = None, None, None, None
        stored.workflow_id = ex.workflow_id_for(row.arn, count)
        workflow_id = stored.workflow_id
        session.add(HistoryEvent(execution_arn=row.arn, timestamp=now, type="ExecutionRedriven",
                                 details={"executionRedrivenEventDetails": {"redriveCount": count}}))
    ex.launch(row.arn, workflow_id)
    return {"redriveDate": now}


# -- callbacks --------------------------------------------------------------------------------------------------


def _open_token(ctx: RequestContext, token: str) -> TaskToken:
    with _db().session() as session:
        row = session.get(TaskToken, token)
    if row is None or row.account_id != ctx.account_id or row.region != ctx.region:
        raise ServiceError("InvalidToken", "Invalid Token: the task token is not valid")
    if row.status != "OPEN":
        raise ServiceError("TaskTimedOut", "Task Timed Out: the task for this token has already completed")
    return row


@provider.operation("SendTaskSuccess")
def send_task_success(ctx: RequestContext, request: dict) -> dict:
    try:
        output = json.loads(request["output"])
    except ValueError as error:
        raise ServiceError("InvalidOutput", f"Invalid Output: '{error}'") from None
    row = _open_token(ctx, request["taskToken"])
    ex.send_to_token(row.workflow_id, {"kind": "success", "token": row.token, "output": output})
    return {}


@provider.operation("SendTaskFailure")
def send_task_failure(ctx: RequestContext, request: dict) -> dict:
    row = _open_token(ctx, request["taskToken"])
    ex.send_to_token(row.workflow_id, {"kind": "failure", "token": row.token, "error": request.get("error"),
                                       "cause": request.get("cause")})
    return {}


@provider.operation("SendTaskHeartbeat")
def send_task_heartbeat(ctx: RequestContext, request: dict) -> dict:
    row = _open_token(ctx, request["taskToken"])
    ex.send_to_token(row.workflow_id, {"kind": "heartbeat", "token": row.token})
    return {}


# -- express and TestState --------------------------------------------------------------------------------------


@provider.operation("StartSyncExecution")
def start_sync_execution(ctx: RequestContext, request: dict) -> dict:
    machine = _machine(ctx, request["stateMachineArn"])
    if machine.type != "EXPRESS":
        raise ServiceError("StateMachineTypeNotSupported",
                           "This operation is not supported by this type of state machine")
    name = request.get("name") or str(uuid.uuid4())
    _check_name(name)
    text = _json_input(request.get("input"))
    arn = ctx.arn("states", f"express:{machine.name}:{name}:{uuid.uuid4()}")
    start = _now()
    definition = json.loads(machine.definition)
    # Express executions last at most five minutes, as on AWS.
    deadline = min(filter(None, [ex.execution_deadline(definition, start.isoformat()),
                                 start + dt.timedelta(seconds=EXPRESS_LIMIT_SECONDS)]))
    engine = ex.InlineEngine(arn, ctx.principal, deadline)
    info = {"name": name, "start": start.isoformat(), "role_arn": machine.role_arn, "input": text,
            "state_machine_arn": machine.arn, "state_machine_name": machine.name}
    interpreter = Interpreter(engine, ex.context_object(info, arn), {}, definition.get("QueryLanguage", "JSONPath"))
    out = {"executionArn": arn, "stateMachineArn": machine.arn, "name": name, "startDate": start,
           "input": text, "inputDetails": {"included": True},
           "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 0}}
    try:
        output = interpreter.run(definition, json.loads(text))
        out.update(status="SUCCEEDED", output=dumps(output), outputDetails={"included": True})
    except ex.ExecutionTimeout as error:
        out.update(status="TIMED_OUT", error=error.error, cause=error.cause)
    except StatesError as error:
        out.update(status="FAILED", error=error.error, cause=error.cause)
    stop = _now()
    out["stopDate"] = stop
    out["billingDetails"]["billedDurationInMilliseconds"] = max(100, int((stop - start).total_seconds() * 1000))
    return out


@provider.operation("TestState")
def test_state(ctx: RequestContext, request: dict) -> dict:
    text = request["definition"]
    try:
        state = json.loads(text)
    except ValueError as error:
        raise ServiceError("InvalidDefinition", f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {error}'") from None
    if isinstance(state, dict) and "States" in state:
        name = request.get("stateName") or state.get("StartAt")
        if name not in state.get("States", {}):
            raise ServiceError("InvalidDefinition", f"Invalid State Machine Definition: state '{name}' not found")
        language = state.get("QueryLanguage", "JSONPath")
        state = state["States"][name]
    else:
        name = request.get("stateName") or "TestState"
        language = "JSONPath"
    # Validate the single state inside a minimal machine (targets it names are not required to exist).
    if not isinstance(state, dict):
        raise ServiceError("InvalidDefinition", "Invalid State Machine Definition: a state must be a JSON object")
    wrapper = {"StartAt": name, "QueryLanguage": language, "States": {name: {
        k: v for k, v in state.items() if k not in ("Next",)} | ({"End": True} if state.get("Type") in (
            "Pass", "Task", "Wait", "Parallel", "Map") else {})}}
    for rule in wrapper["States"][name].get("Choices", []) or []:
        if isinstance(rule, dict):
            wrapper["States"].setdefault(rule.get("Next", "x"), {"Type": "Succeed"})
    if "Default" in state:
        wrapper["States"].setdefault(state["Default"], {"Type": "Succeed"})
    for catcher in state.get("Catch", []) or []:
        if isinstance(catcher, dict):
            wrapper["States"].setdefault(catcher.get("Next", "x"), {"Type": "Succeed"})
    found = [d for d in validate.diagnostics(json.dumps(wrapper)) if d.code != "UNREACHABLE_STATE"]
    if found:
        first = found[0]
        raise ServiceError("InvalidDefinition", validate.invalid_definition_message(
            DefinitionError(first.code, first.message, first.location)))
    raw = json.loads(_json_input(request.get("input")))
    variables = json.loads(request["variables"]) if request.get("variables") else {}
    engine = ex.InlineEngine(ctx.arn("states", "execution:TestState:test"), ctx.principal, None)
    context = json.loads(request["context"]) if request.get("context") else {}
    context.setdefault("Execution", {"Id": ctx.arn("states", "execution:TestState:test"), "Name": "test",
                                     "StartTime": _now().isoformat(), "Input": raw})
    interpreter = Interpreter(engine, context, variables, state.get("QueryLanguage", language))
    mock = request.get("mock") or {}
    if state.get("Type") == "Task" and mock:
        if "errorOutput" in mock:
            err = mock["errorOutput"]
            engine.invoke = lambda *args, **kw: (_ for _ in ()).throw(StatesError(err.get("error", ""), err.get("cause", "")))
        elif "result" in mock:
            engine.invoke = lambda *args, **kw: json.loads(mock["result"])
    level = request.get("inspectionLevel", "INFO")
    results: list = []
    invoke = engine.invoke

    def recording_invoke(*args: Any, **kwargs: Any) -> Any:
        value = invoke(*args, **kwargs)
        results.append(value)
        return value

    engine.invoke = recording_invoke
    out: dict[str, Any] = {}
    try:
        output, next_name = interpreter.run_state(name, state, raw, state.get("QueryLanguage", language))
        out.update(status="SUCCEEDED", output=dumps(output))
        caught = next_name is not None and next_name != state.get("Next") and state.get("Type") != "Choice"
        if caught:
            out["status"] = "CAUGHT_ERROR"
        if next_name:
            out["nextState"] = next_name
    except (StatesError, Aborted) as error:
        if isinstance(error, Aborted):
            error = StatesError("States.Runtime", "aborted")
        retriable = state.get("Type") in ("Task", "Parallel", "Map") and not isinstance(error, FailState) and any(
            error.error in r.get("ErrorEquals", []) or "States.ALL" in r.get("ErrorEquals", [])
            for r in state.get("Retry", []))
        out.update(status="RETRIABLE" if retriable else "FAILED", error=error.error, cause=error.cause)
    if level in ("DEBUG", "TRACE"):
        out["inspectionData"] = _inspection(interpreter, state, raw, results, language)
    return out


def _inspection(interpreter: Interpreter, state: dict, raw: Any, results: list, language: str) -> dict:
    """The data at each step of the JSONPath data flow, as TestState's DEBUG level shows it."""
    data: dict[str, Any] = {"input": dumps(raw), "variables": dumps(interpreter.variables)}
    if state.get("QueryLanguage", language) != "JSONPath":
        return data
    context = interpreter.context
    try:
        value = interpreter.effective_input(state, raw, context)
        data["afterInputPath"] = dumps(value)
        if "Parameters" in state:
            data["afterParameters"] = dumps(interpreter.template(state["Parameters"], value, context))
        if results:
            result = results[-1]
            data["result"] = dumps(result)
            if "ResultSelector" in state:
                result = interpreter.template(state["ResultSelector"], result, context)
                data["afterResultSelector"] = dumps(result)
            from orchestrator.asl import paths

            result_path = state.get("ResultPath", "$")
            data["afterResultPath"] = dumps(raw if result_path is None else paths.assign(raw, result_path, result))
    except StatesError:
        pass  # the failing step is reported by the error fields already
    return data


# -- tags -------------------------------------------------------------------------------------------------------


def _tagged(ctx: RequestContext, arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "states":
        raise ServiceError("InvalidArn", f"Invalid Arn: '{arn}'")
    with _db().session() as session:
        row = session.get(StateMachine, arn)
    if row is None or row.account_id != ctx.account_id or row.region != ctx.region:
        raise ServiceError("ResourceNotFound", f"Resource not found: '{arn}'")
    return arn


@provider.operation("TagResource")
def tag_resource(ctx: RequestContext, request: dict) -> dict:
    arn = _tagged(ctx, request["resourceArn"])
    with _db().session() as session:
        row = session.get(StateMachine, arn)
        tags = {**(row.tags or {}), **_tags(request["tags"])}
        if len(tags) > MAX_TAGS:
            raise ServiceError("TooManyTags", f"The number of tags exceeds the limit of {MAX_TAGS}.")
        row.tags = tags
    return {}


@provider.operation("UntagResource")
def untag_resource(ctx: RequestContext, request: dict) -> dict:
    arn = _tagged(ctx, request["resourceArn"])
    with _db().session() as session:
        row = session.get(StateMachine, arn)
        row.tags = {k: v for k, v in (row.tags or {}).items() if k not in set(request["tagKeys"])}
    return {}


@provider.operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, request: dict) -> dict:
    arn = _tagged(ctx, request["resourceArn"])
    with _db().session() as session:
        row = session.get(StateMachine, arn)
    return {"tags": [{"key": k, "value": v} for k, v in (row.tags or {}).items()]}

