"""The AWS wire protocol as clients see it: routing, validation and errors, through boto3 and plain HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.exceptions import ClientError

TARGET = "Comprehend_20171127.DetectDominantLanguage"
JSON_11 = "application/x-amz-json-1.1"


def post(gateway, target: str | None, body: bytes | str, headers: dict | None = None) -> requests.Response:
    all_headers = {"Content-Type": JSON_11, **(headers or {})}
    if target:
        all_headers["X-Amz-Target"] = target
    return requests.post(gateway.url + "/", data=body, headers=all_headers, timeout=30)


def unvalidated(gateway, service: str):
    """A boto3 client that sends what it is given, so the gateway's own validation answers."""
    return gateway.client(service, parameter_validation=False)


def error_of(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    assert response.headers["x-amzn-ErrorType"] == body["__type"]
    assert response.headers["x-amzn-RequestId"]
    return response.status_code, body["__type"], body["message"]


def test_malformed_json(gateway):
    status, code, message = error_of(post(gateway, TARGET, b'{"Text": "hello'))
    assert (status, code) == (400, "SerializationException")
    assert "Malformed JSON" in message


def test_body_not_an_object(gateway):
    assert error_of(post(gateway, TARGET, b'["Text"]'))[:2] == (400, "SerializationException")


def test_missing_member_is_validation_exception(gateway):
    status, code, message = error_of(post(gateway, TARGET, b"{}"))
    assert (status, code) == (400, "ValidationException")
    assert message == ("1 validation error detected: Value null at 'text' failed to satisfy constraint: "
                       "Member must not be null")


def test_wrong_type_is_serialization_exception(gateway):
    status, code, message = error_of(post(gateway, TARGET, b'{"Text": 42}'))
    assert (status, code) == (400, "SerializationException")
    assert "'text'" in message


def test_constraints_through_boto3(gateway):
    client = unvalidated(gateway, "comprehend")
    with pytest.raises(ClientError) as caught:
        client.list_dominant_language_detection_jobs(MaxResults=0, Filter={"JobStatus": "DANCING"})
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("2 validation errors detected: ")
    assert "Value '0' at 'maxResults'" not in error["Message"]  # numbers are not quoted
    assert "Value 0 at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1" in error["Message"]
    assert "Value 'DANCING' at 'filter.jobStatus' failed to satisfy constraint: Member must satisfy enum value set" in error["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_sensitive_values_are_not_echoed(gateway):
    client = unvalidated(gateway, "comprehend")
    with pytest.raises(ClientError) as caught:
        client.detect_dominant_language(Text="")
    message = caught.value.response["Error"]["Message"]
    assert "Value at 'text' failed to satisfy constraint: Member must have length greater than or equal to 1" in message


def test_pattern_constraint(gateway):
    client = unvalidated(gateway, "comprehend")
    with pytest.raises(ClientError) as caught:
        client.start_dominant_language_detection_job(
            InputDataConfig={"S3Uri": "ftp://bucket/in"}, OutputDataConfig={"S3Uri": "s3://bucket/out"},
            DataAccessRoleArn="arn:aws:iam::123456789012:role/r")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'inputDataConfig.s3Uri' failed to satisfy constraint: Member must satisfy regular expression pattern" in caught.value.response["Error"]["Message"]


def test_oversized_text(comprehend):
    with pytest.raises(comprehend.exceptions.TextSizeLimitExceededException) as caught:
        comprehend.detect_dominant_language(Text="word " * 20_001)
    assert "100000 bytes" in caught.value.response["Error"]["Message"]


def test_unknown_operation(gateway):
    status, code, message = error_of(post(gateway, "Comprehend_20171127.DetectDancing", b"{}"))
    assert (status, code) == (400, "UnknownOperationException")
    assert "DetectDancing" in message


def test_unknown_target_prefix(gateway):
    status, code, _ = error_of(post(gateway, "Nonexistent_20200101.DoThing", b"{}"))
    assert (status, code) == (400, "UnknownOperationException")


def test_missing_target(gateway):
    status, code, message = error_of(post(gateway, None, b"{}"))
    assert (status, code) == (400, "UnknownOperationException")
    assert "X-Amz-Target" in message


def test_unrouted_rest_path(gateway):
    response = requests.get(gateway.url + "/no/such/thing", timeout=10)
    assert error_of(response)[:2] == (404, "UnknownOperationException")


def test_request_size_limit(gateway):
    response = post(gateway, TARGET, b'{"Text": "' + b"a" * (17 * 1024 * 1024) + b'"}')
    assert error_of(response)[:2] == (413, "RequestEntityTooLargeException")


def test_not_implemented_json_service(gateway):
    client = gateway.client("stepfunctions")  # JSON 1.0
    with pytest.raises(ClientError) as caught:
        client.list_activities()  # Step Functions activities are not served
    assert caught.value.response["Error"]["Code"] == "NotImplementedException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


@pytest.mark.parametrize("service, call", [
    # polly, personalize-runtime and personalize-events: every operation is implemented; tests/test_polly.py and
    # tests/test_personalize.py exercise their routes
    ("lexv2-runtime", lambda c: c.recognize_text(botId="BOT1234567", botAliasId="ALIAS12345", localeId="en_US",
                                                 sessionId="session-1", text="hello")),
    ("lexv2-models", lambda c: c.list_bots()),
])
def test_rest_json_routes_reach_the_right_operation(gateway, service, call):
    """rest-json services route on method + path; each unimplemented one names its own operation."""
    client = gateway.client(service)
    with pytest.raises(ClientError) as caught:
        call(client)
    error = caught.value.response["Error"]
    assert error["Code"] == "NotImplementedException"
    expected = caught.value.operation_name
    assert f"operation {expected} " in error["Message"]
    assert service in error["Message"]


def test_rest_json_validation(gateway):
    client = unvalidated(gateway, "polly")
    with pytest.raises(ClientError) as caught:
        client.synthesize_speech(Text="hi", OutputFormat="wav", VoiceId="Joanna")
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Value 'wav' at 'outputFormat'" in error["Message"]


def test_every_served_service_answers(gateway):
    from services.gateway.protocol.service_models import SERVED_SERVICES

    coverage = requests.get(gateway.url + "/v1/coverage", timeout=10).json()
    assert set(coverage) == set(SERVED_SERVICES)
    assert "DetectDominantLanguage" in coverage["comprehend"]["implemented"]
    assert "DetectToxicContent" in coverage["comprehend"]["not_implemented"]


def test_native_api_fills_idempotency_tokens(gateway):
    """POST /v1/{service}/{Operation} fills members marked `idempotencyToken` (Translate's required ClientToken) the
    way the SDKs do when the caller leaves them out; a token the caller gives is kept."""
    url = gateway.url + "/v1/translate/StartTextTranslationJob"
    body = {"InputDataConfig": {"S3Uri": "s3://native-token/in/", "ContentType": "text/plain"},
            "OutputDataConfig": {"S3Uri": "s3://native-token/out/"},
            "DataAccessRoleArn": "arn:aws:iam::000000000000:role/any",
            "SourceLanguageCode": "en", "TargetLanguageCodes": ["es"]}
    first = requests.post(url, json=body, timeout=30)
    second = requests.post(url, json=body, timeout=30)
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["JobId"] != second.json()["JobId"]  # a fresh token per call
    given = [requests.post(url, json={**body, "ClientToken": "same-token-1"}, timeout=30) for _ in range(2)]
    assert given[0].status_code == 200 and given[0].json()["JobId"] == given[1].json()["JobId"]
    # The awsJson wire path is the SDKs' own: a missing required token there stays a ValidationException.
    response = post(gateway, "AWSShineFrontendService_20170701.StartTextTranslationJob", json.dumps(body))
    assert response.status_code == 400 and "'clientToken'" in response.json()["message"]
