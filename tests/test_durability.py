"""A job accepted is never lost: killed mid-job, queued while no worker runs, or run by a separate worker."""

from __future__ import annotations

import io
import subprocess
import tarfile
import time

import pytest
import requests

from tests.conftest import AIGATE, ROOT, GatewayProcess
from tests.helpers import COMPREHEND_ROLE as ROLE
from tests.helpers import SENTENCES, poll, wait_for_language_job

pytestmark = pytest.mark.slow

FILES = 2000
# ~16 KB per document so the job runs for seconds, long enough to be killed in the middle.
DOCUMENT = (SENTENCES["en"] + " ") * 180


def upload(gateway: GatewayProcess, bucket: str, prefix: str, count: int, text: str) -> None:
    with requests.Session() as session:
        for index in range(count):
            response = session.put(f"{gateway.url}/v1/blobs/{bucket}/{prefix}/{index:05}.txt", data=text.encode(),
                                   timeout=10)
            assert response.status_code == 200


def job_record(gateway: GatewayProcess, job_id: str) -> dict:
    return requests.get(f"{gateway.url}/v1/jobs/{job_id}", timeout=10).json()


def output_lines(gateway: GatewayProcess, uri: str) -> list[str]:
    data = requests.get(f"{gateway.url}/v1/blobs/{uri[len('s3://'):]}", timeout=30).content
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return archive.extractfile("output").read().decode().splitlines()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_killed_mid_job_resumes_where_it_stopped(tmp_path, request, database):
    env = {"AIGATE_DATABASE_URL": request.getfixturevalue("postgres").url} if database == "postgresql" else {}
    gateway = GatewayProcess(tmp_path / "data", env=env).start()
    try:
        upload(gateway, "durable", "in", FILES, DOCUMENT)
        comprehend = gateway.client("comprehend")
        job_id = comprehend.start_dominant_language_detection_job(
            InputDataConfig={"S3Uri": "s3://durable/in/"}, OutputDataConfig={"S3Uri": "s3://durable/out"},
            DataAccessRoleArn=ROLE, JobName="survives-kill")["JobId"]

        # No timeout error here: the assertion below judges the last record.
        record = poll(lambda: job_record(gateway, job_id),
                      lambda record: record["Status"] == "IN_PROGRESS" and 0.1 <= record["Progress"],
                      timeout=120, interval=0.05, raise_on_timeout=False)
        progress = record["Progress"]
        assert 0.1 <= progress < 0.9, f"job too fast to interrupt: {record}"
        gateway.kill()

        gateway.start()
        comprehend = gateway.client("comprehend")
        # Resumed from its checkpoints, not from the start: progress never falls back.
        seen = []

        def observe() -> dict:
            record = job_record(gateway, job_id)
            seen.append(record["Progress"])
            return record

        record = poll(observe, lambda record: record["Status"] != "IN_PROGRESS", timeout=180, interval=0.05,
                      what=f"job {job_id} to leave IN_PROGRESS after the restart")
        assert record["Status"] == "COMPLETED", record
        assert min(seen) >= progress - 1e-9, (progress, seen[:5])

        props = wait_for_language_job(comprehend, job_id)
        lines = output_lines(gateway, props["OutputDataConfig"]["S3Uri"])
        files = [line.split('"File":"')[1].split('"')[0] for line in lines]
        assert sorted(files) == [f"{index:05}.txt" for index in range(FILES)]  # every document exactly once
        assert all('"LanguageCode":"en"' in line for line in lines)
    finally:
        gateway.stop()


def test_queued_job_runs_after_restart(tmp_path):
    """Accepted while this process runs no workers; the next start with workers completes it."""
    idle = GatewayProcess(tmp_path / "data", env={"AIGATE_RUN_WORKERS": "false"}).start()
    try:
        upload(idle, "queued", "in", 3, SENTENCES["es"])
        job_id = idle.client("comprehend").start_dominant_language_detection_job(
            InputDataConfig={"S3Uri": "s3://queued/in/"}, OutputDataConfig={"S3Uri": "s3://queued/out"},
            DataAccessRoleArn=ROLE)["JobId"]
        time.sleep(1.5)
        assert job_record(idle, job_id)["Status"] == "SUBMITTED"
    finally:
        idle.kill()

    working = GatewayProcess(tmp_path / "data", port=idle.port).start()
    try:
        props = wait_for_language_job(working.client("comprehend"), job_id, timeout=60)
        assert props["JobStatus"] == "COMPLETED", props
        assert len(output_lines(working, props["OutputDataConfig"]["S3Uri"])) == 3
    finally:
        working.stop()


def test_separate_worker_process_runs_jobs(tmp_path):
    """`aigate serve --no-worker` accepts; `aigate worker` runs, sharing the database."""
    gateway = GatewayProcess(tmp_path / "data", env={"AIGATE_RUN_WORKERS": "false"}).start()
    worker = subprocess.Popen([*AIGATE, "worker", "--queues", "comprehend", "--data-dir", str(tmp_path / "data")],
                              cwd=ROOT, env=gateway.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        upload(gateway, "split", "in", 4, SENTENCES["it"])
        comprehend = gateway.client("comprehend")
        job_id = comprehend.start_dominant_language_detection_job(
            InputDataConfig={"S3Uri": "s3://split/in/"}, OutputDataConfig={"S3Uri": "s3://split/out"},
            DataAccessRoleArn=ROLE)["JobId"]
        props = wait_for_language_job(comprehend, job_id, timeout=60)
        assert props["JobStatus"] == "COMPLETED", props
        assert len(output_lines(gateway, props["OutputDataConfig"]["S3Uri"])) == 4
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
        gateway.stop()
    assert worker.returncode == 0, worker.stderr.read().decode()[-2000:]


def test_queue_concurrency_limit(tmp_path):
    """AIGATE_QUEUE_CONCURRENCY caps the jobs of a queue that one process runs at once."""
    gateway = GatewayProcess(tmp_path / "data", env={"AIGATE_QUEUE_CONCURRENCY": '{"comprehend": 1}'}).start()
    try:
        upload(gateway, "limited", "in", 150, DOCUMENT)
        comprehend = gateway.client("comprehend")
        ids = [comprehend.start_dominant_language_detection_job(
            InputDataConfig={"S3Uri": "s3://limited/in/"}, OutputDataConfig={"S3Uri": "s3://limited/out"},
            DataAccessRoleArn=ROLE)["JobId"] for _ in range(3)]
        most_running = 0

        def observe() -> list[str]:
            nonlocal most_running
            states = [job_record(gateway, job_id)["Status"] for job_id in ids]
            most_running = max(most_running, states.count("IN_PROGRESS"))
            return states

        states = poll(observe, lambda states: all(state == "COMPLETED" for state in states), timeout=180,
                      interval=0.02, what="the three jobs to complete")
        assert states == ["COMPLETED"] * 3
        assert most_running == 1
    finally:
        gateway.stop()
