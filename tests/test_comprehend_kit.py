"""Comprehend on the service kit, through unmodified boto3: one pagination (keyset tokens, Comprehend's
InvalidRequestException "Invalid NextToken."), the job API's filters, idempotency and scoping, and one tag store
whose existence check asks the jobs, models and endpoints (another service's, account's or region's ARN, or a
deleted resource's, is not found)."""

from __future__ import annotations

import csv
import io
import time
import uuid

import pytest
from botocore.config import Config

from tests.helpers import make_bucket, unique

ROLE = "arn:aws:iam::123456789012:role/comprehend-access"


def client(gateway, region: str = "us-east-1"):
    import boto3

    return boto3.client("comprehend", endpoint_url=gateway.url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}, read_timeout=600))


@pytest.fixture(scope="module")
def cp(gateway):
    return client(gateway)


@pytest.fixture
def kit_bucket(s3) -> str:
    return make_bucket(s3, unique("comprehend-kit", 12))


def job_args(bucket: str) -> dict:
    return dict(InputDataConfig={"S3Uri": f"s3://{bucket}/in/"}, OutputDataConfig={"S3Uri": f"s3://{bucket}/out/"},
                DataAccessRoleArn=ROLE)


def error_of(excinfo) -> tuple[str, str]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


# ---------------------------------------------------------------- paging


def test_job_list_pages_and_bad_tokens(cp, kit_bucket):
    # (No input objects: the jobs fail at once with INPUT_NOT_FOUND; listing is what this test reads.)
    name = f"paged-{uuid.uuid4().hex[:8]}"
    ids = [cp.start_sentiment_detection_job(**job_args(kit_bucket), LanguageCode="en", JobName=name)["JobId"]
           for _ in range(2)]
    first = cp.list_sentiment_detection_jobs(Filter={"JobName": name}, MaxResults=1)
    assert len(first["SentimentDetectionJobPropertiesList"]) == 1 and first.get("NextToken")
    second = cp.list_sentiment_detection_jobs(Filter={"JobName": name}, MaxResults=1, NextToken=first["NextToken"])
    assert len(second["SentimentDetectionJobPropertiesList"]) == 1 and "NextToken" not in second
    listed = [page["SentimentDetectionJobPropertiesList"][0]["JobId"] for page in (first, second)]
    assert listed == list(reversed(ids))  # newest first, no repeats

    # boto3's paginator walks the same pages.
    pages = cp.get_paginator("list_sentiment_detection_jobs").paginate(
        Filter={"JobName": name}, PaginationConfig={"PageSize": 1})
    assert [job["JobId"] for page in pages for job in page["SentimentDetectionJobPropertiesList"]] == listed

    with pytest.raises(cp.exceptions.InvalidRequestException) as excinfo:
        cp.list_sentiment_detection_jobs(NextToken="not-a-token")
    assert error_of(excinfo) == ("InvalidRequestException", "Invalid NextToken.")
    # A token of another listing is no token here.
    with pytest.raises(cp.exceptions.InvalidRequestException):
        cp.list_key_phrases_detection_jobs(NextToken=first["NextToken"])


def test_job_list_filters(cp, kit_bucket):
    name = f"filtered-{uuid.uuid4().hex[:8]}"
    job_id = cp.start_key_phrases_detection_job(**job_args(kit_bucket), LanguageCode="en", JobName=name)["JobId"]
    found = cp.list_key_phrases_detection_jobs(Filter={"JobName": name})["KeyPhrasesDetectionJobPropertiesList"]
    assert [job["JobId"] for job in found] == [job_id]
    later = cp.list_key_phrases_detection_jobs(Filter={"JobName": name, "SubmitTimeAfter": time.time() + 3600})
    assert later["KeyPhrasesDetectionJobPropertiesList"] == []
    for both in ({"SubmitTimeBefore": time.time(), "SubmitTimeAfter": time.time() - 60},):
        with pytest.raises(cp.exceptions.InvalidFilterException):
            cp.list_key_phrases_detection_jobs(Filter=both)
        with pytest.raises(cp.exceptions.InvalidFilterException):
            cp.list_document_classifiers(Filter=both)


