"""Comprehend's dominant-language operations, sync and async, through unmodified boto3 and plain HTTP."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid

import pytest
import requests

from tests.helpers import COMPREHEND_ROLE as ROLE
from tests.helpers import SENTENCES, wait_for_language_job


def read_output(s3, uri: str) -> list[dict]:
    bucket, key = uri[len("s3://"):].split("/", 1)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        assert archive.getnames() == ["output"]
        text = archive.extractfile("output").read().decode()
    return [json.loads(line) for line in text.splitlines() if line]


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_detect_dominant_language(comprehend, code):
    languages = comprehend.detect_dominant_language(Text=SENTENCES[code])["Languages"]
    assert languages[0]["LanguageCode"] == code
    assert 0.5 < languages[0]["Score"] <= 1.0
    scores = [item["Score"] for item in languages]
    assert scores == sorted(scores, reverse=True)


def test_batch_detect_dominant_language(comprehend):
    codes = ["en", "fr", "de", "ja"]
    oversized = "mot " * 30_000
    result = comprehend.batch_detect_dominant_language(TextList=[SENTENCES[c] for c in codes[:2]] + [oversized]
                                                       + [SENTENCES[c] for c in codes[2:]])
    found = {item["Index"]: item["Languages"][0]["LanguageCode"] for item in result["ResultList"]}
    assert found == {0: "en", 1: "fr", 3: "de", 4: "ja"}
    assert result["ErrorList"] == [{"Index": 2, "ErrorCode": "TEXT_SIZE_LIMIT_EXCEEDED",
                                    "ErrorMessage": "Document size 120000 bytes exceeds the limit of 100000 bytes"}]


def test_batch_size_limit(comprehend):
    with pytest.raises(comprehend.exceptions.BatchSizeLimitExceededException):
        comprehend.batch_detect_dominant_language(TextList=[SENTENCES["en"]] * 26)


def test_native_rest(gateway):
    response = requests.post(f"{gateway.url}/v1/comprehend/DetectDominantLanguage",
                             json={"Text": SENTENCES["es"]}, timeout=30)
    assert response.status_code == 200
    assert response.json()["Languages"][0]["LanguageCode"] == "es"
    bad = requests.post(f"{gateway.url}/v1/comprehend/DetectDominantLanguage", json={"Text": ""}, timeout=30)
    assert bad.status_code == 400 and bad.json()["__type"] == "ValidationException"
    missing = requests.post(f"{gateway.url}/v1/comprehend/DetectDancing", json={}, timeout=30)
    assert missing.status_code == 404 and missing.json()["__type"] == "UnknownOperationException"


def test_language_job_one_doc_per_file(comprehend, s3, bucket):
    for code, text in SENTENCES.items():
        s3.put_object(Bucket=bucket, Key=f"input/docs/{code}.txt", Body=text.encode())
    s3.put_object(Bucket=bucket, Key="input/docs/latin1.txt", Body="caf\xe9".encode("latin-1"))
    started = comprehend.start_dominant_language_detection_job(
        InputDataConfig={"S3Uri": f"s3://{bucket}/input/docs/", "InputFormat": "ONE_DOC_PER_FILE"},
        OutputDataConfig={"S3Uri": f"s3://{bucket}/output"}, DataAccessRoleArn=ROLE, JobName="languages-1")
    assert started["JobStatus"] in ("SUBMITTED", "IN_PROGRESS")
    assert started["JobArn"].endswith(f":dominant-language-detection-job/{started['JobId']}")

    props = wait_for_language_job(comprehend, started["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    assert props["JobName"] == "languages-1"
    assert props["EndTime"] >= props["SubmitTime"]
    expected_uri = f"s3://{bucket}/output/123456789012-LANGUAGE-{started['JobId']}/output/output.tar.gz".replace(
        "123456789012", "000000000000")
    assert props["OutputDataConfig"]["S3Uri"] == expected_uri

    lines = read_output(s3, expected_uri)
    by_file = {line["File"]: line for line in lines}
    assert set(by_file) == {f"{code}.txt" for code in SENTENCES} | {"latin1.txt"}
    for code in SENTENCES:
        assert by_file[f"{code}.txt"]["Languages"][0]["LanguageCode"] == code
    assert by_file["latin1.txt"]["ErrorCode"] == "INVALID_ENCODING"


def test_language_job_one_doc_per_line(comprehend, s3, bucket):
    body = "\n".join(SENTENCES[c] for c in ("en", "fr", "de")).encode()
    s3.put_object(Bucket=bucket, Key="in/lines.txt", Body=body)
    started = comprehend.start_dominant_language_detection_job(
        InputDataConfig={"S3Uri": f"s3://{bucket}/in/lines.txt", "InputFormat": "ONE_DOC_PER_LINE"},
        OutputDataConfig={"S3Uri": f"s3://{bucket}/out/"}, DataAccessRoleArn=ROLE)
    props = wait_for_language_job(comprehend, started["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    lines = read_output(s3, props["OutputDataConfig"]["S3Uri"])
    assert [(line["File"], line["Line"], line["Languages"][0]["LanguageCode"]) for line in lines] == [
        ("lines.txt", 0, "en"), ("lines.txt", 1, "fr"), ("lines.txt", 2, "de")]


def test_job_with_missing_input_fails_with_reason(comprehend, bucket):
    started = comprehend.start_dominant_language_detection_job(
        InputDataConfig={"S3Uri": f"s3://{bucket}/nothing-here/"}, OutputDataConfig={"S3Uri": f"s3://{bucket}/out"},
        DataAccessRoleArn=ROLE)
    props = wait_for_language_job(comprehend, started["JobId"])
    assert props["JobStatus"] == "FAILED"
    assert "no documents" in props["Message"]

    started = comprehend.start_dominant_language_detection_job(
        InputDataConfig={"S3Uri": "s3://no-such-bucket-anywhere/in/"}, OutputDataConfig={"S3Uri": f"s3://{bucket}/out"},
        DataAccessRoleArn=ROLE)
    props = wait_for_language_job(comprehend, started["JobId"])
    assert props["JobStatus"] == "FAILED"
    assert props["Message"].startswith("NO_READ_ACCESS_TO_INPUT")


def test_client_request_token_is_idempotent(comprehend, s3, bucket):
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=SENTENCES["en"].encode())
    args = dict(InputDataConfig={"S3Uri": f"s3://{bucket}/in/"}, OutputDataConfig={"S3Uri": f"s3://{bucket}/out"},
                DataAccessRoleArn=ROLE, ClientRequestToken="same-token-1")
    first = comprehend.start_dominant_language_detection_job(**args)
    again = comprehend.start_dominant_language_detection_job(**args)
    assert first["JobId"] == again["JobId"]
    with pytest.raises(comprehend.exceptions.ClientError) as caught:
        comprehend.start_dominant_language_detection_job(**{**args, "JobName": "different"})
    assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"


def test_list_jobs_filters_and_pagination(comprehend, s3, bucket):
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=SENTENCES["it"].encode())
    name = f"listing-{uuid.uuid4().hex[:8]}"
    ids = [comprehend.start_dominant_language_detection_job(
        InputDataConfig={"S3Uri": f"s3://{bucket}/in/"}, OutputDataConfig={"S3Uri": f"s3://{bucket}/out"},
        DataAccessRoleArn=ROLE, JobName=name)["JobId"] for _ in range(5)]
    for job_id in ids:
        wait_for_language_job(comprehend, job_id)

    seen, token, pages = [], None, 0
    while True:
        kwargs = {"Filter": {"JobName": name}, "MaxResults": 2, **({"NextToken": token} if token else {})}
        page = comprehend.list_dominant_language_detection_jobs(**kwargs)
        seen += [job["JobId"] for job in page["DominantLanguageDetectionJobPropertiesList"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids) and pages == 3

    paginator = comprehend.get_paginator("list_dominant_language_detection_jobs")
    listed = [job["JobId"] for page in paginator.paginate(Filter={"JobName": name, "JobStatus": "COMPLETED"},
                                                            PaginationConfig={"PageSize": 2})
              for job in page["DominantLanguageDetectionJobPropertiesList"]]
    assert sorted(listed) == sorted(ids)
    assert comprehend.list_dominant_language_detection_jobs(
        Filter={"JobName": name, "JobStatus": "FAILED"})["DominantLanguageDetectionJobPropertiesList"] == []
    future = comprehend.list_dominant_language_detection_jobs(
        Filter={"JobName": name, "SubmitTimeAfter": time.time() + 3600})
    assert future["DominantLanguageDetectionJobPropertiesList"] == []


def test_describe_and_stop_unknown_job(comprehend):
    with pytest.raises(comprehend.exceptions.JobNotFoundException):
        comprehend.describe_dominant_language_detection_job(JobId="0" * 32)
    with pytest.raises(comprehend.exceptions.JobNotFoundException):
        comprehend.stop_dominant_language_detection_job(JobId="0" * 32)


def test_stop_job(comprehend, s3, bucket):
    for index in range(120):
        s3.put_object(Bucket=bucket, Key=f"many/{index:04}.txt", Body=SENTENCES["nl"].encode())
    started = comprehend.start_dominant_language_detection_job(
        InputDataConfig={"S3Uri": f"s3://{bucket}/many/"}, OutputDataConfig={"S3Uri": f"s3://{bucket}/out"},
        DataAccessRoleArn=ROLE)
    try:
        stopped = comprehend.stop_dominant_language_detection_job(JobId=started["JobId"])
    except comprehend.exceptions.InvalidRequestException:
        # The job finished before the stop arrived; AWS refuses to stop an ended job.
        assert wait_for_language_job(comprehend, started["JobId"])["JobStatus"] == "COMPLETED"
        return
    assert stopped["JobStatus"] in ("STOP_REQUESTED", "STOPPED")
    props = wait_for_language_job(comprehend, started["JobId"])
    # Runners check for a stop after every batch, the last one included.
    assert props["JobStatus"] == "STOPPED"
    assert props["Message"]
