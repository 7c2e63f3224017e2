"""The orchestrator through unmodified boto3 `stepfunctions` clients against a running gateway: the state machine
API, every state type, the JSONPath data flow, intrinsic functions, Choice operators, Retry/Catch with timing,
timeouts, Map concurrency and tolerated failures, history events, and a real Comprehend call in a Task."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.helpers import DETECT_LANGUAGE as COMPREHEND
from tests.helpers import SFN_ROLE as ROLE
from tests.helpers import create_state_machine as create
from tests.helpers import execute, history, output_of, unique, wait_for_execution


def single(state: dict, language: str | None = None) -> dict:
    machine = {"StartAt": "S", "States": {"S": {**state, **({} if state["Type"] in ("Choice", "Succeed", "Fail")
                                                          or "Next" in state else {"End": True})}}}
    if language:
        machine["QueryLanguage"] = language
    return machine


# -- the state machine API --------------------------------------------------------------------------------------


def test_create_describe_update_list_delete(sfn):
    name = unique("crud")
    definition = {"Comment": "hello", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    arn = create(sfn, definition, name=name)
    assert arn == f"arn:aws:states:us-east-1:000000000000:stateMachine:{name}"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == name and described["status"] == "ACTIVE" and described["type"] == "STANDARD"
    assert json.loads(described["definition"]) == definition and described["roleArn"] == ROLE
    # Same name, same definition: idempotent; different definition: StateMachineAlreadyExists.
    assert create(sfn, definition, name=name) == arn
    other = {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}
    with pytest.raises(ClientError) as caught:
        create(sfn, other, name=name)
    assert caught.value.response["Error"]["Code"] == "StateMachineAlreadyExists"

    revision = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(other))["revisionId"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"]) == other and described["revisionId"] == revision
    with pytest.raises(ClientError) as caught:
        sfn.update_state_machine(stateMachineArn=arn)
    assert caught.value.response["Error"]["Code"] == "MissingRequiredParameter"

    names = []
    for page in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2}):
        names += [item["name"] for item in page["stateMachines"]]
    assert name in names and len(names) == len(set(names))

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as caught:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert caught.value.response["Error"]["Code"] == "StateMachineDoesNotExist"


@pytest.mark.parametrize("definition, code, fragment", [
    ("{not json", "INVALID_JSON_DESCRIPTION", ""),
    ({"States": {"A": {"Type": "Pass", "End": True}}}, "SCHEMA_VALIDATION_FAILED", "'StartAt'"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}, "MISSING_TRANSITION_TARGET", "B"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}, "B": {"Type": "Pass", "End": True}}},
     "UNREACHABLE_STATE", "B"),
    ({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": True}}}, "SCHEMA_VALIDATION_FAILED", "Teleport"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}, "SCHEMA_VALIDATION_FAILED", "'End'"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Resource": "x"}}}, "SCHEMA_VALIDATION_FAILED",
     "'Resource'"),
    ({"StartAt": "A", "States": {"A": {"Type": "Wait", "End": True}}}, "SCHEMA_VALIDATION_FAILED", "Seconds"),
    ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}, "SCHEMA_VALIDATION_FAILED", "Choices"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}}, "SCHEMA_VALIDATION_FAILED", "'Resource'"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "InputPath": "nope"}}},
     "SCHEMA_VALIDATION_FAILED", "InputPath"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Parameters": {"x.$": "States.Nope(1)"}}}},
     "SCHEMA_VALIDATION_FAILED", "intrinsic"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": COMPREHEND, "End": True,
                                       "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}}},
     "SCHEMA_VALIDATION_FAILED", "States.ALL"),
    ({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": COMPREHEND, "End": True,
                                       "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}}},
     "SCHEMA_VALIDATION_FAILED", "BackoffRate"),
    ({"StartAt": "A", "Extra": 1, "States": {"A": {"Type": "Succeed"}}}, "SCHEMA_VALIDATION_FAILED", "'Extra'"),
    ({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "InputPath": "$"}}},
     "SCHEMA_VALIDATION_FAILED", "JSONata"),
])
def test_invalid_definitions(sfn, definition, code, fragment):
    text = definition if isinstance(definition, str) else json.dumps(definition)
    with pytest.raises(ClientError) as caught:
        sfn.create_state_machine(name=unique("bad"), definition=text, roleArn=ROLE)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidDefinition"
    assert error["Message"].startswith("Invalid State Machine Definition: ") and code in error["Message"]
    assert fragment in error["Message"]
    validated = sfn.validate_state_machine_definition(definition=text)
    assert validated["result"] == "FAIL" and validated["diagnostics"][0]["code"] == code


def test_validate_ok_and_bad_requests(sfn):
    good = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    validated = sfn.validate_state_machine_definition(definition=good)
    assert validated["result"] == "OK" and validated["diagnostics"] == [] and validated["truncated"] is False
    for kwargs, code in [
        ({"name": "bad name", "definition": good, "roleArn": ROLE}, "InvalidName"),
        ({"name": unique("sm"), "definition": good, "roleArn": "not-an-arn"}, "InvalidArn"),
    ]:
        with pytest.raises(ClientError) as caught:
            sfn.create_state_machine(**kwargs)
        assert caught.value.response["Error"]["Code"] == code
    for call, code in [
        (lambda: sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:000000000000:stateMachine:none"),
         "StateMachineDoesNotExist"),
        (lambda: sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:000000000000:activity:x"),
         "InvalidArn"),
        (lambda: sfn.describe_execution(executionArn="arn:aws:states:us-east-1:000000000000:execution:a:b"),
         "ExecutionDoesNotExist"),
        (lambda: sfn.start_execution(stateMachineArn=create(sfn, json.loads(good)), input="{oops"),
         "InvalidExecutionInput"),
        (lambda: sfn.send_task_success(taskToken="bogus", output="{}"), "InvalidToken"),
        (lambda: sfn.list_state_machines(nextToken="garbage"), "InvalidToken"),
    ]:
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == code


def test_start_execution_name_idempotency_and_listing(sfn):
    arn = create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    first = sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"a":1}')
    again = sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"a":1}')
    assert again["executionArn"] == first["executionArn"]
    with pytest.raises(ClientError) as caught:
        sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"a":2}')
    assert caught.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    others = [sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"] for _ in range(4)]

    stopped = sfn.stop_execution(executionArn=first["executionArn"], error="Manual", cause="testing stop")
    described = sfn.describe_execution(executionArn=first["executionArn"])
    assert described["status"] == "ABORTED" and described["error"] == "Manual" and described["cause"] == "testing stop"
    assert described["stopDate"] == stopped["stopDate"]
    assert history(sfn, first["executionArn"])[-1]["type"] == "ExecutionAborted"
    with pytest.raises(ClientError) as caught:  # closed: the name cannot be reused
        sfn.start_execution(stateMachineArn=arn, name="run-1", input='{"a":1}')
    assert caught.value.response["Error"]["Code"] == "ExecutionAlreadyExists"

    seen = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, PaginationConfig={"PageSize": 2}):
        seen += [item["executionArn"] for item in page["executions"]]
    assert sorted(seen) == sorted([first["executionArn"], *others])
    running = sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    assert sorted(item["executionArn"] for item in running) == sorted(others)
    aborted = sfn.list_executions(stateMachineArn=arn, statusFilter="ABORTED")["executions"]
    assert [item["executionArn"] for item in aborted] == [first["executionArn"]]
    for other in others:
        sfn.stop_execution(executionArn=other)
    assert {sfn.describe_execution(executionArn=o)["status"] for o in others} == {"ABORTED"}
    for_execution = sfn.describe_state_machine_for_execution(executionArn=first["executionArn"])
    assert for_execution["stateMachineArn"] == arn and json.loads(for_execution["definition"])["StartAt"] == "W"


# -- states and data flow ---------------------------------------------------------------------------------------


def test_pass_data_flow(sfn):
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$.order", "Parameters": {
            "id.$": "$.id", "first.$": "$.items[0].sku", "static": "yes", "nested": {"ctx.$": "$$.State.Name"},
            "execName.$": "$$.Execution.Name", "all.$": "$.items[*].qty"},
              "ResultPath": "$.summary", "OutputPath": "$.summary", "Next": "B"},
        "B": {"Type": "Pass", "Result": {"fixed": [1, 2]}, "ResultPath": "$.extra", "Next": "C"},
        "C": {"Type": "Pass", "ResultPath": None, "Next": "D"},
        "D": {"Type": "Pass", "InputPath": None, "ResultPath": "$.empty", "End": True}}}
    value = {"order": {"id": "o-1", "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 3}]}}
    out = output_of(sfn, definition, value)
    assert out["id"] == "o-1" and out["first"] == "a" and out["static"] == "yes"
    assert out["nested"] == {"ctx": "A"} and out["all"] == [2, 3] and len(out["execName"]) == 36
    assert out["extra"] == {"fixed": [1, 2]} and out["empty"] == {}


def test_missing_path_is_a_runtime_error(sfn):
    described, events = execute(sfn, single({"Type": "Pass", "InputPath": "$.missing"}), {"a": 1})
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert "$.missing" in described["cause"]
    assert events[-1]["type"] == "ExecutionFailed"


INTRINSICS = {
    "fmt.$": "States.Format('Hello {}, you are {}', $.name, $.age)",
    "json.$": "States.StringToJson($.encoded)",
    "str.$": "States.JsonToString($.obj)",
    "arr.$": "States.Array(1, 'two', $.age, null)",
    "part.$": "States.ArrayPartition($.nums, 2)",
    "contains.$": "States.ArrayContains($.nums, 3)",
    "range.$": "States.ArrayRange(1, 9, 2)",
    "item.$": "States.ArrayGetItem($.nums, 1)",
    "len.$": "States.ArrayLength($.nums)",
    "unique.$": "States.ArrayUnique($.dups)",
    "b64.$": "States.Base64Encode($.name)",
    "unb64.$": "States.Base64Decode('aGVsbG8=')",
    "hash.$": "States.Hash($.name, 'SHA-256')",
    "merge.$": "States.JsonMerge($.obj, States.StringToJson('{\"b\": 3}'), false)",
    "rand.$": "States.MathRandom(1, 3)",
    "add.$": "States.MathAdd($.age, -2)",
    "split.$": "States.StringSplit('a,b;c', ',;')",
    "uuid.$": "States.UUID()",
    "escaped.$": "States.Format('brace \\{\\} quote \\' {}', $.name)",
}


def test_intrinsic_functions(sfn):
    value = {"name": "Ada", "age": 36, "encoded": "{\"k\": [1]}", "obj": {"a": 1, "b": 2}, "nums": [1, 2, 3, 4, 5],
             "dups": [1, 1, {"x": 1}, {"x": 1}, "1"]}
    out = output_of(sfn, single({"Type": "Pass", "Parameters": INTRINSICS}), value)
    import hashlib

    assert out["fmt"] == "Hello Ada, you are 36"
    assert out["json"] == {"k": [1]} and out["str"] == '{"a":1,"b":2}'
    assert out["arr"] == [1, "two", 36, None]
    assert out["part"] == [[1, 2], [3, 4], [5]] and out["contains"] is True
    assert out["range"] == [1, 3, 5, 7, 9] and out["item"] == 2 and out["len"] == 5
    assert out["unique"] == [1, {"x": 1}, "1"]
    assert out["b64"] == "QWRh" and out["unb64"] == "hello"
    assert out["hash"] == hashlib.sha256(b"Ada").hexdigest()
    assert out["merge"] == {"a": 1, "b": 3} and out["rand"] in (1, 2, 3) and out["add"] == 34
    assert out["split"] == ["a", "b", "c"] and len(out["uuid"]) == 36
    assert out["escaped"] == "brace {} quote ' Ada"


@pytest.mark.parametrize("expression", [
    "States.ArrayGetItem($.nums, 10)", "States.Base64Decode('%%%')", "States.Format('{} {}', 1)",
    "States.StringToJson('{bad')", "States.Hash('x', 'CRC32')"])
def test_intrinsic_failures(sfn, expression):
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"v.$": expression}, "End": True}}}
    described, _ = execute(sfn, definition, {"nums": [1]})
    assert described["status"] == "FAILED" and described["error"] == "States.IntrinsicFailure", described


CHOICE_CASES = [
    ({"Variable": "$.s", "StringEquals": "abc"}, True),
    ({"Variable": "$.s", "StringEqualsPath": "$.t"}, False),
    ({"Variable": "$.s", "StringLessThan": "abd"}, True),
    ({"Variable": "$.s", "StringGreaterThan": "abb"}, True),
    ({"Variable": "$.s", "StringLessThanEquals": "abc"}, True),
    ({"Variable": "$.s", "StringGreaterThanEquals": "abd"}, False),
    ({"Variable": "$.s", "StringMatches": "a*c"}, True),
    ({"Variable": "$.star", "StringMatches": "x\\*y"}, True),
    ({"Variable": "$.n", "NumericEquals": 10}, True),
    ({"Variable": "$.n", "NumericEqualsPath": "$.m"}, False),
    ({"Variable": "$.n", "NumericLessThan": 10.5}, True),
    ({"Variable": "$.n", "NumericGreaterThan": 9}, True),
    ({"Variable": "$.n", "NumericLessThanEquals": 10}, True),
    ({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.m"}, False),
    ({"Variable": "$.n", "NumericLessThanPath": "$.m"}, True),
    ({"Variable": "$.b", "BooleanEquals": True}, True),
    ({"Variable": "$.b", "BooleanEqualsPath": "$.f"}, False),
    ({"Variable": "$.ts", "TimestampEquals": "2024-01-01T00:00:00Z"}, True),
    ({"Variable": "$.ts", "TimestampLessThan": "2024-01-02T00:00:00Z"}, True),
    ({"Variable": "$.ts", "TimestampGreaterThan": "2023-12-31T23:59:59+00:00"}, True),
    ({"Variable": "$.ts", "TimestampLessThanEquals": "2023-01-01T00:00:00Z"}, False),
    ({"Variable": "$.ts", "TimestampGreaterThanEqualsPath": "$.ts"}, True),
    ({"Variable": "$.nothing", "IsNull": True}, True),
    ({"Variable": "$.missing", "IsPresent": False}, True),
    ({"Variable": "$.s", "IsPresent": True}, True),
    ({"Variable": "$.n", "IsNumeric": True}, True),
    ({"Variable": "$.s", "IsString": True}, True),
    ({"Variable": "$.b", "IsBoolean": True}, True),
    ({"Variable": "$.ts", "IsTimestamp": True}, True),
    ({"Variable": "$.s", "IsTimestamp": True}, False),
    ({"Variable": "$.s", "NumericEquals": 1}, False),  # type mismatch: false, not an error
    ({"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Variable": "$.b", "BooleanEquals": True}]}, True),
    ({"Or": [{"Variable": "$.n", "NumericLessThan": 1}, {"Variable": "$.s", "StringEquals": "zzz"}]}, False),
    ({"Not": {"Variable": "$.s", "StringEquals": "zzz"}}, True),
]


def test_choice_operators(sfn):
    """Every operator in one state machine: each rule's outcome is recorded by a Pass state it leads to."""
    states = {}
    for index, (rule, _) in enumerate(CHOICE_CASES):
        next_index = index + 1
        after = f"C{next_index}" if next_index < len(CHOICE_CASES) else "Done"
        states[f"C{index}"] = {"Type": "Choice", "Choices": [{**rule, "Next": f"T{index}"}], "Default": f"F{index}"}
        states[f"T{index}"] = {"Type": "Pass", "Result": True, "ResultPath": f"$.r.c{index}", "Next": after}
        states[f"F{index}"] = {"Type": "Pass", "Result": False, "ResultPath": f"$.r.c{index}", "Next": after}
    states["Done"] = {"Type": "Succeed", "OutputPath": "$.r"}
    value = {"s": "abc", "t": "abd", "star": "x*y", "n": 10, "m": 11, "b": True, "f": False,
             "ts": "2024-01-01T00:00:00Z", "nothing": None}
    out = output_of(sfn, {"StartAt": "C0", "States": states}, value)
    assert [out[f"c{i}"] for i in range(len(CHOICE_CASES))] == [expected for _, expected in CHOICE_CASES]


