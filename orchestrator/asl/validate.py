"""Definition checks AWS runs on CreateStateMachine / UpdateStateMachine / ValidateStateMachineDefinition.

Each problem is a Diagnostic with AWS's code (SCHEMA_VALIDATION_FAILED, MISSING_TRANSITION_TARGET,
UNREACHABLE_STATE, INVALID_JSON_DESCRIPTION, ...), a message and a location (`/States/Name/Field`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from orchestrator.asl import intrinsics, paths
from orchestrator.asl.errors import DefinitionError

STATE_TYPES = ("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")

COMMON = {"Type", "Comment", "QueryLanguage"}
TOP_LEVEL = {"Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"}
JSONPATH_IO = {"InputPath", "OutputPath"}
FIELDS: dict[str, set[str]] = {
    "Pass": COMMON | JSONPATH_IO | {"Next", "End", "Result", "ResultPath", "Parameters", "Output", "Assign"},
    "Task": COMMON | JSONPATH_IO | {"Next", "End", "Resource", "Parameters", "ResultSelector", "ResultPath", "Retry",
                                     "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
                                     "HeartbeatSecondsPath", "Credentials", "Arguments", "Output", "Assign"},
    "Choice": COMMON | JSONPATH_IO | {"Choices", "Default", "Output", "Assign"},
    "Wait": COMMON | JSONPATH_IO | {"Next", "End", "Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Output",
                                     "Assign"},
    "Succeed": COMMON | JSONPATH_IO | {"Output"},
    "Fail": COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": COMMON | JSONPATH_IO | {"Next", "End", "Branches", "Parameters", "ResultSelector", "ResultPath", "Retry",
                                         "Catch", "Arguments", "Output", "Assign"},
    "Map": COMMON | JSONPATH_IO | {"Next", "End", "Iterator", "ItemProcessor", "ItemsPath", "Items", "ItemReader",
                                    "ItemSelector", "Parameters", "ItemBatcher", "ResultWriter", "MaxConcurrency",
                                    "MaxConcurrencyPath", "ToleratedFailureCount", "ToleratedFailureCountPath",
                                    "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "ResultSelector",
                                    "ResultPath", "Retry", "Catch", "Label", "Arguments", "Output", "Assign"},
}
JSONPATH_ONLY = {"InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "ItemsPath", "SecondsPath",
                 "TimestampPath", "TimeoutSecondsPath", "HeartbeatSecondsPath", "ErrorPath", "CausePath",
                 "MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "Iterator"}
JSONATA_ONLY = {"Arguments", "Output", "Items"}

COMPARATORS = {
    f"{kind}{op}{suffix}"
    for kind in ("String", "Numeric", "Timestamp")
    for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    for suffix in ("", "Path")
} | {"BooleanEquals", "BooleanEqualsPath", "StringMatches", "IsNull", "IsPresent", "IsNumeric", "IsString",
     "IsBoolean", "IsTimestamp"}


@dataclass
class Diagnostic:
    code: str
    message: str
    location: str
    severity: str = "ERROR"


def is_jsonata(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def load(text: str) -> dict:
    try:
        definition = json.loads(text)
    except ValueError as error:
        raise DefinitionError("INVALID_JSON_DESCRIPTION", f"Unexpected character or malformed JSON: {error}", "/")
    if not isinstance(definition, dict):
        raise DefinitionError("SCHEMA_VALIDATION_FAILED", "The definition must be a JSON object", "/")
    return definition


def diagnostics(text: str) -> list[Diagnostic]:
    try:
        definition = load(text)
    except DefinitionError as error:
        return [Diagnostic(error.code, error.message, error.location)]
    checker = _Checker()
    language = definition.get("QueryLanguage", "JSONPath")
    if language not in ("JSONPath", "JSONata"):
        checker.fail("/QueryLanguage", f"The value of 'QueryLanguage' must be 'JSONPath' or 'JSONata', not {language!r}")
        language = "JSONPath"
    timeout = definition.get("TimeoutSeconds")
    if timeout is not None and not (_is_int(timeout) and timeout > 0):
        checker.fail("/TimeoutSeconds", "The value of 'TimeoutSeconds' must be a positive integer")
    for field in definition:
        if field not in TOP_LEVEL:
            checker.fail(f"/{field}", f"Field '{field}' is not supported at the top level of a state machine")
    checker.machine(definition, "", language)
    return checker.found


def check(text: str) -> dict:
    """The parsed definition, or DefinitionError with the first problem."""
    found = diagnostics(text)
    errors = [d for d in found if d.severity == "ERROR"]
    if errors:
        first = errors[0]
        raise DefinitionError(first.code, first.message, first.location)
    return load(text)


def invalid_definition_message(error: DefinitionError) -> str:
    where = f" at {error.location}" if error.location else ""
    return f"Invalid State Machine Definition: '{error.code}: {error.message}{where}'"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    def __init__(self):
        self.found: list[Diagnostic] = []

    def fail(self, location: str, message: str, code: str = "SCHEMA_VALIDATION_FAILED") -> None:
        self.found.append(Diagnostic(code, message, location or "/"))

    def machine(self, machine: Any, base: str, language: str) -> None:
        if not isinstance(machine, dict):
            self.fail(base, "A state machine must be a JSON object")
            return
        states = machine.get("States")
        start = machine.get("StartAt")
        if "StartAt" not in machine:
            self.fail(base or "/", "Missing required field 'StartAt'")
        elif not isinstance(start, str):
            self.fail(f"{base}/StartAt", "The value of 'StartAt' must be a string")
        if "States" not in machine:
            self.fail(base or "/", "Missing required field 'States'")
            return
        if not isinstance(states, dict) or not states:
            self.fail(f"{base}/States", "'States' must be a non-empty JSON object")
            return
        if isinstance(start, str) and start not in states:
            self.fail(f"{base}/StartAt", f"Missing 'Next' target: {start}", "MISSING_TRANSITION_TARGET")
        for name, state in states.items():
            self.state(name, state, states, f"{base}/States/{name}", language)
        if isinstance(start, str) and start in states:
            reachable = _reachable(start, states)
            for name in states:
                if name not in reachable:
                    self.fail(f"{base}/States/{name}", f"State '{name}' is not reachable", "UNREACHABLE_STATE")

    def state(self, name: str, state: Any, states: dict, at: str, language: str) -> None:
        if len(name) > 80:
            self.fail(at, f"State name '{name[:20]}...' is longer than 80 characters")
        if not isinstance(state, dict):
            self.fail(at, "A state must be a JSON object")
            return
        kind = state.get("Type")
        if kind is None:
            self.fail(at, "Missing required field 'Type'")
            return
        if kind not in STATE_TYPES:
            self.fail(f"{at}/Type", f"Unknown state type '{kind}'; use one of {', '.join(STATE_TYPES)}")
            return
        own = state.get("QueryLanguage", language)
        if own not in ("JSONPath", "JSONata"):
            self.fail(f"{at}/QueryLanguage", "The value of 'QueryLanguage' must be 'JSONPath' or 'JSONata'")
            own = language
        if language == "JSONata" and own == "JSONPath":
            self.fail(f"{at}/QueryLanguage", "A state cannot use JSONPath when the state machine uses JSONata")
        for field in state:
            if field not in FIELDS[kind]:
                self.fail(f"{at}/{field}", f"Field '{field}' is not supported by state type '{kind}'")
            elif own == "JSONata" and field in JSONPATH_ONLY:
                self.fail(f"{at}/{field}", f"Field '{field}' is not supported when QueryLanguage is JSONata")
            elif own == "JSONPath" and field in JSONATA_ONLY:
                self.fail(f"{at}/{field}", f"Field '{field}' is only supported when QueryLanguage is JSONata")
        if kind in ("Pass", "Task", "Wait", "Parallel", "Map"):
            has_next, has_end = "Next" in state, state.get("End") is True
            if "End" in state and not isinstance(state["End"], bool):
                self.fail(f"{at}/End", "The value of 'End' must be a boolean")
            if has_next and has_end:
                self.fail(at, "A state cannot have both 'Next' and 'End'")
            elif not has_next and not has_end:
                self.fail(at, "A state must have either 'Next' or 'End': true")
            if has_next:
                self.target(state["Next"], states, f"{at}/Next")
        for field in ("InputPath", "OutputPath"):
            if field in state and state[field] is not None and not paths.is_valid_path(state[field]):
                self.fail(f"{at}/{field}", f"The value for the field '{field}' must be a valid JSONPath")
        if "ResultPath" in state and state["ResultPath"] is not None and not paths.is_reference_path(state["ResultPath"]):
            self.fail(f"{at}/ResultPath", "The value for the field 'ResultPath' must be a valid Reference Path")
        for field in ("Parameters", "ResultSelector", "ItemSelector"):
            if field in state:
                self.payload(state[field], f"{at}/{field}")
        if "Assign" in state and not isinstance(state["Assign"], dict):
            self.fail(f"{at}/Assign", "The value of 'Assign' must be a JSON object")
        getattr(self, f"state_{kind.lower()}")(state, states, at, own)
        for field in ("Retry", "Catch"):
            if field in state:
                getattr(self, field.lower())(state[field], states, f"{at}/{field}")

    def target(self, target: Any, states: dict, at: str) -> None:
        if not isinstance(target, str) or target not in states:
            self.fail(at, f"Missing 'Next' target: {target}", "MISSING_TRANSITION_TARGET")

    def payload(self, template: Any, at: str) -> None:
        if isinstance(template, dict):
            for key, value in template.items():
                if key.endswith(".$"):
                    if not isinstance(value, str):
                        self.fail(f"{at}/{key}", f"The value for the field '{key}' must be a STRING that contains a JSONPath")
                    elif intrinsics.is_intrinsic(value):
                        try:
                            intrinsics.parse(value)
                        except ValueError as error:
                            self.fail(f"{at}/{key}", f"The value for the field '{key}' must be a valid intrinsic function call: {error}")
                    elif value.startswith("$$"):
                        if not paths.is_valid_path(value[1:]):
                            self.fail(f"{at}/{key}", f"The value for the field '{key}' must be a valid JSONPath")
                    elif not value.startswith("$") or (value.startswith("$.") or value == "$") and not paths.is_valid_path(value):
                        self.fail(f"{at}/{key}", f"The value for the field '{key}' must be a valid JSONPath or intrinsic function call")
                else:
                    self.payload(value, f"{at}/{key}")
        elif isinstance(template, list):
            for index, value in enumerate(template):
                self.payload(value, f"{at}[{index}]")

    def state_pass(self, state, states, at, language):
        pass

    def state_succeed(self, state, states, at, language):
        pass

    def state_task(self, state, states, at, language):
        resource = state.get("Resource")
        if resource is None:
            self.fail(at, "Missing required field 'Resource'")
        elif not isinstance(resource, str) or not (resource.startswith("arn:") or is_jsonata(resource)):
            self.fail(f"{at}/Resource", f"The value for the field 'Resource' must be a valid ARN: {resource!r}")
        self.timeouts(state, at)

    def timeouts(self, state, at):
        for field in ("TimeoutSeconds", "HeartbeatSeconds"):
            if field in state and f"{field}Path" in state:
                self.fail(at, f"A state cannot have both '{field}' and '{field}Path'")
            value = state.get(field)
            if value is not None and not is_jsonata(value) and not (_is_int(value) and 0 < value <= 99999999):
                self.fail(f"{at}/{field}", f"The value of '{field}' must be a positive integer")
            path = state.get(f"{field}Path")
            if path is not None and not paths.is_valid_path(path):
                self.fail(f"{at}/{field}Path", f"The value for the field '{field}Path' must be a valid JSONPath")
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if _is_int(timeout) and _is_int(heartbeat) and heartbeat >= timeout:
            self.fail(f"{at}/HeartbeatSeconds", "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'")

    def state_wait(self, state, states, at, language):
        given = [f for f in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if f in state]
        if len(given) != 1:
            self.fail(at, "A Wait state must have exactly one of 'Seconds', 'Timestamp', 'SecondsPath', 'TimestampPath'")
            return
        field = given[0]
        value = state[field]
        if is_jsonata(value):
            return
        if field == "Seconds" and not (_is_int(value) and 0 <= value <= 99999999):
            self.fail(f"{at}/Seconds", "The value of 'Seconds' must be an integer from 0 to 99999999")
        elif field == "Timestamp" and _parse_timestamp(value) is None:
            self.fail(f"{at}/Timestamp", "The value of 'Timestamp' must be an ISO-8601 timestamp")
        elif field.endswith("Path") and not paths.is_valid_path(value):
            self.fail(f"{at}/{field}", f"The value for the field '{field}' must be a valid JSONPath")

    def state_fail(self, state, states, at, language):
        for field in ("Error", "Cause"):
            if field in state and f"{field}Path" in state:
                self.fail(at, f"A Fail state cannot have both '{field}' and '{field}Path'")
            path = state.get(f"{field}Path")
            if path is not None and not (paths.is_valid_path(path) or intrinsics.is_intrinsic(path)):
                self.fail(f"{at}/{field}Path", f"The value for the field '{field}Path' must be a valid JSONPath or intrinsic function")

    def state_choice(self, state, states, at, language):
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.fail(at, "A Choice state must have a non-empty 'Choices' array")
            return
        for index, rule in enumerate(choices):
            where = f"{at}/Choices[{index}]"
            if not isinstance(rule, dict):
                self.fail(where, "A choice rule must be a JSON object")
                continue
            if "Next" not in rule:
                self.fail(where, "Missing required field 'Next' in a top-level choice rule")
            else:
                self.target(rule["Next"], states, f"{where}/Next")
            if language == "JSONata":
                if "Condition" not in rule:
                    self.fail(where, "Missing required field 'Condition' in a JSONata choice rule")
            else:
                self.rule(rule, where, top=True)
        if "Default" in state:
            self.target(state["Default"], states, f"{at}/Default")

    def rule(self, rule: Any, at: str, top: bool = False) -> None:
        if not isinstance(rule, dict):
            self.fail(at, "A choice rule must be a JSON object")
            return
        if not top and "Next" in rule:
            self.fail(f"{at}/Next", "Nested choice rules cannot have 'Next'")
        combinators = [key for key in ("And", "Or", "Not") if key in rule]
        comparators = [key for key in rule if key in COMPARATORS]
        unknown = [key for key in rule if key not in COMPARATORS and key not in ("And", "Or", "Not", "Next", "Variable",
                                                                                   "Comment", "Assign", "Output")]
        for key in unknown:
            self.fail(f"{at}/{key}", f"Field '{key}' is not supported in a choice rule")
        if len(combinators) + len(comparators) != 1:
            self.fail(at, "A choice rule must have exactly one comparison operator or one of 'And', 'Or', 'Not'")
            return
        if combinators:
            key = combinators[0]
            value = rule[key]
            if key == "Not":
                self.rule(value, f"{at}/Not")
            elif not isinstance(value, list) or not value:
                self.fail(f"{at}/{key}", f"The value of '{key}' must be a non-empty array of choice rules")
            else:
                for index, sub in enumerate(value):
                    self.rule(sub, f"{at}/{key}[{index}]")
            return
        variable = rule.get("Variable")
        if not _is_path_or_variable(variable):
            self.fail(f"{at}/Variable", "A comparison must have a 'Variable' that is a valid JSONPath")
        op = comparators[0]
        value = rule[op]
        if op.endswith("Path"):
            if not _is_path_or_variable(value):
                self.fail(f"{at}/{op}", f"The value of '{op}' must be a valid JSONPath")
        elif op.startswith("String") and not isinstance(value, str):
            self.fail(f"{at}/{op}", f"The value of '{op}' must be a string")
        elif op.startswith("Numeric") and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            self.fail(f"{at}/{op}", f"The value of '{op}' must be a number")
        elif op.startswith("Timestamp") and _parse_timestamp(value) is None:
            self.fail(f"{at}/{op}", f"The value of '{op}' must be an ISO-8601 timestamp")
        elif (op == "BooleanEquals" or op.startswith("Is")) and not isinstance(value, bool):
            self.fail(f"{at}/{op}", f"The value of '{op}' must be a boolean")

    def state_parallel(self, state, states, at, language):
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.fail(at, "A Parallel state must have a non-empty 'Branches' array")
            return
        for index, branch in enumerate(branches):
            self.machine(branch, f"{at}/Branches[{index}]", language)

    def state_map(self, state, states, at, language):
        processor = state.get("ItemProcessor", state.get("Iterator"))
        if processor is None:
            self.fail(at, "A Map state must have an 'ItemProcessor'")
        else:
            self.machine(processor, f"{at}/ItemProcessor", language)
            config = processor.get("ProcessorConfig", {}) if isinstance(processor, dict) else {}
            mode = config.get("Mode", "INLINE") if isinstance(config, dict) else None
            if mode not in ("INLINE", "DISTRIBUTED"):
                self.fail(f"{at}/ItemProcessor/ProcessorConfig/Mode", "The value of 'Mode' must be INLINE or DISTRIBUTED")
            elif mode == "INLINE" and any(k in state for k in ("ItemReader", "ResultWriter", "ItemBatcher")):
                self.fail(at, "'ItemReader', 'ItemBatcher' and 'ResultWriter' need ProcessorConfig Mode DISTRIBUTED")
        if "ItemsPath" in state and not paths.is_reference_path(state["ItemsPath"]):
            self.fail(f"{at}/ItemsPath", "The value for the field 'ItemsPath' must be a valid Reference Path")
        concurrency = state.get("MaxConcurrency")
        if concurrency is not None and not is_jsonata(concurrency) and not (_is_int(concurrency) and concurrency >= 0):
            self.fail(f"{at}/MaxConcurrency", "The value of 'MaxConcurrency' must be a non-negative integer")
        percentage = state.get("ToleratedFailurePercentage")
        if percentage is not None and not is_jsonata(percentage) and not (
                isinstance(percentage, (int, float)) and 0 <= percentage <= 100):
            self.fail(f"{at}/ToleratedFailurePercentage", "The value of 'ToleratedFailurePercentage' must be between 0 and 100")
        count = state.get("ToleratedFailureCount")
        if count is not None and not is_jsonata(count) and not (_is_int(count) and count >= 0):
            self.fail(f"{at}/ToleratedFailureCount", "The value of 'ToleratedFailureCount' must be a non-negative integer")
        reader = state.get("ItemReader")
        if reader is not None and (not isinstance(reader, dict) or "Resource" not in reader):
            self.fail(f"{at}/ItemReader", "'ItemReader' must be an object with a 'Resource'")

    def retry(self, retriers: Any, states: dict, at: str) -> None:
        if not isinstance(retriers, list):
            self.fail(at, "'Retry' must be an array")
            return
        for index, retrier in enumerate(retriers):
            where = f"{at}[{index}]"
            if not isinstance(retrier, dict):
                self.fail(where, "A retrier must be a JSON object")
                continue
            self.error_equals(retrier, where, index == len(retriers) - 1)
            for field in retrier:
                if field not in ("ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                                 "JitterStrategy", "Comment"):
                    self.fail(f"{where}/{field}", f"Field '{field}' is not supported in a retrier")
            interval = retrier.get("IntervalSeconds", 1)
            if not (_is_int(interval) and 1 <= interval <= 99999999):
                self.fail(f"{where}/IntervalSeconds", "'IntervalSeconds' must be a positive integer")
            attempts = retrier.get("MaxAttempts", 3)
            if not (_is_int(attempts) and 0 <= attempts <= 99999999):
                self.fail(f"{where}/MaxAttempts", "'MaxAttempts' must be a non-negative integer")
            rate = retrier.get("BackoffRate", 2.0)
            if not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate >= 1.0):
                self.fail(f"{where}/BackoffRate", "'BackoffRate' must be a number not less than 1.0")
            delay = retrier.get("MaxDelaySeconds")
            if delay is not None and not (_is_int(delay) and 0 < delay < 31622401):
                self.fail(f"{where}/MaxDelaySeconds", "'MaxDelaySeconds' must be a positive integer")
            if retrier.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
                self.fail(f"{where}/JitterStrategy", "'JitterStrategy' must be FULL or NONE")

    def catch(self, catchers: Any, states: dict, at: str) -> None:
        if not isinstance(catchers, list):
            self.fail(at, "'Catch' must be an array")
            return
        for index, catcher in enumerate(catchers):
            where = f"{at}[{index}]"
            if not isinstance(catcher, dict):
                self.fail(where, "A catcher must be a JSON object")
                continue
            self.error_equals(catcher, where, index == len(catchers) - 1)
            if "Next" not in catcher:
                self.fail(where, "Missing required field 'Next' in a catcher")
            else:
                self.target(catcher["Next"], states, f"{where}/Next")
            if "ResultPath" in catcher and catcher["ResultPath"] is not None and not paths.is_reference_path(catcher["ResultPath"]):
                self.fail(f"{where}/ResultPath", "The value for the field 'ResultPath' must be a valid Reference Path")

    def error_equals(self, item: dict, at: str, last: bool) -> None:
        errors = item.get("ErrorEquals")
        if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
            self.fail(f"{at}/ErrorEquals", "'ErrorEquals' must be a non-empty array of error names")
            return
        if "States.ALL" in errors:
            if len(errors) != 1:
                self.fail(f"{at}/ErrorEquals", "'States.ALL' must appear alone in 'ErrorEquals'")
            elif not last:
                self.fail(f"{at}/ErrorEquals", "A retrier or catcher with 'States.ALL' must be the last one")


_VARIABLE = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*")


def _is_path_or_variable(value: Any) -> bool:
    """`$.x` / `$$.x` paths, or a variable reference `$name` / `$name.field`."""
    if not isinstance(value, str):
        return False
    if paths.is_valid_path(value) or (value.startswith("$$") and paths.is_valid_path(value[1:])):
        return True
    match = _VARIABLE.match(value)
    return bool(match) and (match.end() == len(value) or paths.is_valid_path("$" + value[match.end():]))


def _reachable(start: str, states: dict) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        if not isinstance(state, dict):
            continue
        for key in ("Next", "Default"):
            if isinstance(state.get(key), str):
                todo.append(state[key])
        for rule in state.get("Choices", []) if isinstance(state.get("Choices"), list) else []:
            if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                todo.append(rule["Next"])
        for catcher in state.get("Catch", []) if isinstance(state.get("Catch"), list) else []:
            if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
                todo.append(catcher["Next"])
    return seen


def _parse_timestamp(value: Any):
    from orchestrator.asl.timestamps import parse_timestamp

    return parse_timestamp(value) if isinstance(value, str) else None
