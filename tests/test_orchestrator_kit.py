"""Step Functions on the service kit, through unmodified boto3 against a running gateway: List* paging one item a
page (ListStateMachines, ListExecutions, GetExecutionHistory) and the invalid-token error, tags given at
CreateStateMachine, tags dropped by DeleteStateMachine (a state machine created again under the same name starts
with none), the tag limit at creation, and resources scoped to their region.

The module works in a region of its own, so its listings hold only what it created. Last, executions accepted by
`aigate serve --no-worker` run in a separate `aigate worker --queues stepfunctions`."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AIGATE, ROOT, GatewayProcess

ACCOUNT = "000000000000"  # the gateway's default account (auth off)
REGION = "ap-southeast-2"
ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"}, "Q": {"Type": "Pass", "End": True}}})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def as_pairs(tags: list[dict]) -> list[tuple[str, str]]:
    return sorted((tag["key"], tag["value"]) for tag in tags)


@pytest.fixture(scope="module")
def sfn(gateway):
    return gateway.client("stepfunctions", region=REGION)


def pages(call, token: str | None = None, **kwargs) -> list[dict]:
    """Every page of a List* call, one item a page (from the page `token` names)."""
    found = []
    while True:
        page = call(maxResults=1, **kwargs, **({"nextToken": token} if token else {}))
        found.append(page)
        token = page.get("nextToken")
        if not token:
            return found
        assert len(found) < 200, "paging does not end"


def wait_done(sfn, arn: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


def test_list_state_machines_one_a_page(sfn):
    names = sorted(unique("page") for _ in range(3))
    arns = [sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE)["stateMachineArn"] for name in names]
    assert arns[0] == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{names[0]}"
    listed = pages(sfn.list_state_machines)
    assert all(len(page["stateMachines"]) <= 1 for page in listed)
    assert all("nextToken" in page for page in listed[:-1])
    seen = [item["name"] for page in listed for item in page["stateMachines"]]
    assert len(seen) == len(set(seen)) and set(names) <= set(seen)
    assert seen == sorted(seen)  # by name, as before
    # A state machine created between two pages is neither skipped nor repeated by the pages after it.
    first = sfn.list_state_machines(maxResults=1)
    late = "zzzz-" + unique("late")
    sfn.create_state_machine(name=late, definition=PASS, roleArn=ROLE)
    rest = pages(sfn.list_state_machines, first["nextToken"]) if first.get("nextToken") else []
    after = [item["name"] for page in rest for item in page["stateMachines"]]
    assert after.count(late) == 1 and first["stateMachines"][0]["name"] not in after

    code, message = error_of(lambda: sfn.list_state_machines(nextToken="garbage"))
    assert (code, message) == ("InvalidToken", "Invalid Token: 'garbage'")
    # A token belongs to the listing that made it.
    machine = arns[0]
    code, _ = error_of(lambda: sfn.list_executions(stateMachineArn=machine, nextToken=first["nextToken"]))
    assert code == "InvalidToken"


def test_list_executions_one_a_page(sfn):
    machine = sfn.create_state_machine(name=unique("runs"), definition=PASS, roleArn=ROLE)["stateMachineArn"]
    started = []
    for index in range(4):
        started.append(sfn.start_execution(stateMachineArn=machine, name=f"run-{index}")["executionArn"])
        time.sleep(0.01)
    for arn in started:
        assert wait_done(sfn, arn)["status"] == "SUCCEEDED"
    listed = pages(sfn.list_executions, stateMachineArn=machine)
    assert len(listed) == 4 and all(len(page["executions"]) == 1 for page in listed)
    assert "nextToken" not in listed[-1]
    seen = [page["executions"][0] for page in listed]
    assert [item["executionArn"] for item in seen] == list(reversed(started))  # newest first
    assert seen[0]["executionArn"] == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine.rsplit(':', 1)[1]}:run-3"
    starts = [item["startDate"] for item in seen]
    assert starts == sorted(starts, reverse=True)
    # The filters page too.
    succeeded = pages(sfn.list_executions, stateMachineArn=machine, statusFilter="SUCCEEDED")
    assert sum(len(page["executions"]) for page in succeeded) == 4
    assert pages(sfn.list_executions, stateMachineArn=machine, statusFilter="FAILED")[0]["executions"] == []
    code, message = error_of(lambda: sfn.list_executions(stateMachineArn=machine, nextToken="not-a-token"))
    assert (code, message) == ("InvalidToken", "Invalid Token: 'not-a-token'")


def test_execution_history_one_a_page(sfn):
    machine = sfn.create_state_machine(name=unique("hist"), definition=PASS, roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input='{"a": 1}')["executionArn"]
    assert wait_done(sfn, arn)["status"] == "SUCCEEDED"
    whole = sfn.get_execution_history(executionArn=arn)["events"]
    assert [event["id"] for event in whole] == list(range(1, len(whole) + 1))
    assert whole[0]["type"] == "ExecutionStarted" and whole[-1]["type"] == "ExecutionSucceeded"
    forward = [page["events"][0] for page in pages(sfn.get_execution_history, executionArn=arn)]
    assert [(e["id"], e["type"]) for e in forward] == [(e["id"], e["type"]) for e in whole]
    backward = [page["events"][0] for page in pages(sfn.get_execution_history, executionArn=arn, reverseOrder=True)]
    assert [(e["id"], e["type"]) for e in backward] == [(e["id"], e["type"]) for e in reversed(whole)]
    assert [e["previousEventId"] for e in forward] == [e["id"] - 1 for e in forward]


def test_tags_at_creation_and_after_delete(sfn):
    name = unique("tagged")
    arn = sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE, tags=[
        {"key": "team", "value": "ml"}, {"key": "env", "value": "dev"}])["stateMachineArn"]
    assert as_pairs(sfn.list_tags_for_resource(resourceArn=arn)["tags"]) == [("env", "dev"), ("team", "ml")]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "prod"}])
    assert as_pairs(sfn.list_tags_for_resource(resourceArn=arn)["tags"]) == [("env", "prod"), ("team", "ml")]

    sfn.delete_state_machine(stateMachineArn=arn)
    code, message = error_of(lambda: sfn.list_tags_for_resource(resourceArn=arn))
    assert (code, message) == ("ResourceNotFound", f"Resource not found: '{arn}'")
    # Deleting what is not there succeeds.
    sfn.delete_state_machine(stateMachineArn=arn)
    again = sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE)["stateMachineArn"]
    assert again == arn
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_tag_limit_and_scope(sfn, gateway):
    name = unique("many")
    code, message = error_of(lambda: sfn.create_state_machine(
        name=name, definition=PASS, roleArn=ROLE, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)]))
    assert (code, message) == ("TooManyTags", "The number of tags exceeds the limit of 50.")
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    code, _ = error_of(lambda: sfn.describe_state_machine(stateMachineArn=arn))
    assert code == "StateMachineDoesNotExist"  # nothing was created

    arn = sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE,
                                   tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])["stateMachineArn"]
    code, message = error_of(lambda: sfn.tag_resource(resourceArn=arn, tags=[{"key": "one-more", "value": "v"}]))
    assert (code, message) == ("TooManyTags", "The number of tags exceeds the limit of 50.")
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "k0", "value": "changed"}])  # a key it has: still 50
    assert len(sfn.list_tags_for_resource(resourceArn=arn)["tags"]) == 50

    code, message = error_of(lambda: sfn.list_tags_for_resource(resourceArn="not-an-arn"))
    assert (code, message) == ("InvalidArn", "Invalid Arn: 'not-an-arn'")
    # Another region sees neither the state machine nor its tags.
    elsewhere = gateway.client("stepfunctions", region="eu-north-1")
    assert error_of(lambda: elsewhere.list_tags_for_resource(resourceArn=arn))[0] == "ResourceNotFound"
    assert error_of(lambda: elsewhere.describe_state_machine(stateMachineArn=arn))[0] == "StateMachineDoesNotExist"
    elsewhere.delete_state_machine(stateMachineArn=arn)  # not its machine: nothing happens
    assert len(sfn.list_tags_for_resource(resourceArn=arn)["tags"]) == 50


def test_unknown_task_token_and_arns(sfn):
    code, message = error_of(lambda: sfn.send_task_heartbeat(taskToken="no-such-token"))
    assert (code, message) == ("InvalidToken", "Invalid Token: the task token is not valid")
    bad = f"arn:aws:states:{REGION}:{ACCOUNT}:activity:x"
    code, message = error_of(lambda: sfn.describe_state_machine(stateMachineArn=bad))
    assert (code, message) == ("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {bad}'")
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:none:none"
    code, message = error_of(lambda: sfn.describe_execution(executionArn=missing))
    assert (code, message) == ("ExecutionDoesNotExist", f"Execution Does Not Exist: '{missing}'")


@pytest.mark.slow
def test_separate_worker_runs_executions(tmp_path):
    """`aigate serve --no-worker` accepts a StartExecution and enqueues it on the `stepfunctions` queue; an
    `aigate worker --queues stepfunctions` sharing the database runs it."""
    gateway = GatewayProcess(tmp_path / "data", env={"AIGATE_RUN_WORKERS": "false"}).start()
    worker = subprocess.Popen([*AIGATE, "worker", "--queues", "stepfunctions", "--data-dir", str(tmp_path / "data")],
                              cwd=ROOT, env=gateway.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sfn = gateway.client("stepfunctions", region=REGION)
        machine = sfn.create_state_machine(name=unique("queued"), roleArn=ROLE, definition=json.dumps({
            "StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                                         "P": {"Type": "Pass", "Result": "done", "End": True}}}))["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        described = wait_done(sfn, arn, timeout=60)
        assert described["status"] == "SUCCEEDED" and described["output"] == '"done"', described
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
        gateway.stop()
    assert worker.returncode == 0, worker.stderr.read().decode()[-2000:]
