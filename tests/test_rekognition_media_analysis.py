"""Amazon Rekognition bulk analysis (StartMediaAnalysisJob / GetMediaAnalysisJob / ListMediaAnalysisJobs) through
boto3 against the running gateway: a manifest of real photos with bad lines among them, its results and summary
read back from S3 and checked against the developer guide's "Bulk analysis output manifests" and against
DetectModerationLabels on the same photos; the errors at Start, the failures of a job, and the listing's paging.
(A job killed with its gateway mid-way: tests/test_rekognition_durability.py.)"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.helpers import poll, unique
from tests.photos import photo_bytes

PHOTOS = ("coffee", "zidane", "bus")
MIN_CONFIDENCE = 20.0  # NudeNet's own floor: as many labels as the models give


@pytest.fixture(scope="module")
def rekognition(gateway):
    return gateway.client("rekognition", read_timeout=300)


def error_of(call, **request) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**request)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def finished(rekognition, job_id: str) -> dict:
    return poll(lambda: rekognition.get_media_analysis_job(JobId=job_id),
                lambda answer: answer["Status"] in ("SUCCEEDED", "FAILED"), timeout=120, interval=0.5,
                what=f"media analysis job {job_id}")


def start(rekognition, bucket: str, manifest: str = "manifest.jsonl", **request) -> str:
    request = {"OperationsConfig": {"DetectModerationLabels": {}}, "Input": {"S3Object": {"Bucket": bucket,
               "Name": manifest}}, "OutputConfig": {"S3Bucket": bucket, "S3KeyPrefix": "out"}, **request}
    return rekognition.start_media_analysis_job(**request)["JobId"]


def put_manifest(s3, bucket: str, lines: list[str], key: str = "manifest.jsonl") -> None:
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode() + b"\n")


def test_bulk_moderation_results_and_summary(rekognition, s3, bucket):
    for name in PHOTOS:
        s3.put_object(Bucket=bucket, Key=f"images/{name}.jpg", Body=photo_bytes(name))
    s3.put_object(Bucket=bucket, Key="images/notes.txt", Body=b"not an image at all")
    ref = lambda key: json.dumps({"source-ref": f"s3://{bucket}/images/{key}"})  # noqa: E731
    put_manifest(s3, bucket, [
        ref("coffee.jpg"),                 # 1
        "this line is not JSON",           # 2
        ref("zidane.jpg"),                 # 3
        ref("notes.txt"),                  # 4: not an image
        ref("missing.jpg"),                # 5: no such object
        json.dumps({"image": "x.jpg"}),    # 6: no source-ref
        "",                                # a blank line is no JSON line
        ref("bus.jpg"),                    # 8
        ref("coffee.jpg"),                 # 9: a duplicate is processed again (the guide)
    ])
    job_id = start(rekognition, bucket, JobName="bulk-1", ClientRequestToken="bulk-token-1",
                   OperationsConfig={"DetectModerationLabels": {"MinConfidence": MIN_CONFIDENCE}})
    assert start(rekognition, bucket, JobName="bulk-1", ClientRequestToken="bulk-token-1",
                 OperationsConfig={"DetectModerationLabels": {"MinConfidence": MIN_CONFIDENCE}}) == job_id

    job = finished(rekognition, job_id)
    assert job["Status"] == "SUCCEEDED", job
    assert job["JobId"] == job_id and job["JobName"] == "bulk-1" and "FailureDetails" not in job
    assert job["OperationsConfig"] == {"DetectModerationLabels": {"MinConfidence": MIN_CONFIDENCE}}
    assert job["Input"] == {"S3Object": {"Bucket": bucket, "Name": "manifest.jsonl"}}
    assert job["OutputConfig"] == {"S3Bucket": bucket, "S3KeyPrefix": "out"}
    assert job["CreationTimestamp"] <= job["CompletionTimestamp"]
    assert job["Results"] == {"S3Object": {"Bucket": bucket, "Name": f"out/{job_id}/results.jsonl"},
                              "ModelVersions": {"Moderation": "7.0"}}
    assert job["ManifestSummary"] == {"S3Object": {"Bucket": bucket, "Name": f"out/{job_id}/manifest-summary.json"}}

    body = s3.get_object(Bucket=bucket, Key=job["Results"]["S3Object"]["Name"])["Body"].read().decode()
    results = [json.loads(line) for line in body.splitlines()]
    expected_refs = [f"s3://{bucket}/images/{name}.jpg" for name in ("coffee", "zidane", "bus", "coffee")]
    assert [line["source-ref"] for line in results] == expected_refs  # manifest order, valid lines only
    for line in results:
        assert set(line) == {"source-ref", "detect-moderation-labels"}
        name = line["source-ref"].rsplit("/", 1)[1].removesuffix(".jpg")
        direct = rekognition.detect_moderation_labels(Image={"Bytes": photo_bytes(name)},
                                                      MinConfidence=MIN_CONFIDENCE)
        assert line["detect-moderation-labels"] == {"ModerationLabels": direct["ModerationLabels"],
                                                    "ModerationModelVersion": direct["ModerationModelVersion"]}
        for label in line["detect-moderation-labels"]["ModerationLabels"]:
            assert label["Confidence"] >= MIN_CONFIDENCE and set(label) == {"Confidence", "Name", "ParentName",
                                                                             "TaxonomyLevel"}

    summary = json.loads(s3.get_object(Bucket=bucket, Key=job["ManifestSummary"]["S3Object"]["Name"])["Body"].read())
    assert summary["version"] == "1.0"
    assert summary["statistics"] == {"total-json-lines": 8, "valid-json-lines": 4, "invalid-json-lines": 4}
    assert summary["errors"] == [
        {"line-numer": 2, "code": "InvalidManifestException", "message": "The JSON line is not valid JSON."},
        {"line-numer": 4, "source-ref": f"s3://{bucket}/images/notes.txt", "code": "InvalidImageFormatException",
         "message": "Request has invalid image format"},
        {"line-numer": 5, "source-ref": f"s3://{bucket}/images/missing.jpg", "code": "InvalidS3ObjectException",
         "message": "Unable to get object metadata from S3. Check object key, region and/or access permissions."},
        {"line-numer": 6, "code": "InvalidManifestException", "message": "The JSON line has no source-ref."},
    ]


def test_refused_at_start(rekognition, s3, bucket):
    assert error_of(rekognition.start_media_analysis_job, OperationsConfig={"DetectModerationLabels": {}},
                    Input={"S3Object": {"Bucket": bucket, "Name": "nothing.jsonl"}},
                    OutputConfig={"S3Bucket": bucket}) == (
        "InvalidS3ObjectException",
        "Unable to get object metadata from S3. Check object key, region and/or access permissions.")
    s3.put_object(Bucket=bucket, Key="empty.jsonl", Body=b"\n\n")
    assert error_of(lambda **r: start(rekognition, bucket, "empty.jsonl", **r)) == (
        "InvalidManifestException", "The manifest file is empty.")
    put_manifest(s3, bucket, [json.dumps({"source-ref": f"s3://{bucket}/a.jpg"})] * 10_001, "big.jsonl")
    assert error_of(lambda **r: start(rekognition, bucket, "big.jsonl", **r)) == (
        "InvalidManifestException", "The manifest file has more than the allowed limit of 10000 JSON lines.")

    put_manifest(s3, bucket, [json.dumps({"source-ref": f"s3://{bucket}/a.jpg"})])
    adapter = "arn:aws:rekognition:us-east-1:000000000000:project/p/version/v/1"
    code, message = error_of(lambda **r: start(rekognition, bucket, **r),
                             OperationsConfig={"DetectModerationLabels": {"ProjectVersion": adapter}})
    assert code == "NotImplementedException" and "ProjectVersion" in message
    code, _ = error_of(lambda **r: start(rekognition, bucket, **r), OperationsConfig={})
    assert code == "InvalidParameterException"
    code, _ = error_of(lambda **r: start(rekognition, bucket, **r),
                       OperationsConfig={"DetectModerationLabels": {"MinConfidence": 101}})
    assert code == "ValidationException"


def test_failed_job_and_unknown_job(rekognition, s3, bucket):
    put_manifest(s3, bucket, [json.dumps({"source-ref": f"s3://{bucket}/a.jpg"})])
    job_id = start(rekognition, bucket, OutputConfig={"S3Bucket": unique("no-such-bucket", 12)})
    job = finished(rekognition, job_id)
    assert job["Status"] == "FAILED" and "Results" not in job and "ManifestSummary" not in job
    assert job["FailureDetails"] == {
        "Code": "INVALID_OUTPUT_CONFIG",
        "Message": "Unable to write to the output location. Check that OutputConfig.S3Bucket exists and is writable."}

    assert error_of(rekognition.get_media_analysis_job, JobId="0123abcd") == (
        "ResourceNotFoundException", "The job id: 0123abcd does not exist")


def test_list_pages_newest_first(rekognition, s3, bucket):
    put_manifest(s3, bucket, [json.dumps({"source-ref": f"s3://{bucket}/a.jpg"})])  # a.jpg missing: one error
    started = [start(rekognition, bucket, JobName=f"list-{n}") for n in range(3)]
    jobs, token = [], None
    while True:
        page = rekognition.list_media_analysis_jobs(MaxResults=1, **({"NextToken": token} if token else {}))
        assert len(page["MediaAnalysisJobs"]) <= 1
        jobs += page["MediaAnalysisJobs"]
        token = page.get("NextToken")
        if not token:
            break
    ids = [job["JobId"] for job in jobs]
    assert [job_id for job_id in ids if job_id in started] == started[::-1]
    stamps = [job["CreationTimestamp"] for job in jobs]
    assert stamps == sorted(stamps, reverse=True)
    listed = next(job for job in jobs if job["JobId"] == started[0])
    assert listed["JobName"] == "list-0" and listed["Status"] in ("QUEUED", "IN_PROGRESS", "SUCCEEDED")
    assert listed["Input"] == {"S3Object": {"Bucket": bucket, "Name": "manifest.jsonl"}}
    assert len(rekognition.list_media_analysis_jobs()["MediaAnalysisJobs"]) == len(jobs)  # default page: 100

    assert error_of(rekognition.list_media_analysis_jobs, MaxResults=101)[0] == "ValidationException"
    assert error_of(rekognition.list_media_analysis_jobs, NextToken="not-a-token") == (
        "InvalidPaginationTokenException", "Invalid pagination token")
    for job_id in started:  # each ends SUCCEEDED: the missing image is the summary's error, not the job's
        job = finished(rekognition, job_id)
        assert job["Status"] == "SUCCEEDED", job