def test_choice_without_match_fails(sfn):
    definition = single({"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "S"}]})
    described, events = execute(sfn, definition, {"x": 2})
    assert described["status"] == "FAILED" and described["error"] == "States.NoChoiceMatched"
    assert [e["type"] for e in events] == ["ExecutionStarted", "ChoiceStateEntered", "ExecutionFailed"]


def test_wait_forms(sfn):
    import datetime as dt

    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    past = "2001-01-01T00:00:00Z"
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Wait", "Seconds": 1, "Next": "B"},
        "B": {"Type": "Wait", "SecondsPath": "$.secs", "Next": "C"},
        "C": {"Type": "Wait", "TimestampPath": "$.until", "Next": "D"},
        "D": {"Type": "Wait", "Timestamp": past, "End": True}}}
    started = time.monotonic()
    described, events = execute(sfn, definition, {"secs": 1, "until": soon})
    elapsed = time.monotonic() - started
    assert described["status"] == "SUCCEEDED", described
    assert 2.0 <= elapsed < 10, elapsed
    waits = [e for e in events if e["type"] == "WaitStateExited"]
    assert len(waits) == 4
    bad, _ = execute(sfn, single({"Type": "Wait", "SecondsPath": "$.secs"}), {"secs": "soon"})
    assert bad["status"] == "FAILED" and bad["error"] == "States.Runtime"


