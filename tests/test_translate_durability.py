"""A translation job killed with its gateway mid-way resumes after the restart: every document is translated
exactly once into every target language, none lost (local blob store, SQLite)."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.conftest import GatewayProcess
from tests.helpers import TRANSLATE_ROLE as ROLE
from tests.helpers import poll

pytestmark = pytest.mark.slow

FILES = 150
DOCUMENT = ("The committee will publish its annual report on renewable energy next Tuesday. "
            "The children are playing in the park with their dog. ") * 30


def test_killed_translation_job_resumes(tmp_path):
    gateway = GatewayProcess(tmp_path / "data").start()
    try:
        with requests.Session() as session:
            for index in range(FILES):
                response = session.put(f"{gateway.url}/v1/blobs/durable/in/{index:04}.txt",
                                       data=f"Document {index}. {DOCUMENT}".encode(), timeout=10)
                assert response.status_code == 200
        translate = gateway.client("translate")
        job_id = translate.start_text_translation_job(
            JobName="survives-kill", InputDataConfig={"S3Uri": "s3://durable/in/", "ContentType": "text/plain"},
            OutputDataConfig={"S3Uri": "s3://durable/out/"}, DataAccessRoleArn=ROLE, SourceLanguageCode="en",
            TargetLanguageCodes=["es", "ca"], ClientToken=uuid.uuid4().hex)["JobId"]
        # No timeout error here: the assertion below judges the last record.
        record = poll(lambda: requests.get(f"{gateway.url}/v1/jobs/{job_id}", timeout=10).json(),
                      lambda record: record["Status"] == "IN_PROGRESS" and record["Progress"] >= 0.1,
                      timeout=180, interval=0.05, raise_on_timeout=False)
        assert 0.1 <= record["Progress"] < 0.9, f"job too fast to interrupt: {record}"
        gateway.kill()

        gateway.start()
        translate = gateway.client("translate")
        props = poll(lambda: translate.describe_text_translation_job(JobId=job_id)["TextTranslationJobProperties"],
                     lambda props: props["JobStatus"] not in ("SUBMITTED", "IN_PROGRESS"), timeout=300, interval=0.3,
                     what=f"translation job {job_id} to end after the restart")
        assert props["JobStatus"] == "COMPLETED", props
        assert props["JobDetails"] == {"TranslatedDocumentsCount": FILES, "DocumentsWithErrorsCount": 0,
                                       "InputDocumentsCount": FILES}
        folder = tmp_path / "data" / "blobs" / "000000000000" / "durable" / "out" / \
            f"000000000000-TranslateText-{job_id}"
        for target in ("es", "ca"):
            outputs = sorted(folder.glob(f"{target}.*.txt"))
            assert len(outputs) == FILES
            assert all(path.read_text().startswith("Document") for path in outputs[:5])
        assert "perro" in (folder / "es.0007.txt").read_text()
    finally:
        gateway.stop()