def test_job_idempotency_and_scope(cp, gateway, kit_bucket):
    token = uuid.uuid4().hex
    first = cp.start_dominant_language_detection_job(**job_args(kit_bucket), ClientRequestToken=token)
    again = cp.start_dominant_language_detection_job(**job_args(kit_bucket), ClientRequestToken=token)
    assert again["JobId"] == first["JobId"] and again["JobArn"] == first["JobArn"]
    # Another region of the same account does not see the job.
    west = client(gateway, "us-west-2")
    with pytest.raises(west.exceptions.JobNotFoundException):
        west.describe_dominant_language_detection_job(JobId=first["JobId"])
    # Nor does another job type's API.
    with pytest.raises(cp.exceptions.JobNotFoundException) as excinfo:
        cp.describe_sentiment_detection_job(JobId=first["JobId"])
    assert error_of(excinfo) == ("JobNotFoundException", f"Job {first['JobId']} does not exist.")


def test_custom_model_and_endpoint_lists_page(cp, kit_bucket):
    with pytest.raises(cp.exceptions.InvalidRequestException) as excinfo:
        cp.list_document_classifiers(NextToken="garbage")
    assert error_of(excinfo) == ("InvalidRequestException", "Invalid NextToken.")
    for call in (cp.list_document_classifier_summaries, cp.list_entity_recognizers,
                 cp.list_entity_recognizer_summaries, cp.list_endpoints):
        with pytest.raises(cp.exceptions.InvalidRequestException):
            call(NextToken="garbage")


# ---------------------------------------------------------------- tags


def to_csv(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


TRAINING = [("SPORT", "The striker scored a goal in the match."), ("SPORT", "The team won the league final."),
            ("SPORT", "Our goalkeeper saved a penalty."), ("MONEY", "The bank raised interest rates."),
            ("MONEY", "Investors sold shares after the report."), ("MONEY", "Inflation worried bond traders.")]


def wait_trained(cp, arn: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        props = cp.describe_document_classifier(DocumentClassifierArn=arn)["DocumentClassifierProperties"]
        if props["Status"] in ("TRAINED", "IN_ERROR", "STOPPED"):
            return props
        time.sleep(0.3)
    raise AssertionError(f"training did not finish: {props}")


def test_tags_on_classifier_and_endpoint(cp, s3, kit_bucket):
    s3.put_object(Bucket=kit_bucket, Key="train/data.csv", Body=to_csv(TRAINING))
    name = f"tagged-{uuid.uuid4().hex[:6]}"
    arn = cp.create_document_classifier(
        DocumentClassifierName=name, DataAccessRoleArn=ROLE, LanguageCode="en",
        InputDataConfig={"S3Uri": f"s3://{kit_bucket}/train/data.csv"},
        Tags=[{"Key": "team", "Value": "nlp"}])["DocumentClassifierArn"]
    listed = cp.list_tags_for_resource(ResourceArn=arn)
    assert listed["ResourceArn"] == arn and listed["Tags"] == [{"Key": "team", "Value": "nlp"}]
    props = wait_trained(cp, arn)
    assert props["Status"] == "TRAINED", props

    endpoint = cp.create_endpoint(EndpointName=f"ep-{name}", ModelArn=arn, DesiredInferenceUnits=1,
                                  Tags=[{"Key": "stage", "Value": "test"}])["EndpointArn"]
    assert cp.list_tags_for_resource(ResourceArn=endpoint)["Tags"] == [{"Key": "stage", "Value": "test"}]
    cp.tag_resource(ResourceArn=endpoint, Tags=[{"Key": "owner", "Value": "me"}])
    cp.untag_resource(ResourceArn=endpoint, TagKeys=["stage"])
    assert cp.list_tags_for_resource(ResourceArn=endpoint)["Tags"] == [{"Key": "owner", "Value": "me"}]
    # The endpoint's ARN is not the classifier's: each has its own tags.
    assert cp.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "nlp"}]

    # Deleting a resource drops its tags; a resource made again under the same ARN starts untagged.
    cp.delete_endpoint(EndpointArn=endpoint)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_tags_for_resource(ResourceArn=endpoint)
    again = cp.create_endpoint(EndpointName=f"ep-{name}", ModelArn=arn, DesiredInferenceUnits=1)["EndpointArn"]
    assert again == endpoint and cp.list_tags_for_resource(ResourceArn=again)["Tags"] == []
    cp.delete_endpoint(EndpointArn=again)
    cp.delete_document_classifier(DocumentClassifierArn=arn)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}])