def test_fail_state_with_paths(sfn):
    definition = single({"Type": "Fail", "ErrorPath": "$.code", "CausePath": "States.Format('bad {}', $.what)"})
    described, events = execute(sfn, definition, {"code": "Custom.Error", "what": "thing"})
    assert described["status"] == "FAILED" and described["error"] == "Custom.Error" and described["cause"] == "bad thing"
    assert [e["type"] for e in events] == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    assert events[-1]["executionFailedEventDetails"] == {"error": "Custom.Error", "cause": "bad thing"}


def test_parallel_and_inline_map(sfn):
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"branch": 1, "v.$": "$.v"}, "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 1, "Next": "B2"},
                                        "B2": {"Type": "Pass", "Result": "waited", "End": True}}}],
              "ResultSelector": {"first.$": "$[0]", "second.$": "$[1]"}, "ResultPath": "$.parallel", "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
              "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "v.$": "$.v"},
              "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Double", "States": {
                  "Double": {"Type": "Pass", "Parameters": {"r.$": "States.MathAdd($.value, $.value)",
                                                            "i.$": "$.index", "v.$": "$.v"}, "End": True}}},
              "ResultPath": "$.mapped", "End": True}}}
    described, events = execute(sfn, definition, {"v": "x", "items": [1, 2, 3]})
    out = json.loads(described["output"])
    assert out["parallel"] == {"first": {"branch": 1, "v": "x"}, "second": "waited"}
    assert out["mapped"] == [{"r": 2, "i": 0, "v": "x"}, {"r": 4, "i": 1, "v": "x"}, {"r": 6, "i": 2, "v": "x"}]
    types = [e["type"] for e in events]
    for expected in ("ParallelStateEntered", "ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateExited",
                     "MapStateEntered", "MapStateStarted", "MapIterationStarted", "MapIterationSucceeded",
                     "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"):
        assert expected in types
    assert types.count("MapIterationSucceeded") == 3
    started = next(e for e in events if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 3}
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] == e["id"] - 1 for e in events)


