"""The Step Functions API (JSON 1.0, `AWSStepFunctions.*`), keyed by AWS operation name."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from orchestrator import arns, executions as ex, inline, store
from orchestrator.asl import validate
from orchestrator.asl.errors import DefinitionError
from orchestrator.errors import (ExecutionNotRedrivable, InvalidArn, InvalidDefinition, InvalidExecutionInput,
                                 InvalidName, InvalidOutput, InvalidToken, MissingRequiredParameter, ResourceNotFound,
                                 StateMachineDoesNotExist, StateMachineTypeNotSupported, TaskTimedOut, TooManyTags,
                                 ValidationException)
from orchestrator.store import EXECUTIONS, MACHINES, TOKENS, Execution, HistoryEvent, StateMachine, TaskToken
from services.gateway.context import Principal, RequestContext
from services.gateway.kit.paging import Paging
from services.gateway.kit.tags import Tagging, drop_tags
from services.gateway.kit.times import aware, utcnow
from services.gateway.registry import ServiceProvider

provider = ServiceProvider("stepfunctions")

_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")

PAGING = Paging("stepfunctions", invalid_token=lambda token: InvalidToken(f"Invalid Token: '{token[:64]}'"),
                default_limit=100)


def _tagged(principal: Principal, arn: str) -> bool:
    """Whether `arn` names one of the caller's state machines (the resources this gateway tags)."""
    if arns.states_arn(arn) is None:
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    return MACHINES.find(principal, arn) is not None


TAGGING = Tagging("stepfunctions", exists=_tagged,
                  not_found=lambda arn: ResourceNotFound(f"Resource not found: '{arn}'"),
                  too_many=lambda limit: TooManyTags(f"The number of tags exceeds the limit of {limit}."),
                  max_tags=50)
TAGGING.register(provider)  # TagResource, UntagResource, ListTagsForResource


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise InvalidName(f"Invalid Name: '{name}'")


def _definition(text: str) -> dict:
    try:
        return validate.check(text)
    except DefinitionError as error:
        raise InvalidDefinition(validate.invalid_definition_message(error)) from None


def _machine(ctx: RequestContext, arn: str) -> StateMachine:
    """The caller's state machine named by `arn` (a version or alias qualifier names the machine itself)."""
    return MACHINES.get(ctx, arns.state_machine_key(arn))


def _execution(ctx: RequestContext, arn: str) -> Execution:
    arns.checked(arn, (arns.EXECUTION, arns.EXPRESS))
    return EXECUTIONS.get(ctx, arn)


def _json_input(text: str | None) -> str:
    text = "{}" if text is None else text
    try:
        json.loads(text)
    except ValueError as error:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") from None
    if len(text.encode()) > 256 * 1024:
        raise InvalidExecutionInput("The input exceeds the maximum size of 262144 bytes")
    return text


# -- state machines ---------------------------------------------------------------------------------------------


@provider.operation("CreateStateMachine")
def create_state_machine(ctx: RequestContext, request: dict) -> dict:
    name = request["name"]
    _check_name(name)
    kind = request.get("type", "STANDARD")
    if not _ROLE.match(request["roleArn"]):
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {request['roleArn']}'")
    _definition(request["definition"])
    TAGGING.check_new(request.get("tags"))
    arn = arns.state_machine_arn(ctx.principal, name)
    existing = MACHINES.find(ctx, arn)
    if existing is not None and existing.definition == request["definition"] \
            and existing.role_arn == request["roleArn"] and existing.type == kind:
        return {"stateMachineArn": arn, "creationDate": aware(existing.created_at)}
    now = utcnow()
    MACHINES.create(  # StateMachineAlreadyExists when the name is taken by a different machine
        ctx, arn=arn, name=name, type=kind, status="ACTIVE", definition=request["definition"],
        role_arn=request["roleArn"], description=request.get("versionDescription"),
        logging_configuration=request.get("loggingConfiguration"),
        tracing_configuration=request.get("tracingConfiguration"), revision_id=uuid.uuid4().hex,
        created_at=now, updated_at=now)
    TAGGING.tag(ctx, arn, request.get("tags"))
    return {"stateMachineArn": arn, "creationDate": now}


