"""State semantics of the Amazon States Language, independent of how effects are made durable.

The interpreter walks a state machine and asks its Engine for everything that is not pure computation: history
events, task calls, waits, callbacks and branches run in parallel. The durable engine (executions.py) makes each
of those a checkpointed DBOS operation; the inline engine (Express sync executions, TestState) runs them directly.
Pure states (Pass, Choice, Succeed, Fail) only compute, so a replay after a crash recomputes them identically.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any, Callable, Protocol

from orchestrator.asl import intrinsics, jsonata_eval, paths
from orchestrator.asl.errors import StatesError, runtime_error
from orchestrator.asl.timestamps import iso, parse_timestamp

# Errors a Catch/Retry with States.ALL does not match (AWS: they always fail the execution).
UNCATCHABLE = {"States.Runtime", "States.DataLimitExceeded"}
MAX_PAYLOAD = 256 * 1024
# The longest a Wait state may wait (AWS: one year for Standard workflows; Express ones end at their five minutes).
MAX_WAIT_SECONDS = 365 * 24 * 3600
# A literal `Seconds` is an integer from 0 to this (AWS's definition schema; validate.py refuses others).
MAX_SECONDS_FIELD = 99_999_999
EVALUATION_ERRORS = {"States.Runtime", "States.QueryEvaluationError", "States.IntrinsicFailure"}


class Aborted(Exception):
    """The execution was stopped (StopExecution) while this code ran."""


class Engine(Protocol):
    def event(self, kind: str, details: dict | None = None) -> None: ...

    def now(self) -> dt.datetime: ...

    def invoke(self, resource: str, parameters: Any, options: dict) -> Any: ...

    def sleep(self, seconds: float) -> None: ...

    def transition(self) -> None: ...

    def branches(self, jobs: list[dict], max_concurrency: int, tolerated: tuple = (None, None)) -> list[dict]: ...

    def clock(self) -> dt.datetime: ...

    def random(self) -> float: ...

    def task_token(self) -> str: ...


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def payload_details(value: Any) -> tuple[str, dict]:
    text = dumps(value)
    return text, {"truncated": False}


EVENT_PREFIX = {"Pass": "Pass", "Task": "Task", "Choice": "Choice", "Wait": "Wait", "Succeed": "Succeed",
                "Fail": "Fail", "Parallel": "Parallel", "Map": "Map"}


class Interpreter:
    """Runs one state machine (the top-level one, a Parallel branch or a Map iteration's processor)."""

    def __init__(self, engine: Engine, context: dict, variables: dict | None = None, language: str = "JSONPath"):
        self.engine = engine
        self.context = context  # $$: Execution, StateMachine, (Map.Item)
        self.variables = variables if variables is not None else {}
        self.language = language
        self.current: tuple[str, Any] | None = None  # the state running now and its input (for redrive)

    # -- the walk ---------------------------------------------------------------------------------------------

    def run(self, machine: dict, value: Any, start_at: str | None = None) -> Any:
        language = machine.get("QueryLanguage", self.language)
        states = machine["States"]
        name = start_at or machine["StartAt"]
        while True:
            state = states[name]
            own = state.get("QueryLanguage", language)
            self.current = (name, value)
            value, next_name = self.run_state(name, state, value, own)
            if next_name is None:
                return value
            name = next_name

    def run_state(self, name: str, state: dict, raw: Any, language: str) -> tuple[Any, str | None]:
        kind = state["Type"]
        self.engine.transition()  # the engine's own bounds (an Express execution's deadline)
        entered = self.engine.now()
        text, details = payload_details(raw)
        self.engine.event(f"{EVENT_PREFIX[kind]}StateEntered", {"name": name, "input": text, "inputDetails": details})
        context = {**self.context, "State": {"Name": name, "EnteredTime": iso(entered), "RetryCount": 0}}
        runner = getattr(self, f"state_{kind.lower()}")
        try:
            output, next_name, assigned = runner(name, state, raw, language, context)
        except StatesError as error:
            if error.error in EVALUATION_ERRORS:
                self.engine.event("EvaluationFailed", {"error": error.error, "cause": error.cause, "state": name})
            handled = self.catch(name, state, raw, error, language, context)
            if handled is None:
                raise
            return handled
        if kind not in ("Fail",):
            text, details = payload_details(output)
            exited = {"name": name, "output": text, "outputDetails": details}
            if assigned:
                exited["assignedVariables"] = {key: dumps(value) for key, value in assigned.items()}
                exited["assignedVariablesDetails"] = {"truncated": False}
            self.engine.event(f"{EVENT_PREFIX[kind]}StateExited", exited)
        if len(text) > MAX_PAYLOAD:
            raise StatesError("States.DataLimitExceeded", f"The state/task '{name}' returned a result with a size "
                                                          f"exceeding the maximum number of bytes service limit.")
        return output, next_name

    # -- data flow --------------------------------------------------------------------------------------------

    def resolver(self, value: Any, context: dict, extra: dict | None = None) -> Callable[[str], Any]:
        def resolve(path: str) -> Any:
            if path.startswith("$$"):
                return paths.select(context, "$" + path[2:], "context")
            if path == "$" or path.startswith("$.") or path.startswith("$["):
                return paths.select(value, path)
            return self.variable(path, extra)
        return resolve

    def variable(self, path: str, extra: dict | None = None) -> Any:
        name_end = len(path)
        for index, char in enumerate(path[1:], 1):
            if char in ".[":
                name_end = index
                break
        name = path[1:name_end]
        scope = {**self.variables, **(extra or {})}
        if name not in scope:
            raise runtime_error(f"The variable '${name}' is not defined")
        return paths.select(scope[name], "$" + path[name_end:], path)

    def template(self, template: Any, value: Any, context: dict, extra: dict | None = None) -> Any:
        """Parameters / ResultSelector / ItemSelector / Assign in JSONPath mode: `.$` keys take paths or intrinsics."""
        if isinstance(template, dict):
            out = {}
            resolve = None
            for key, item in template.items():
                if key.endswith(".$") and isinstance(item, str):
                    resolve = resolve or self.resolver(value, context, extra)
                    if intrinsics.is_intrinsic(item):
                        out[key[:-2]] = intrinsics.evaluate(item, resolve)
                    else:
                        out[key[:-2]] = resolve(item)
                else:
                    out[key] = self.template(item, value, context, extra)
            return out
        if isinstance(template, list):
            return [self.template(item, value, context, extra) for item in template]
        return template

    def select(self, value: Any, path: Any, field: str) -> Any:
        if path is None:
            return {}
        if path == "$":
            return value
        return paths.select(value, path, field)

    def effective_input(self, state: dict, raw: Any, context: dict) -> Any:
        return self.select(raw, state.get("InputPath", "$"), "InputPath")

    def finish_jsonpath(self, state: dict, raw: Any, result: Any, context: dict, selector: bool = True) -> Any:
        if selector and "ResultSelector" in state:
            result = self.template(state["ResultSelector"], result, context)
        result_path = state.get("ResultPath", "$")
        combined = raw if result_path is None else paths.assign(raw, result_path, result)
        return self.select(combined, state.get("OutputPath", "$"), "OutputPath")

    def jsonata_states(self, raw: Any, context: dict, **extra: Any) -> dict:
        return {"input": raw, "context": context, **extra}

    def jsonata(self, template: Any, raw: Any, context: dict, **extra: Any) -> Any:
        return jsonata_eval.resolve(template, self.jsonata_states(raw, context, **extra), self.variables)

    def assign(self, state: dict, raw: Any, context: dict, language: str, **extra: Any) -> dict:
        """Assign: evaluated against the state's input (and its result), applied after the state."""
        template = state.get("Assign")
        if not template:
            return {}
        if language == "JSONata":
            values = self.jsonata(template, raw, context, **extra)
        else:
            values = self.template(template, raw, context, extra={"states": {"input": raw, **extra}})
        self.variables.update(values)
        return values

    def output_jsonata(self, state: dict, raw: Any, default: Any, context: dict, **extra: Any) -> Any:
        if "Output" not in state:
            return default
        return self.jsonata(state["Output"], raw, context, **extra)

    def number(self, state: dict, field: str, raw: Any, language: str, context: dict) -> Any:
        """A field given as a value, a JSONata expression or (`<field>Path`) a path into the input."""
        if field in state:
            value = state[field]
            if language == "JSONata" and jsonata_eval.is_expression(value):
                value = self.jsonata(value, raw, context)
            return value
        if f"{field}Path" in state:
            return self.resolver(raw, context)(state[f"{field}Path"])
        return None

    # -- states -----------------------------------------------------------------------------------------------

    def state_pass(self, name, state, raw, language, context):
        if language == "JSONata":
            output = self.output_jsonata(state, raw, raw, context)
            assigned = self.assign(state, raw, context, language)
            return output, state.get("Next"), assigned
        value = self.effective_input(state, raw, context)
        if "Parameters" in state:
            result = self.template(state["Parameters"], value, context)
        elif "Result" in state:
            result = state["Result"]
        else:
            result = value
        assigned = self.assign(state, raw, context, language, result=result)
        return self.finish_jsonpath(state, raw, result, context, selector=False), state.get("Next"), assigned

    def state_succeed(self, name, state, raw, language, context):
        if language == "JSONata":
            return self.output_jsonata(state, raw, raw, context), None, {}
        value = self.effective_input(state, raw, context)
        return self.select(value, state.get("OutputPath", "$"), "OutputPath"), None, {}

    def state_fail(self, name, state, raw, language, context):
        error, cause = state.get("Error"), state.get("Cause")
        if language == "JSONata":
            error = self.jsonata(error, raw, context) if error is not None else None
            cause = self.jsonata(cause, raw, context) if cause is not None else None
        else:
            resolve = self.resolver(raw, context)
            if "ErrorPath" in state:
                path = state["ErrorPath"]
                error = intrinsics.evaluate(path, resolve) if intrinsics.is_intrinsic(path) else resolve(path)
            if "CausePath" in state:
                path = state["CausePath"]
                cause = intrinsics.evaluate(path, resolve) if intrinsics.is_intrinsic(path) else resolve(path)
        details = {}
        if error is not None:
            details["error"] = error if isinstance(error, str) else dumps(error)
        if cause is not None:
            details["cause"] = cause if isinstance(cause, str) else dumps(cause)
        raise FailState(details.get("error", ""), details.get("cause", ""))

    def state_wait(self, name, state, raw, language, context):
        value = raw if language == "JSONata" else self.effective_input(state, raw, context)
        seconds = None
        if "Seconds" in state or "SecondsPath" in state:
            seconds = self.number(state, "Seconds", value, language, context)
            field = "Seconds" if "Seconds" in state else "SecondsPath"
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                raise runtime_error(f"The Wait state '{name}' got an invalid number of seconds: {seconds!r}")
            if seconds > MAX_WAIT_SECONDS:
                raise runtime_error(f"The value of {field} in the Wait state '{name}' is {seconds!r}: the maximum "
                                    f"wait time is one year ({MAX_WAIT_SECONDS} seconds)")
        else:
            stamp = self.number(state, "Timestamp", value, language, context)
            field = "Timestamp" if "Timestamp" in state else "TimestampPath"
            moment = parse_timestamp(stamp) if isinstance(stamp, str) else None
            if moment is None:
                raise runtime_error(f"The Wait state '{name}' got an invalid timestamp: {stamp!r}")
            seconds = max(0.0, (moment - self.engine.clock()).total_seconds())
            if seconds > MAX_WAIT_SECONDS:
                raise runtime_error(f"The value of {field} in the Wait state '{name}' is {stamp!r}, more than one year "
                                    f"away: the maximum wait time is one year ({MAX_WAIT_SECONDS} seconds)")
        self.engine.sleep(float(seconds))
        if language == "JSONata":
            return self.output_jsonata(state, raw, raw, context), state.get("Next"), self.assign(state, raw, context, language)
        assigned = self.assign(state, raw, context, language)
        return self.select(value, state.get("OutputPath", "$"), "OutputPath"), state.get("Next"), assigned

    def state_choice(self, name, state, raw, language, context):
        if language == "JSONata":
            for rule in state["Choices"]:
                matched = self.jsonata(rule["Condition"], raw, context)
                if not isinstance(matched, bool):
                    raise StatesError("States.QueryEvaluationError",
                                      f"The Condition of a choice rule in '{name}' did not return a boolean")
                if matched:
                    assigned = self.assign(rule, raw, context, language)
                    assigned.update(self.assign(state, raw, context, language))
                    out = self.output_jsonata(rule if "Output" in rule else state, raw, raw, context)
                    return out, rule["Next"], assigned
            target = state.get("Default")
            if target is None:
                raise StatesError("States.NoChoiceMatched", f"No Choice Rules matched and no Default is specified in '{name}'")
            return self.output_jsonata(state, raw, raw, context), target, self.assign(state, raw, context, language)
        value = self.effective_input(state, raw, context)
        target = None
        for rule in state["Choices"]:
            if self.rule(rule, value, context):
                target = rule["Next"]
                assigned = self.assign(rule, raw, context, language)
                break
        else:
            target = state.get("Default")
            assigned = {}
            if target is None:
                raise StatesError("States.NoChoiceMatched", f"No Choice Rules matched and no Default is specified in '{name}'")
        assigned.update(self.assign(state, raw, context, language))
        return self.select(value, state.get("OutputPath", "$"), "OutputPath"), target, assigned

    def rule(self, rule: dict, value: Any, context: dict) -> bool:
        if "And" in rule:
            return all(self.rule(sub, value, context) for sub in rule["And"])
        if "Or" in rule:
            return any(self.rule(sub, value, context) for sub in rule["Or"])
        if "Not" in rule:
            return not self.rule(rule["Not"], value, context)
        resolve = self.resolver(value, context)
        variable = rule["Variable"]
        for op, expected in rule.items():
            if op in ("Variable", "Next", "Comment", "Assign", "Output"):
                continue
            if op == "IsPresent":
                try:
                    resolve(variable)
                    present = True
                except StatesError:
                    present = False
                return present == expected
            try:
                actual = resolve(variable)
            except StatesError:
                if op.startswith("Is"):
                    return False
                raise runtime_error(f"Invalid path '{variable}': The choice state's condition path references an "
                                    f"invalid value.") from None
            if op.endswith("Path"):
                expected = resolve(expected)
                op = op[:-4]
            return compare(op, actual, expected)
        raise runtime_error("A choice rule has no comparison")

    def state_task(self, name, state, raw, language, context):
        return self.with_retry(name, state, raw, language, context, self._task_once)

    def _task_once(self, name, state, raw, language, context):
        resource = state["Resource"]
        if isinstance(resource, str) and resource.endswith(".waitForTaskToken"):
            context["Task"] = {"Token": self.engine.task_token()}
        if language == "JSONata":
            if jsonata_eval.is_expression(resource):
                resource = self.jsonata(resource, raw, context)
            parameters = self.jsonata(state.get("Arguments", {}), raw, context) if "Arguments" in state else raw
            value = raw
        else:
            value = self.effective_input(state, raw, context)
            parameters = self.template(state["Parameters"], value, context) if "Parameters" in state else value
        timeout = self.number(state, "TimeoutSeconds", value, language, context)
        heartbeat = self.number(state, "HeartbeatSeconds", value, language, context)
        for label, number in (("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)):
            if number is not None and (not isinstance(number, (int, float)) or isinstance(number, bool) or number <= 0):
                raise runtime_error(f"The {label} of '{name}' must be a positive number, got {number!r}")
        options = {"timeout": timeout, "heartbeat": heartbeat, "context": context, "state": name,
                   "region": self.context.get("Region", "")}
        result = self.engine.invoke(resource, parameters, options)
        if language == "JSONata":
            output = self.output_jsonata(state, raw, result, context, result=result)
            assigned = self.assign(state, raw, context, language, result=result)
            return output, state.get("Next"), assigned
        if "ResultSelector" in state:
            result = self.template(state["ResultSelector"], result, context)
        assigned = self.assign(state, raw, context, language, result=result)
        return self.finish_jsonpath(state, raw, result, context, selector=False), state.get("Next"), assigned

    def state_parallel(self, name, state, raw, language, context):
        return self.with_retry(name, state, raw, language, context, self._parallel_once)

    def _parallel_once(self, name, state, raw, language, context):
        if language == "JSONata":
            value = self.jsonata(state["Arguments"], raw, context) if "Arguments" in state else raw
        else:
            value = self.effective_input(state, raw, context)
            if "Parameters" in state:
                value = self.template(state["Parameters"], value, context)
        self.engine.event("ParallelStateStarted")
        jobs = [{"machine": branch, "input": value, "context": self.branch_context(context),
                 "variables": copy.deepcopy(self.variables), "language": language, "label": f"{name}/{index}"}
                for index, branch in enumerate(state["Branches"])]
        outcomes = self.engine.branches(jobs, 0)
        for outcome in outcomes:
            if "error" in outcome:
                self.engine.event("ParallelStateFailed", {"error": outcome["error"], "cause": outcome["cause"]})
                raise StatesError(outcome["error"], outcome["cause"])
        self.engine.event("ParallelStateSucceeded")
        results = [outcome["output"] for outcome in outcomes]
        return self.finish_result(name, state, raw, results, language, context)

    def finish_result(self, name, state, raw, result, language, context):
        if language == "JSONata":
            output = self.output_jsonata(state, raw, result, context, result=result)
            return output, state.get("Next"), self.assign(state, raw, context, language, result=result)
        if "ResultSelector" in state:
            result = self.template(state["ResultSelector"], result, context)
        assigned = self.assign(state, raw, context, language, result=result)
        return self.finish_jsonpath(state, raw, result, context, selector=False), state.get("Next"), assigned

    def branch_context(self, context: dict) -> dict:
        return {key: value for key, value in context.items() if key in ("Execution", "StateMachine", "Region")}

    def state_map(self, name, state, raw, language, context):
        return self.with_retry(name, state, raw, language, context, self._map_once)

    def _map_once(self, name, state, raw, language, context):
        from orchestrator import distributed

        processor = state.get("ItemProcessor") or state.get("Iterator")
        config = processor.get("ProcessorConfig", {})
        distributed_mode = config.get("Mode") == "DISTRIBUTED"
        if language == "JSONata":
            value = raw
            if "ItemReader" in state:
                items = distributed.read_items(self, state["ItemReader"], raw, language, context)
            elif "Items" in state:
                items = self.jsonata(state["Items"], raw, context)
            else:
                items = raw
        else:
            value = self.effective_input(state, raw, context)
            if "ItemReader" in state:
                items = distributed.read_items(self, state["ItemReader"], value, language, context)
            else:
                items = self.select(value, state.get("ItemsPath", "$"), "ItemsPath")
        if not isinstance(items, list):
            raise runtime_error(f"Map state '{name}': the items to iterate over must be an array, got {dumps(items)[:200]}")
        max_concurrency = self.number(state, "MaxConcurrency", value, language, context) or 0
        tolerated_count = self.number(state, "ToleratedFailureCount", value, language, context)
        tolerated_percentage = self.number(state, "ToleratedFailurePercentage", value, language, context)
        selector = state.get("ItemSelector", state.get("Parameters"))
        inputs = []
        for index, item in enumerate(items):
            item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
            if selector is not None:
                if language == "JSONata":
                    states = self.jsonata_states(raw, item_context)
                    item_input = jsonata_eval.resolve(selector, states, self.variables)
                else:
                    item_input = self.template(selector, value, item_context)
            else:
                item_input = item
            inputs.append(item_input)
        if "ItemBatcher" in state:
            inputs = distributed.batch(self, state["ItemBatcher"], inputs, value, language, context)
        self.engine.event("MapStateStarted", {"length": len(inputs)})
        base = self.branch_context(context)
        jobs = [{"machine": processor, "input": item_input, "context": base, "variables": copy.deepcopy(self.variables),
                 "language": language, "label": f"{name}/{index}", "map": {"name": name, "index": index}}
                for index, item_input in enumerate(inputs)]
        if distributed_mode and "ToleratedFailureCount" not in state and "ToleratedFailurePercentage" not in state \
                and "ToleratedFailureCountPath" not in state and "ToleratedFailurePercentagePath" not in state:
            tolerated_count = 0
        outcomes = self.engine.branches(jobs, int(max_concurrency), tolerated=(
            tolerated_count, tolerated_percentage)) if jobs else []
        failures = [outcome for outcome in outcomes if "error" in outcome]
        if failures:
            allowed = len(outcomes) * (tolerated_percentage or 0) / 100.0 if tolerated_percentage is not None else None
            within = (tolerated_count is not None and len(failures) <= tolerated_count) or (
                allowed is not None and len(failures) <= allowed)
            if not within:
                if tolerated_count is not None or tolerated_percentage is not None:
                    error, cause = "States.ExceedToleratedFailureThreshold", (
                        f"The specified tolerated failure threshold was exceeded: {len(failures)} of "
                        f"{len(outcomes)} items failed")
                else:
                    error, cause = failures[0]["error"], failures[0]["cause"]
                self.engine.event("MapStateFailed", {"error": error, "cause": cause})
                raise StatesError(error, cause)
        self.engine.event("MapStateSucceeded")
        results = [outcome.get("output") if "error" not in outcome else
                   {"Error": outcome["error"], "Cause": outcome["cause"]} for outcome in outcomes]
        if "ResultWriter" in state:
            results = distributed.write_results(self, state["ResultWriter"], results, value, language, context)
        return self.finish_result(name, state, raw, results, language, context)

    # -- errors -----------------------------------------------------------------------------------------------

    def with_retry(self, name, state, raw, language, context, once):
        retriers = state.get("Retry", [])
        attempts = [0] * len(retriers)
        retry_count = 0
        while True:
            try:
                context["State"]["RetryCount"] = retry_count
                return once(name, state, raw, language, context)
            except StatesError as error:
                if isinstance(error, FailState) or getattr(error, "final", False):
                    raise
                retrier_index = matching(retriers, error.error)
                if retrier_index is None:
                    raise
                retrier = retriers[retrier_index]
                limit = retrier.get("MaxAttempts", 3)
                if attempts[retrier_index] >= limit:
                    raise
                interval = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempts[retrier_index]
                if "MaxDelaySeconds" in retrier:
                    interval = min(interval, retrier["MaxDelaySeconds"])
                if retrier.get("JitterStrategy") == "FULL":
                    interval = self.engine.random() * interval
                attempts[retrier_index] += 1
                retry_count += 1
                self.engine.sleep(interval)

    def catch(self, name, state, raw, error: StatesError, language, context):
        catchers = state.get("Catch", [])
        catchable = not isinstance(error, FailState) and not getattr(error, "final", False)
        index = matching(catchers, error.error) if catchers and catchable else None
        if index is None:
            return None
        catcher = catchers[index]
        error_output = {"Error": error.error, "Cause": error.cause}
        kind = state["Type"]
        if language == "JSONata":
            output = self.jsonata(catcher["Output"], raw, context, errorOutput=error_output) if "Output" in catcher else error_output
            assigned = self.assign(catcher, raw, context, language, errorOutput=error_output)
        else:
            result_path = catcher.get("ResultPath", "$")
            output = raw if result_path is None else paths.assign(raw, result_path, error_output)
            assigned = self.assign(catcher, raw, context, language, errorOutput=error_output)
        text, details = payload_details(output)
        exited = {"name": name, "output": text, "outputDetails": details}
        if assigned:
            exited["assignedVariables"] = {key: dumps(value) for key, value in assigned.items()}
            exited["assignedVariablesDetails"] = {"truncated": False}
        self.engine.event(f"{EVENT_PREFIX[kind]}StateExited", exited)
        return output, catcher["Next"]


class FailState(StatesError):
    """Raised by a Fail state: never retried or caught inside its own state machine."""

    def __reduce__(self):
        return (FailState, (self.error, self.cause))


def matching(handlers: list[dict], error: str) -> int | None:
    for index, handler in enumerate(handlers):
        names = handler["ErrorEquals"]
        if error in names:
            return index
        if "States.ALL" in names and error not in UNCATCHABLE:
            return index
        if "States.TaskFailed" in names and error not in UNCATCHABLE and error not in (
                "States.Timeout", "States.HeartbeatTimeout"):
            return index
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "IsNull":
        return (actual is None) == expected
    if op == "IsNumeric":
        return _number(actual) == expected
    if op == "IsString":
        return isinstance(actual, str) == expected
    if op == "IsBoolean":
        return isinstance(actual, bool) == expected
    if op == "IsTimestamp":
        return (isinstance(actual, str) and parse_timestamp(actual) is not None) == expected
    if op == "BooleanEquals":
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if op == "StringMatches":
        return isinstance(actual, str) and isinstance(expected, str) and string_matches(actual, expected)
    for family, check, convert in (("String", lambda v: isinstance(v, str), lambda v: v),
                                   ("Numeric", _number, lambda v: v),
                                   ("Timestamp", lambda v: isinstance(v, str) and parse_timestamp(v) is not None,
                                    parse_timestamp)):
        if op.startswith(family):
            if not (check(actual) and check(expected)):
                return False
            left, right = convert(actual), convert(expected)
            relation = op[len(family):]
            return {"Equals": left == right, "LessThan": left < right, "GreaterThan": left > right,
                    "LessThanEquals": left <= right, "GreaterThanEquals": left >= right}[relation]
    raise runtime_error(f"Unknown comparison operator {op}")


def string_matches(text: str, pattern: str) -> bool:
    """`*` matches any run of characters; `\\*` and `\\\\` are literal (any escaped character is).

    Linear in practice, whatever the pattern: the literal pieces between the stars are found left to right, each at
    its first place after the previous one (str.find), which is enough for a pattern whose only wildcard is `*`; no
    backtracking, so `*a*a*...*b` against thousands of `a`s answers at once."""
    pieces, current, index = [], [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            current.append(pattern[index + 1])
            index += 2
            continue
        if char == "*":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    pieces.append("".join(current))
    if len(pieces) == 1:  # no star: equality
        return text == pieces[0]
    first, last, middle = pieces[0], pieces[-1], pieces[1:-1]
    if len(first) + len(last) > len(text) or not text.startswith(first) or not text.endswith(last):
        return False
    position, end = len(first), len(text) - len(last)
    for piece in middle:
        if not piece:
            continue
        found = text.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def retry_delays(retrier: dict) -> list[float]:
    """The waits a retrier makes before each of its attempts (no jitter); used by tests and TestState."""
    delays = []
    for attempt in range(retrier.get("MaxAttempts", 3)):
        delay = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempt
        if "MaxDelaySeconds" in retrier:
            delay = min(delay, retrier["MaxDelaySeconds"])
        delays.append(delay)
    return delays

