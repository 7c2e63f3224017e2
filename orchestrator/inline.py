"""Runs answered within the request, on the inline engine (no checkpoints, as AWS runs them: at most once, in
memory): Express executions (StartSyncExecution) and TestState."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from orchestrator import arns, executions as ex
from orchestrator.asl import paths, validate
from orchestrator.asl.errors import DefinitionError, StatesError
from orchestrator.errors import InvalidDefinition
from orchestrator.interpreter import Aborted, FailState, Interpreter, dumps
from orchestrator.store import StateMachine
from services.gateway.context import Principal
from services.gateway.kit.times import utcnow

EXPRESS_LIMIT_SECONDS = 300  # Express executions last at most five minutes, as on AWS


def express_limit_seconds() -> float:
    """The longest an Express execution runs (setting stepfunctions_express_max_seconds; AWS: five minutes)."""
    try:
        from services.gateway.runtime import runtime

        return float(runtime().settings.stepfunctions_express_max_seconds)
    except Exception:  # outside a running gateway
        return float(EXPRESS_LIMIT_SECONDS)


# -- express ----------------------------------------------------------------------------------------------------


def run_express(principal: Principal, machine: StateMachine, arn: str, name: str, text: str) -> dict:
    """One Express execution to its end: StartSyncExecution's answer. It ends TIMED_OUT (States.Timeout) at the
    machine's TimeoutSeconds or at the Express maximum duration, whichever comes first, even in a loop of pure
    states (the engine checks the deadline at every state)."""
    start = utcnow()
    definition = json.loads(machine.definition)
    limit = express_limit_seconds()
    own = ex.execution_deadline(definition, start.isoformat())
    cap = start + dt.timedelta(seconds=limit)
    engine = ex.InlineEngine(arn, principal, min(own, cap) if own else cap)
    if own is None or cap < own:
        engine.timeout_reason = ("States.Timeout", f"The execution exceeded the maximum duration of an Express "
                                                   f"workflow ({limit:g} seconds).")
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
    stop = utcnow()
    out["stopDate"] = stop
    out["billingDetails"]["billedDurationInMilliseconds"] = max(100, int((stop - start).total_seconds() * 1000))
    return out


# -- TestState --------------------------------------------------------------------------------------------------


def state_under_test(text: str, state_name: str | None) -> tuple[str, dict, str]:
    """The state TestState runs, from a whole machine or one state: (name, state, query language);
    InvalidDefinition when it does not validate (targets it names need not exist)."""
    try:
        state = json.loads(text)
    except ValueError as error:
        raise InvalidDefinition(f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {error}'") from None
    if isinstance(state, dict) and "States" in state:
        name = state_name or state.get("StartAt")
        if name not in state.get("States", {}):
            raise InvalidDefinition(f"Invalid State Machine Definition: state '{name}' not found")
        language = state.get("QueryLanguage", "JSONPath")
        state = state["States"][name]
    else:
        name = state_name or "TestState"
        language = "JSONPath"
    # Validate the single state inside a minimal machine (targets it names are not required to exist).
    if not isinstance(state, dict):
        raise InvalidDefinition("Invalid State Machine Definition: a state must be a JSON object")
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
        raise InvalidDefinition(validate.invalid_definition_message(
            DefinitionError(first.code, first.message, first.location)))
    return name, state, language


def test_state(principal: Principal, request: dict, name: str, state: dict, language: str, raw: Any) -> dict:
    """Run one state on `raw` (with the request's variables, context and mock): TestState's answer."""
    variables = json.loads(request["variables"]) if request.get("variables") else {}
    test_arn = arns.execution_arn(principal, "TestState", "test")
    # Bounded like an Express execution: a Map or Parallel under test may loop through pure states.
    limit = express_limit_seconds()
    engine = ex.InlineEngine(test_arn, principal, utcnow() + dt.timedelta(seconds=limit))
    engine.timeout_reason = ("States.Timeout", f"The test exceeded the maximum duration of {limit:g} seconds.")
    context = json.loads(request["context"]) if request.get("context") else {}
    context.setdefault("Execution", {"Id": test_arn, "Name": "test", "StartTime": utcnow().isoformat(), "Input": raw})
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
            result_path = state.get("ResultPath", "$")
            data["afterResultPath"] = dumps(raw if result_path is None else paths.assign(raw, result_path, result))
    except StatesError:
        pass  # the failing step is reported by the error fields already
    return data
