"""State transitions per second: aigate's durable orchestrator (embedded defaults: SQLite, DBOS) against moto's
in-memory ASL interpreter (moto[server] with `execute_state_machine` on), side by side in one run.

Two workloads, each run as a batch of executions started back to back and awaited through the public API
(StartExecution + DescribeExecution polling, identical for both): a chain of 200 Pass states, and a Map over
1,000 items whose iterator is one Pass state. Transitions counted = states entered (+ iterations).

    .venv/bin/python bench/orchestrator.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import requests
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.s3server import free_port  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/bench"


def pass_chain(length: int) -> tuple[dict, int]:
    states = {f"S{i}": {"Type": "Pass", "Result": {"step": i}, "ResultPath": "$.last", "Next": f"S{i + 1}"}
              for i in range(length - 1)}
    states[f"S{length - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "S0", "States": states}, length


def map_items(count: int) -> tuple[dict, dict, int]:
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "Touch", "States": {"Touch": {"Type": "Pass", "Parameters": {"v.$": "$.v"},
                                                                    "End": True}}},
        "End": True}}}
    return definition, {"items": [{"v": index} for index in range(count)]}, count + 1


def wait_ready(url: str, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url + path, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def client(url: str):
    return boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench", config=Config(retries={"max_attempts": 1}))


def measure(sfn, name: str, definition: dict, value: dict, runs: int) -> float:
    """Seconds to run `runs` executions started back to back, until the last one is no longer RUNNING."""
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    text = json.dumps(value)
    # One warm-up execution (imports, caches, connection pools) outside the timing.
    warm = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=text)["executionArn"]
    await_all(sfn, [warm])
    started = time.perf_counter()
    # Names given explicitly: moto's interpreter names unnamed executions "None", so a second one collides.
    executions = [sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=text)["executionArn"]
                  for _ in range(runs)]
    statuses = await_all(sfn, executions)
    elapsed = time.perf_counter() - started
    if set(statuses) != {"SUCCEEDED"}:
        raise RuntimeError(f"{name}: executions ended {statuses}")
    return elapsed


def await_all(sfn, executions: list[str], timeout: float = 600) -> list[str]:
    deadline = time.monotonic() + timeout
    done: dict[str, str] = {}
    while len(done) < len(executions) and time.monotonic() < deadline:
        for arn in executions:
            if arn not in done:
                status = sfn.describe_execution(executionArn=arn)["status"]
                if status != "RUNNING":
                    done[arn] = status
        time.sleep(0.01)
    return [done.get(arn, "RUNNING") for arn in executions]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="aigate-bench-sfn-"))
    gw_port, moto_port = free_port(), free_port()
    env = {**os.environ, "AIGATE_LOG_LEVEL": "WARNING"}
    gateway = subprocess.Popen([sys.executable, "-m", "services.gateway.cli", "serve", "--port", str(gw_port),
                                "--data-dir", str(workdir / "data")], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=open(workdir / "gateway.log", "wb"))
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        gw_url, moto_url = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{moto_port}"
        wait_ready(gw_url, "/ready")
        wait_ready(moto_url, "/moto-api/")
        # moto's switch that makes it interpret the definitions (its default only records executions).
        requests.post(f"{moto_url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}},
                      timeout=10).raise_for_status()
        ours, theirs = client(gw_url), client(moto_url)

        chain, chain_transitions = pass_chain(200)
        mapping, map_input, map_transitions = map_items(1000)
        rows = []
        for label, definition, value, transitions in (("200-state Pass chain", chain, {}, chain_transitions),
                                                       ("Map over 1,000 items", mapping, map_input, map_transitions)):
            slug = "chain" if "chain" in label else "map"
            ours_s = measure(ours, f"bench-{slug}", definition, value, args.runs)
            theirs_s = measure(theirs, f"bench-{slug}", definition, value, args.runs)
            rows.append((label, transitions * args.runs / ours_s, transitions * args.runs / theirs_s))

        print(f"{'workload':24} {'aigate (durable)':>18} {'moto (in memory)':>18} {'ratio':>7}")
        for label, ours_rate, theirs_rate in rows:
            print(f"{label:24} {ours_rate:>14,.0f} t/s {theirs_rate:>14,.0f} t/s {ours_rate / theirs_rate:>7.2f}")
        worst = min(ours_rate / theirs_rate for _, ours_rate, theirs_rate in rows)
        print(f"orchestrator: {worst:.2f}x moto's state-transition throughput, worst workload "
              f"(goal >= 1.00)")
    finally:
        for process in (gateway, moto):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
