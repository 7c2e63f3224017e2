"""Executions survive a crash: the gateway is SIGKILLed during a Wait and during a Map, started again on the same
data, and each execution finishes from where it was. Side effects are counted by a local HTTP server the Task
states call (http:invoke): what already ran is not run again, and the history is whole (no gap, no duplicate)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter

import pytest

from tests.conftest import GatewayProcess
from tests.helpers import HTTP_INVOKE as HTTP
from tests.helpers import SFN_ROLE as ROLE
from tests.helpers import history, poll, wait_for_execution

pytestmark = pytest.mark.slow


def call(url: str, path: str, body_path: str = "$") -> dict:
    return {"Type": "Task", "Resource": HTTP, "Parameters": {
        "ApiEndpoint": f"{url}{path}", "Method": "POST", "RequestBody.$": body_path},
        "ResultSelector": {"body.$": "$.ResponseBody"}}


def check_history(events: list[dict]) -> None:
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events].count("ExecutionStarted") == 1
    assert events[-1]["type"] == "ExecutionSucceeded"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_killed_during_wait_and_map_resumes(tmp_path, recorder, request, database):
    env = {"AIGATE_DATABASE_URL": request.getfixturevalue("postgres").url} if database == "postgresql" else {}
    gateway = GatewayProcess(tmp_path / "data", env=env).start()
    try:
        sfn = gateway.client("stepfunctions")
        waiting = sfn.create_state_machine(name="durable-wait", roleArn=ROLE, definition=json.dumps({
            "StartAt": "Before", "States": {
                "Before": {**call(recorder.url, "/before"), "ResultPath": "$.before", "Next": "Nap"},
                "Nap": {"Type": "Wait", "Seconds": 8, "Next": "After"},
                "After": {**call(recorder.url, "/after"), "ResultPath": "$.after", "End": True}}}))["stateMachineArn"]
        mapping = sfn.create_state_machine(name="durable-map", roleArn=ROLE, definition=json.dumps({
            "StartAt": "Each", "States": {"Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                "ItemProcessor": {"StartAt": "Hook", "States": {
                    "Hook": {**call(recorder.url, "/item"), "ResultPath": "$.hook", "Next": "Pause"},
                    "Pause": {"Type": "Wait", "Seconds": 2, "End": True}}},
                "End": True}}}))["stateMachineArn"]
        wait_arn = sfn.start_execution(stateMachineArn=waiting, input=json.dumps({"n": 1}))["executionArn"]
        items = [{"i": index} for index in range(8)]
        map_arn = sfn.start_execution(stateMachineArn=mapping, input=json.dumps({"items": items}))["executionArn"]

        # Kill once the Wait has begun and the Map is half-way, both iterations of the window inside their Wait.
        poll(lambda: "WaitStateEntered" in [e["type"] for e in history(sfn, wait_arn)], timeout=30, interval=0.05,
             what="the Wait")
        poll(lambda: recorder.calls["/item"] >= 4, timeout=60, interval=0.05, what="four map iterations")
        time.sleep(0.7)
        before_kill = Counter(recorder.calls)
        gateway.kill()
        killed_at = time.monotonic()
        assert before_kill["/before"] == 1 and before_kill["/after"] == 0

        gateway.start()
        restarted = dt.datetime.now(dt.timezone.utc)
        sfn = gateway.client("stepfunctions")
        described = wait_for_execution(sfn, wait_arn, timeout=60)
        assert described["status"] == "SUCCEEDED", described
        out = json.loads(described["output"])
        assert out["before"]["body"]["path"] == "/before" and out["after"]["body"]["got"]["n"] == 1
        described = wait_for_execution(sfn, map_arn, timeout=90)
        assert described["status"] == "SUCCEEDED", described
        assert [entry["hook"]["body"]["got"]["i"] for entry in json.loads(described["output"])] == list(range(8))

        # Nothing that had run ran again: one call per state, one per item.
        assert recorder.calls["/before"] == 1 and recorder.calls["/after"] == 1
        assert recorder.calls["/item"] == 8

        events = history(sfn, wait_arn)
        check_history(events)
        types = [e["type"] for e in events]
        assert types.count("TaskScheduled") == 2 and types.count("WaitStateEntered") == 1
        assert types.count("WaitStateExited") == 1
        entered = next(e["timestamp"] for e in events if e["type"] == "WaitStateEntered")
        exited = next(e["timestamp"] for e in events if e["type"] == "WaitStateExited")
        # The timer kept its deadline across the restart: it ended at max(entered + 8 s, restart), not 8 s after
        # the restart as a timer started again would.
        assert (exited - entered).total_seconds() >= 7.5
        assert exited < max(entered + dt.timedelta(seconds=8), restarted) + dt.timedelta(seconds=3), (
            entered, exited, restarted, time.monotonic() - killed_at)

        events = history(sfn, map_arn)
        check_history(events)
        types = [e["type"] for e in events]
        assert types.count("MapIterationStarted") == 8 and types.count("MapIterationSucceeded") == 8
        assert types.count("TaskSucceeded") == 8 and types.count("MapStateSucceeded") == 1
        indexes = sorted(e["mapIterationStartedEventDetails"]["index"] for e in events
                         if e["type"] == "MapIterationStarted")
        assert indexes == list(range(8))
    finally:
        gateway.stop()


def test_stop_reaches_a_restarted_execution(tmp_path):
    """An execution recovered after a crash can still be stopped: its durable timer wakes on the stop."""
    gateway = GatewayProcess(tmp_path / "data").start()
    try:
        sfn = gateway.client("stepfunctions")
        machine = sfn.create_state_machine(name="long-nap", roleArn=ROLE, definition=json.dumps({
            "StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}}))["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        poll(lambda: "WaitStateEntered" in [e["type"] for e in history(sfn, arn)], timeout=30, interval=0.05,
             what="the Wait")
        gateway.kill()
        gateway.start()
        sfn = gateway.client("stepfunctions")
        time.sleep(1)
        sfn.stop_execution(executionArn=arn, cause="no longer needed")
        described = sfn.describe_execution(executionArn=arn)
        assert described["status"] == "ABORTED" and described["cause"] == "no longer needed"
        time.sleep(1.5)
        events = history(sfn, arn)
        assert events[-1]["type"] == "ExecutionAborted"
        assert [e["type"] for e in events].count("WaitStateExited") == 0
    finally:
        gateway.stop()