def _describe_machine(row: StateMachine) -> dict:
    out = {"stateMachineArn": row.arn, "name": row.name, "status": row.status, "definition": row.definition,
           "roleArn": row.role_arn, "type": row.type, "creationDate": aware(row.created_at),
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
        raise MissingRequiredParameter("Either the definition, the roleArn, the loggingConfiguration "
                                       "or the tracingConfiguration must be specified")
    if "definition" in request:
        _definition(request["definition"])
    if "roleArn" in request and not _ROLE.match(request["roleArn"]):
        raise InvalidArn(f"Invalid Arn: '{request['roleArn']}'")
    changes: dict[str, Any] = {"revision_id": uuid.uuid4().hex, "updated_at": utcnow()}
    for member, column in (("definition", "definition"), ("roleArn", "role_arn"),
                           ("loggingConfiguration", "logging_configuration"),
                           ("tracingConfiguration", "tracing_configuration")):
        if member in request:
            changes[column] = request[member]
    MACHINES.update(ctx, row.arn, **changes)
    return {"updateDate": changes["updated_at"], "revisionId": changes["revision_id"]}


@provider.operation("DeleteStateMachine")
def delete_state_machine(ctx: RequestContext, request: dict) -> dict:
    arn = request["stateMachineArn"]
    arns.checked(arn, (arns.STATE_MACHINE,))
    try:
        MACHINES.delete(ctx, arn)
    except StateMachineDoesNotExist:  # deleting what is not there succeeds, as on AWS
        return {}
    drop_tags(arn)
    return {}


def _machine_item(row: StateMachine) -> dict:
    return {"stateMachineArn": row.arn, "name": row.name, "type": row.type, "creationDate": aware(row.created_at)}


@provider.operation("ListStateMachines")
def list_state_machines(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page_query(ctx, request, MACHINES.query(ctx),
                             [(StateMachine.name, False), (StateMachine.arn, False)], _machine_item)


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
    arn = arns.execution_arn(ctx.principal, machine.name, name)
    # ExecutionAlreadyExists unless the name is taken by a RUNNING execution of the same input (answered again).
    row, created = store.record_execution(ctx.principal, arn, machine, name, text, request.get("traceHeader"),
                                          store.workflow_id_for(arn))
    if created:
        ex.launch(arn, row.workflow_id)
    return {"executionArn": arn, "startDate": aware(row.started_at)}


def _describe_execution(row: Execution, include_data: bool = True) -> dict:
    out = {"executionArn": row.arn, "stateMachineArn": row.state_machine_arn, "name": row.name, "status": row.status,
           "startDate": aware(row.started_at), "redriveCount": row.redrive_count}
    if include_data:
        out["input"], out["inputDetails"] = row.input, {"included": True}
    if row.stopped_at:
        out["stopDate"] = aware(row.stopped_at)
    if row.output is not None and include_data:
        out["output"], out["outputDetails"] = row.output, {"included": True}
    if row.error is not None:
        out["error"] = row.error
    if row.cause is not None:
        out["cause"] = row.cause
    if row.trace_header:
        out["traceHeader"] = row.trace_header
    if row.redrive_at:
        out["redriveDate"] = aware(row.redrive_at)
    if row.status in store.REDRIVABLE:
        out["redriveStatus"] = "REDRIVABLE" if row.resume or row.status == store.ABORTED else "NOT_REDRIVABLE"
        if out["redriveStatus"] == "NOT_REDRIVABLE":
            out["redriveStatusReason"] = "The execution has no state to redrive from."
    elif row.status == store.SUCCEEDED:
        out["redriveStatus"] = "NOT_REDRIVABLE"
        out["redriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
    return out


@provider.operation("DescribeExecution")
def describe_execution(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    if row.status == store.RUNNING and (utcnow() - aware(row.redrive_at or row.started_at)).total_seconds() > 10:
        ex.ensure_running(row.arn, row.workflow_id)
    return _describe_execution(row)


@provider.operation("DescribeStateMachineForExecution")
def describe_state_machine_for_execution(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    machine = MACHINES.find(ctx, row.state_machine_arn)
    return {"stateMachineArn": row.state_machine_arn, "name": arns.state_machine_name(row.state_machine_arn),
            "definition": row.definition, "roleArn": row.role_arn, "revisionId": row.revision_id,
            "updateDate": aware(machine.updated_at) if machine else aware(row.started_at),
            "loggingConfiguration": (machine.logging_configuration if machine else None)
            or {"level": "OFF", "includeExecutionData": False}}


@provider.operation("StopExecution")
def stop_execution(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    details = {k: request[k] for k in ("error", "cause") if k in request}
    stopped, was_running = store.record_stop(row.arn, request.get("error"), request.get("cause"), details)
    if was_running:
        ex.signal_stop(row.workflow_id)
    return {"stopDate": stopped}


def _execution_item(row: Execution) -> dict:
    item = {"executionArn": row.arn, "stateMachineArn": row.state_machine_arn, "name": row.name,
            "status": row.status, "startDate": aware(row.started_at), "redriveCount": row.redrive_count}
    if row.stopped_at:
        item["stopDate"] = aware(row.stopped_at)
    if row.redrive_at:
        item["redriveDate"] = aware(row.redrive_at)
    return item


@provider.operation("ListExecutions")
def list_executions(ctx: RequestContext, request: dict) -> dict:
    if "mapRunArn" in request:
        raise ResourceNotFound("Map runs are not recorded as separate resources by this gateway")
    if "stateMachineArn" not in request:
        raise ValidationException("Either stateMachineArn or mapRunArn must be specified")
    machine = _machine(ctx, request["stateMachineArn"])
    where = [Execution.state_machine_arn == machine.arn]
    if request.get("statusFilter"):
        where.append(Execution.status == request["statusFilter"])
    redrive = request.get("redriveFilter")
    if redrive == "REDRIVEN":
        where.append(Execution.redrive_count > 0)
    elif redrive == "NOT_REDRIVEN":
        where.append(Execution.redrive_count == 0)
    return PAGING.page_query(ctx, request, EXECUTIONS.query(ctx, *where),
                             [(Execution.started_at, True), (Execution.arn, True)], _execution_item)


def _history_item(event: HistoryEvent, number: int, include_data: bool) -> dict:
    item = {"timestamp": aware(event.timestamp), "type": event.type, "id": number, "previousEventId": number - 1}
    for member, details in (event.details or {}).items():
        if not include_data and isinstance(details, dict):
            details = {k: v for k, v in details.items() if k not in ("input", "output", "parameters")}
        item[member] = details
    return item


@provider.operation("GetExecutionHistory")
def get_execution_history(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    reverse = bool(request.get("reverseOrder"))
    include_data = request.get("includeExecutionData", True)
    page = PAGING.page_query(ctx, request, store.history_query(row.arn), [(HistoryEvent.seq, reverse)],
                             lambda event: event)
    events = page["events"]
    # An event's id is its position in the execution's history (1 for ExecutionStarted).
    first = store.events_before(row.arn, events[0].seq) + 1 if events else 0
    step = -1 if reverse else 1
    page["events"] = [_history_item(event, first + step * index, include_data) for index, event in enumerate(events)]
    return page


@provider.operation("RedriveExecution")
def redrive_execution(ctx: RequestContext, request: dict) -> dict:
    row = _execution(ctx, request["executionArn"])
    if arns.is_express(row.arn):
        raise ExecutionNotRedrivable("Express executions cannot be redriven")
    if row.status == store.ABORTED and not ex.wait_stopped(row.workflow_id, timeout=5.0):
        raise ExecutionNotRedrivable(f"Execution {row.arn} is still stopping; redrive it in a moment")
    redriven, workflow_id = store.record_redrive(row.arn)  # ExecutionNotRedrivable unless it ended unsuccessfully
    ex.launch(row.arn, workflow_id)
    return {"redriveDate": redriven}


# -- callbacks --------------------------------------------------------------------------------------------------


def _open_token(ctx: RequestContext, token: str) -> TaskToken:
    row = TOKENS.get(ctx, token)  # InvalidToken when it is not one of the caller's
    if row.status != "OPEN":
        raise TaskTimedOut("Task Timed Out: the task for this token has already completed")
    return row


@provider.operation("SendTaskSuccess")
def send_task_success(ctx: RequestContext, request: dict) -> dict:
    try:
        output = json.loads(request["output"])
    except ValueError as error:
        raise InvalidOutput(f"Invalid Output: '{error}'") from None
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
        raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
    name = request.get("name") or str(uuid.uuid4())
    _check_name(name)
    text = _json_input(request.get("input"))
    arn = arns.express_execution_arn(ctx.principal, machine.name, name, str(uuid.uuid4()))
    return inline.run_express(ctx.principal, machine, arn, name, text)


@provider.operation("TestState")
def test_state(ctx: RequestContext, request: dict) -> dict:
    name, state, language = inline.state_under_test(request["definition"], request.get("stateName"))
    raw = json.loads(_json_input(request.get("input")))
    return inline.test_state(ctx.principal, request, name, state, language, raw)