def test_tag_limit(cp, kit_bucket):
    arn = cp.start_key_phrases_detection_job(**job_args(kit_bucket), LanguageCode="en",
                                             Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(150)])["JobArn"]
    assert len(cp.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 150
    with pytest.raises(cp.exceptions.TooManyTagsException) as excinfo:
        cp.tag_resource(ResourceArn=arn, Tags=[{"Key": f"more{i}", "Value": "v"} for i in range(51)])
    assert error_of(excinfo) == ("TooManyTagsException", "A resource can have at most 200 tags.")
    cp.tag_resource(ResourceArn=arn, Tags=[{"Key": f"more{i}", "Value": "v"} for i in range(50)])
    assert len(cp.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 200
    with pytest.raises(cp.exceptions.TooManyTagsException):
        cp.start_key_phrases_detection_job(**job_args(kit_bucket), LanguageCode="en",
                                           Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(201)])


def test_tags_on_arns_that_are_not_the_callers(cp, gateway, kit_bucket):
    job = cp.start_key_phrases_detection_job(**job_args(kit_bucket), LanguageCode="en")
    arn = job["JobArn"]
    account = arn.split(":")[4]
    others = [
        arn.replace(f":{account}:", ":111122223333:"),  # another account's
        arn.replace(":us-east-1:", ":us-west-2:"),  # another region's
        arn.replace(":key-phrases-detection-job/", ":sentiment-detection-job/"),  # another job type's id
        f"arn:aws:comprehend:us-east-1:{account}:flywheel/unknown",  # a resource type the gateway doesn't have
        f"arn:aws:comprehend:us-east-1:{account}:document-classifier/never-made",
        f"arn:aws:comprehend:us-east-1:{account}:entity-recognizer-endpoint/never-made",
    ]
    for other in others:
        with pytest.raises(cp.exceptions.ResourceNotFoundException) as excinfo:
            cp.list_tags_for_resource(ResourceArn=other)
        assert error_of(excinfo) == ("ResourceNotFoundException", f"Resource {other} does not exist.")
        with pytest.raises(cp.exceptions.ResourceNotFoundException):
            cp.tag_resource(ResourceArn=other, Tags=[{"Key": "a", "Value": "b"}])
        with pytest.raises(cp.exceptions.ResourceNotFoundException):
            cp.untag_resource(ResourceArn=other, TagKeys=["a"])
    # Another service's ARN fails the model's ComprehendArn pattern before any lookup, as on AWS.
    with pytest.raises(cp.exceptions.ClientError) as excinfo:
        cp.list_tags_for_resource(ResourceArn=f"arn:aws:translate:us-east-1:{account}:terminology/mine")
    assert error_of(excinfo)[0] == "ValidationException"
    # The caller's ARN asked from another region is not the caller's there.
    west = client(gateway, "us-west-2")
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.list_tags_for_resource(ResourceArn=arn)
    assert cp.list_tags_for_resource(ResourceArn=arn)["Tags"] == []


def test_existence_check_refuses_other_services_and_accounts():
    """In-process: the Tagging's `exists` answers False for ARNs that are not Comprehend's, or not this caller's,
    without looking anything up (the wire pattern stops most of them earlier)."""
    from services.comprehend.provider import resource_exists
    from services.gateway.context import Principal

    caller = Principal("123456789012", "us-east-1")
    for arn in ("arn:aws:translate:us-east-1:123456789012:terminology/mine",
                "arn:aws:transcribe:us-east-1:123456789012:vocabulary/mine",
                "arn:aws:comprehend:us-east-1:000000000000:sentiment-detection-job/" + "0" * 32,
                "arn:aws:comprehend:eu-west-1:123456789012:document-classifier/x",
                "not-an-arn", ""):
        assert resource_exists(caller, arn) is False, arn