def test_map_concurrency_limit_and_tolerated_failures(sfn):
    """MaxConcurrency 2 over 6 one-second waits takes ~3 s (not 1, not 6); failures within the tolerance pass."""
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 2, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}},
        "End": True}}}
    started = time.monotonic()
    described, events = execute(sfn, definition, {"items": list(range(6))})
    elapsed = time.monotonic() - started
    assert described["status"] == "SUCCEEDED"
    assert 2.8 <= elapsed < 8, elapsed

    failing = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "ToleratedFailureCount": 1,
        "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Boom"}], "Default": "Ok"},
            "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "zero"},
            "Ok": {"Type": "Wait", "Seconds": 0, "End": True}}},
        "End": True}}}
    described, _ = execute(sfn, failing, {"items": [0, 1, 2]})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])[0] == {"Error": "Item.Bad", "Cause": "zero"}
    described, events = execute(sfn, failing, {"items": [0, 0, 1]})
    assert described["status"] == "FAILED" and described["error"] == "States.ExceedToleratedFailureThreshold"
    assert "MapStateFailed" in [e["type"] for e in events]
    percentage = json.loads(json.dumps(failing))
    del percentage["States"]["M"]["ToleratedFailureCount"]
    percentage["States"]["M"]["ToleratedFailurePercentage"] = 50
    assert execute(sfn, percentage, {"items": [0, 1, 2, 3]})[0]["status"] == "SUCCEEDED"
    assert execute(sfn, percentage, {"items": [0, 0, 0, 3]})[0]["status"] == "FAILED"


