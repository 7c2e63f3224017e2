"""Hostile and runaway input to the orchestrator through unmodified boto3 `stepfunctions` clients against a running
gateway: every user-supplied pattern and expression runs in bounded time and memory (Choice StringMatches, JSONata
regular expressions, recursion and loops, JSONPath `=~` filters) and fails with AWS's errors; /health keeps answering
meanwhile; executions end at AWS's limits (25,000 history events, the Express maximum duration, Wait durations)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import GatewayProcess
from tests.helpers import SFN_ROLE as ROLE
from tests.helpers import create_state_machine as create
from tests.helpers import history, wait_for_execution

EXPRESS_SECONDS = 3  # the Express maximum duration this module's gateway runs with (AWS: 300)
JSONATA_SECONDS = 2  # the JSONata time limit this module's gateway runs with (default 5)

HOSTILE_GLOB = "*a" * 16 + "*b"  # against 5,000 `a`s: catastrophic backtracking for a regex translation
BACKTRACKING = "(a|aa)+$"  # exponential on "a" * 40 + "!" for any backtracking engine (the `regex` module too)
TAIL_RECURSION = "{% ($f := function($x){ $f($x) }; $f(1)) %}"


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    process = GatewayProcess(tmp_path_factory.mktemp("bounds") / "data", env={
        "AIGATE_STEPFUNCTIONS_EXPRESS_MAX_SECONDS": str(EXPRESS_SECONDS),
        "AIGATE_STEPFUNCTIONS_JSONATA_TIMEOUT_S": str(JSONATA_SECONDS)}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sfn(bounded):
    # A generous read timeout, but not an endless one: a request the gateway never answers fails the test.
    return bounded.client("stepfunctions", read_timeout=60, inject_host_prefix=False)


def rss_mb(process: GatewayProcess) -> float:
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def run_test_state(sfn, state: dict, value, language: str = "JSONPath") -> tuple[dict, float]:
    definition = {"QueryLanguage": language, "StartAt": "S", "States": {"S": state}} if language == "JSONata" else state
    started = time.monotonic()
    result = sfn.test_state(definition=json.dumps(definition), roleArn=ROLE, input=json.dumps(value))
    return result, time.monotonic() - started


def choice(pattern: str) -> dict:
    return {"Type": "Choice", "Choices": [{"Variable": "$.s", "StringMatches": pattern, "Next": "Yes"}],
            "Default": "No"}


# -- 1. patterns and expressions in bounded time and memory --------------------------------------------------------


def test_string_matches_is_linear(sfn):
    result, took = run_test_state(sfn, choice(HOSTILE_GLOB), {"s": "a" * 5000})
    assert result["status"] == "SUCCEEDED" and result["nextState"] == "No", result
    assert took < 2, f"StringMatches took {took:.2f} s"
    result, took = run_test_state(sfn, choice(HOSTILE_GLOB), {"s": "a" * 5000 + "b"})
    assert result["nextState"] == "Yes" and took < 2
    # The same in an execution, with a pattern of a thousand stars against 250,000 characters.
    definition = {"StartAt": "C", "States": {
        "C": choice("*a" * 1000 + "*b"),
        "Yes": {"Type": "Pass", "Result": "yes", "End": True}, "No": {"Type": "Pass", "Result": "no", "End": True}}}
    arn = create(sfn, definition)
    started = time.monotonic()
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"s": "a" * 250_000}))
    described = wait_for_execution(sfn, run["executionArn"], timeout=30)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == "no"
    assert time.monotonic() - started < 10
    # Escapes keep their meaning: \\* is a literal star.
    assert run_test_state(sfn, choice("log-\\*-*.txt"), {"s": "log-*-1.txt"})[0]["nextState"] == "Yes"
    assert run_test_state(sfn, choice("log-\\*-*.txt"), {"s": "log-x-1.txt"})[0]["nextState"] == "No"


def test_jsonata_regex_is_bounded(sfn):
    matched = {"Type": "Pass", "Output": "{% $match($states.input.s, /(a+)+$/) %}", "End": True}
    result, took = run_test_state(sfn, matched, {"s": "a" * 30 + "!"}, "JSONata")
    assert result["status"] == "SUCCEEDED" and took < 2, (result, took)
    # Still regular expressions: groups, flags, $replace with group references, $split, $contains.
    works = {"Type": "Pass", "End": True, "Output": {
        "match": "{% $match('aBc', /b/i).match %}", "replace": "{% $replace('abc', /(b)/, '[$1]') %}",
        "split": "{% $split('a1b22c', /[0-9]+/) %}", "contains": "{% $contains('abc', /^a/) %}"}}
    result, _ = run_test_state(sfn, works, {}, "JSONata")
    assert json.loads(result["output"]) == {"match": "B", "replace": "a[b]c", "split": ["a", "b", "c"],
                                            "contains": True}, result
    # A pattern no backtracking engine answers: the time limit, then AWS's error for JSONata.
    hostile = {"Type": "Pass", "Output": "{% $match($states.input.s, /" + BACKTRACKING + "/) %}", "End": True}
    result, took = run_test_state(sfn, hostile, {"s": "a" * 40 + "!"}, "JSONata")
    assert result["status"] == "FAILED" and result["error"] == "States.QueryEvaluationError", result
    assert "time limit" in result["cause"] and took < JSONATA_SECONDS + 3, (result, took)


def test_jsonata_recursion_and_loops_are_bounded(sfn, bounded):
    before = rss_mb(bounded)
    # An endless loop ends at the step limit or the time limit, whichever comes first on this machine.
    endless = ("evaluation steps", "time limit")
    for expression, reasons in ((TAIL_RECURSION, endless),
                                ("{% ($f := function($x){ 1 + $f($x) }; $f(1)) %}", ("depth",)),
                                ("{% $count([1..10000000]) %}", ("evaluation steps",)),
                                ("{% $count($range(0, 1e9, 1)) %}", ("$range",)),
                                ("{% $eval('($g := function(){ $g() }; $g())') %}", endless)):
        result, took = run_test_state(sfn, {"Type": "Pass", "Output": expression, "End": True}, {}, "JSONata")
        assert result["status"] == "FAILED" and result["error"] == "States.QueryEvaluationError", result
        assert any(reason in result["cause"] for reason in reasons), result
        assert took < JSONATA_SECONDS + 3, (expression, took)
    assert rss_mb(bounded) - before < 250, f"RSS grew from {before:.0f} MB to {rss_mb(bounded):.0f} MB"
    # In an execution: the execution fails with the JSONata error, recorded as an EvaluationFailed event.
    definition = {"QueryLanguage": "JSONata", "StartAt": "Loop", "States": {
        "Loop": {"Type": "Pass", "Output": TAIL_RECURSION, "End": True}}}
    run = sfn.start_execution(stateMachineArn=create(sfn, definition), input="{}")
    described = wait_for_execution(sfn, run["executionArn"], timeout=30)
    assert described["status"] == "FAILED" and described["error"] == "States.QueryEvaluationError", described
    events = history(sfn, run["executionArn"])
    assert [e for e in events if e["type"] == "EvaluationFailed"][0]["evaluationFailedEventDetails"]["error"] == \
        "States.QueryEvaluationError"


def test_jsonpath_regex_filter_is_bounded(sfn):
    state = {"Type": "Pass", "InputPath": "$.items[?(@.name =~ \"" + BACKTRACKING + "\")]", "End": True}
    result, took = run_test_state(sfn, state, {"items": [{"name": "a" * 40 + "!"}]})
    assert result["status"] == "FAILED" and result["error"] == "States.Runtime", result
    assert took < 10
    state["InputPath"] = "$.items[?(@.name =~ \"^b\")]"
    assert json.loads(run_test_state(sfn, state, {"items": [{"name": "a"}, {"name": "bc"}]})[0]["output"]) == [
        {"name": "bc"}]


def test_health_answers_during_hostile_evaluations(sfn, bounded):
    hostile = [
        ({"Type": "Pass", "Output": "{% $match($states.input.s, /" + BACKTRACKING + "/) %}", "End": True},
         {"s": "a" * 40 + "!"}, "JSONata"),
        ({"Type": "Pass", "Output": TAIL_RECURSION, "End": True}, {}, "JSONata"),
        (choice(HOSTILE_GLOB), {"s": "a" * 5000}, "JSONPath"),
    ]
    results: list = []

    def attack(state, value, language):
        results.append(run_test_state(sfn, state, value, language)[0]["status"])

    threads = [threading.Thread(target=attack, args=case) for case in hostile for _ in range(2)]
    for thread in threads:
        thread.start()
    slowest, answered = 0.0, 0
    while any(thread.is_alive() for thread in threads):
        started = time.monotonic()
        response = requests.get(f"{bounded.url}/health", timeout=5)
        took = time.monotonic() - started
        assert response.status_code == 200
        slowest, answered = max(slowest, took), answered + 1
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert sorted(results) == ["FAILED"] * 4 + ["SUCCEEDED"] * 2, results
    assert answered >= 5 and slowest < 1.0, f"/health: {answered} answers, slowest {slowest:.3f} s"


# -- 6. AWS's limits on executions ---------------------------------------------------------------------------------


def counter_loop(iterations: int) -> dict:
    """ExecutionStarted + 4 events per iteration (Pass and Choice, entered and exited) + the Succeed's two
    + ExecutionSucceeded: 4 * iterations + 4 events when it runs to its end."""
    return {"StartAt": "Inc", "States": {
        "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": iterations, "Next": "Done"}],
                  "Default": "Inc"},
        "Done": {"Type": "Succeed"}}}


def test_execution_fails_at_25000_history_events(sfn):
    arn = create(sfn, {"StartAt": "Spin", "States": {"Spin": {"Type": "Pass", "Next": "Spin"}}})
    run = sfn.start_execution(stateMachineArn=arn, input='{"spin": true}')
    try:
        described = wait_for_execution(sfn, run["executionArn"], timeout=120)
    finally:
        sfn.stop_execution(executionArn=run["executionArn"])  # today's code: would spin forever
    assert described["status"] == "FAILED", described
    assert described["error"] == "States.Runtime"
    assert described["cause"] == "The execution reached the maximum number of history events (25000)."
    events = history(sfn, run["executionArn"])
    assert len(events) == 25000 and [e["id"] for e in events[-2:]] == [24999, 25000]
    assert events[-1]["type"] == "ExecutionFailed" and events[-1]["executionFailedEventDetails"] == {
        "error": "States.Runtime", "cause": "The execution reached the maximum number of history events (25000)."}
    assert events[-2]["type"] in ("PassStateEntered", "PassStateExited")
    reversed_page = sfn.get_execution_history(executionArn=run["executionArn"], reverseOrder=True, maxResults=2)
    assert [e["id"] for e in reversed_page["events"]] == [25000, 24999]
    with pytest.raises(ClientError) as caught:
        sfn.redrive_execution(executionArn=run["executionArn"])
    assert caught.value.response["Error"]["Code"] == "ExecutionNotRedrivable"


def test_history_quota_boundary(sfn):
    # 25,000 events whose last is ExecutionSucceeded: it succeeds; one iteration more: it fails on the quota.
    ok = sfn.start_execution(stateMachineArn=create(sfn, counter_loop(6249)), input='{"n": 0}')
    over = sfn.start_execution(stateMachineArn=create(sfn, counter_loop(6250)), input='{"n": 0}')
    described = wait_for_execution(sfn, ok["executionArn"], timeout=120)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"n": 6249}
    events = history(sfn, ok["executionArn"])
    assert len(events) == 25000 and events[-1]["type"] == "ExecutionSucceeded"
    described = wait_for_execution(sfn, over["executionArn"], timeout=120)
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime", described
    assert len(history(sfn, over["executionArn"])) == 25000


def test_express_sync_execution_capped(sfn):
    # An endless loop of pure states and a long Wait both end TIMED_OUT at the Express maximum duration.
    for definition in ({"StartAt": "Spin", "States": {"Spin": {"Type": "Pass", "Next": "Spin"}}},
                       {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}):
        arn = create(sfn, definition, kind="EXPRESS")
        started = time.monotonic()
        result = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
        took = time.monotonic() - started
        assert result["status"] == "TIMED_OUT", result
        assert result["error"] == "States.Timeout" and "maximum duration" in result["cause"]
        assert EXPRESS_SECONDS - 0.5 < took < EXPRESS_SECONDS + 5, took
    # A machine's own shorter TimeoutSeconds still applies first, with its own cause.
    arn = create(sfn, {"StartAt": "Spin", "TimeoutSeconds": 1, "States": {"Spin": {"Type": "Pass", "Next": "Spin"}}},
                 kind="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert result["status"] == "TIMED_OUT" and "TimeoutSeconds" in result["cause"], result
    # A short run is untouched.
    arn = create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}, kind="EXPRESS")
    assert sfn.start_sync_execution(stateMachineArn=arn, input='{"a": 1}')["status"] == "SUCCEEDED"


def test_wait_durations_over_the_limits_are_refused(sfn):
    # A literal Seconds outside AWS's schema (0..99,999,999): InvalidDefinition at CreateStateMachine.
    for seconds in (99_999_999_999, 100_000_000, -1, 1.5):
        with pytest.raises(ClientError) as caught:
            create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}}})
        error = caught.value.response["Error"]
        assert error["Code"] == "InvalidDefinition" and "SCHEMA_VALIDATION_FAILED" in error["Message"], error
        assert "/States/W/Seconds" in error["Message"]
    # Values known only at run time, over one year: the execution fails with States.Runtime instead of sleeping.
    cases = [
        ({"Type": "Wait", "SecondsPath": "$.s", "End": True}, {"s": 99_999_999_999}, "SecondsPath"),
        ({"Type": "Wait", "Seconds": 40_000_000, "End": True}, {}, "Seconds"),
        ({"Type": "Wait", "Timestamp": "2999-01-01T00:00:00Z", "End": True}, {}, "Timestamp"),
        ({"Type": "Wait", "TimestampPath": "$.t", "End": True}, {"t": "2999-01-01T00:00:00Z"}, "TimestampPath"),
    ]
    runs = []
    for state, value, field in cases:
        arn = create(sfn, {"StartAt": "W", "States": {"W": state}})
        runs.append((sfn.start_execution(stateMachineArn=arn, input=json.dumps(value))["executionArn"], field))
    jsonata = {"QueryLanguage": "JSONata", "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": True}}}
    runs.append((sfn.start_execution(stateMachineArn=create(sfn, jsonata), input='{"s": 99999999999}')[
        "executionArn"], "Seconds"))
    try:
        for execution_arn, field in runs:
            described = wait_for_execution(sfn, execution_arn, timeout=30)
            assert described["status"] == "FAILED", described
            assert described["error"] == "States.Runtime" and field in described["cause"], described
            assert "one year" in described["cause"]
    finally:
        for execution_arn, _ in runs:
            sfn.stop_execution(executionArn=execution_arn)
    # Within the limits, a SecondsPath wait still waits.
    arn = create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}})
    run = sfn.start_execution(stateMachineArn=arn, input='{"s": 1}')
    assert wait_for_execution(sfn, run["executionArn"], timeout=30)["status"] == "SUCCEEDED"