# -- tasks, retries, catches, timeouts --------------------------------------------------------------------------


def test_task_calls_comprehend_in_process(sfn):
    definition = {"StartAt": "Detect", "States": {"Detect": {
        "Type": "Task", "Resource": COMPREHEND, "Parameters": {"Text.$": "$.text"},
        "ResultSelector": {"language.$": "$.Languages[0].LanguageCode", "score.$": "$.Languages[0].Score"},
        "ResultPath": "$.detected", "End": True}}}
    text = "Die Bundesregierung hat gestern neue Maßnahmen gegen die steigenden Mieten beschlossen."
    described, events = execute(sfn, definition, {"text": text})
    out = json.loads(described["output"])
    assert out["detected"]["language"] == "de" and out["detected"]["score"] > 0.5
    types = [e["type"] for e in events]
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
                     "TaskStateExited", "ExecutionSucceeded"]
    scheduled = events[2]["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "aws-sdk:comprehend" and scheduled["resource"] == "detectDominantLanguage"
    assert json.loads(scheduled["parameters"]) == {"Text": text} and scheduled["region"] == "us-east-1"


def test_task_error_names_and_catch(sfn):
    """An oversized text fails with Comprehend's own error, named as AWS names aws-sdk errors; Catch routes it."""
    definition = {"StartAt": "Detect", "States": {
        "Detect": {"Type": "Task", "Resource": COMPREHEND, "Parameters": {"Text.$": "$.text"},
                   "Catch": [{"ErrorEquals": ["Comprehend.TextSizeLimitExceededException"],
                              "ResultPath": "$.error", "Next": "Handled"}], "End": True},
        "Handled": {"Type": "Pass", "End": True}}}
    described, events = execute(sfn, definition, {"text": "word " * 30000})
    assert described["status"] == "SUCCEEDED", described
    out = json.loads(described["output"])
    assert out["error"]["Error"] == "Comprehend.TextSizeLimitExceededException" and out["error"]["Cause"]
    failed = next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failed["error"] == "Comprehend.TextSizeLimitExceededException"
    uncaught, _ = execute(sfn, single({"Type": "Task", "Resource": COMPREHEND, "Parameters": {"Nope": 1}}))
    assert uncaught["status"] == "FAILED" and uncaught["error"] == "Comprehend.ValidationException"
    unknown, _ = execute(sfn, single({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:comprehend:flyAway"}))
    assert unknown["status"] == "FAILED" and unknown["error"] == "States.Runtime"


def test_retry_timing_and_backoff(sfn):
    """IntervalSeconds 1, BackoffRate 2, MaxAttempts 2: attempts at ~0 s, ~1 s, ~3 s, then the Catch."""
    definition = {"StartAt": "Detect", "States": {
        "Detect": {"Type": "Task", "Resource": COMPREHEND, "Parameters": {"Bad": True},
                   "Retry": [{"ErrorEquals": ["Other.Error"], "MaxAttempts": 5},
                             {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "BackoffRate": 2,
                              "MaxAttempts": 2}],
                   "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    described, events = execute(sfn, definition, {})
    assert described["status"] == "SUCCEEDED"
    scheduled = [e["timestamp"] for e in events if e["type"] == "TaskScheduled"]
    assert len(scheduled) == 3
    gaps = [(b - a).total_seconds() for a, b in zip(scheduled, scheduled[1:])]
    assert 0.9 <= gaps[0] < 2.0 and 1.9 <= gaps[1] < 3.5, gaps
    capped = json.loads(json.dumps(definition))
    capped["States"]["Detect"]["Retry"][1].update(IntervalSeconds=1, BackoffRate=10, MaxDelaySeconds=1)
    described, events = execute(sfn, capped, {})
    scheduled = [e["timestamp"] for e in events if e["type"] == "TaskScheduled"]
    gaps = [(b - a).total_seconds() for a, b in zip(scheduled, scheduled[1:])]
    assert all(0.9 <= gap < 2.0 for gap in gaps), gaps


def test_task_timeout_and_execution_timeout(sfn):
    slow = {"StartAt": "Wait", "TimeoutSeconds": 1, "States": {"Wait": {"Type": "Wait", "Seconds": 20, "End": True}}}
    started = time.monotonic()
    described, events = execute(sfn, slow)
    assert described["status"] == "TIMED_OUT" and time.monotonic() - started < 8
    assert events[-1]["type"] == "ExecutionTimedOut"
    token = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": f"{COMPREHEND}.waitForTaskToken", "TimeoutSecondsPath": "$.limit",
        "Parameters": {"Text": "Bonjour tout le monde, comment allez-vous?", "Token.$": "$$.Task.Token"},
        "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.err", "Next": "Late"}], "End": True},
        "Late": {"Type": "Pass", "End": True}}}
    described, events = execute(sfn, token, {"limit": 1})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["err"]["Error"] == "States.Timeout"
    assert "TaskTimedOut" in [e["type"] for e in events]


def test_assign_variables_jsonpath(sfn):
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"count": 1, "who.$": "$.name"}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hi {} #{}', $who, $count)"}, "End": True}}}
    assert output_of(sfn, definition, {"name": "Lin"}) == {"greeting": "hi Lin #1"}


def test_history_pagination_and_reverse(sfn):
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(20)}
    states["S20"] = {"Type": "Succeed"}
    arn = create(sfn, {"StartAt": "S0", "States": states})
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_for_execution(sfn, execution)
    events = history(sfn, execution)
    assert len(events) == 1 + 2 * 21 + 1
    page = sfn.get_execution_history(executionArn=execution, maxResults=5, reverseOrder=True)
    assert [e["type"] for e in page["events"]][0] == "ExecutionSucceeded" and page["nextToken"]
    assert page["events"][0]["id"] == len(events)
    lean = sfn.get_execution_history(executionArn=execution, includeExecutionData=False, maxResults=3)["events"]
    assert "input" not in lean[1]["stateEnteredEventDetails"]


def test_choice_on_variables_and_context(sfn):
    definition = {"StartAt": "Remember", "States": {
        "Remember": {"Type": "Pass", "Assign": {"limit": 5, "user": {"tier": "gold"}}, "Next": "Route"},
        "Route": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.n", "NumericGreaterThanPath": "$limit"},
                     {"Variable": "$user.tier", "StringEquals": "gold"},
                     {"Variable": "$$.Execution.Input.n", "IsNumeric": True}], "Next": "Big"}],
                  "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "End": True},
        "Small": {"Type": "Pass", "Result": "small", "End": True}}}
    assert output_of(sfn, definition, {"n": 9}) == "big"
    assert output_of(sfn, definition, {"n": 1}) == "small"
    described, _ = execute(sfn, {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"v.$": "$undefinedVariable"}, "End": True}}})
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"


def test_execution_timeout_is_not_caught_by_its_states(sfn):
    definition = {"StartAt": "P", "TimeoutSeconds": 1, "States": {"P": {
        "Type": "Parallel", "Branches": [{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    described, events = execute(sfn, definition)
    assert described["status"] == "TIMED_OUT", described
    assert events[-1]["type"] == "ExecutionTimedOut"
