"""The smithy-rpc-v2-cbor protocol against a running gateway: botocore clients forced onto CBOR get what the same
calls get over JSON (results, timestamps, errors), and hand-made requests show the wire itself.

How a client is forced onto a protocol: botocore >= 1.44 models of Comprehend, Translate, Transcribe and Textract
list `protocols: ["smithy-rpc-v2-cbor", "json"]`, and botocore takes the first of its own priority order found there
(`botocore.utils.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS`, json before CBOR; `ServiceModel.resolved_protocol`). So
`client_on` gives a fresh botocore session a data loader that rewrites the loaded service-2 model's metadata to
list only the protocol wanted; everything else about the client (signing, endpoint, parsers) is stock.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from pathlib import Path

import boto3
import botocore.session
import cbor2
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import GatewayProcess

CBOR = "smithy-rpc-v2-cbor"
JSON = "json"
COMPREHEND_PATH = "/service/Comprehend_20171127/operation/"
CBOR_HEADERS = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")  # Debian's pocketsphinx-testdata


def client_on(url: str, service: str, protocol: str, access_key: str = "testing", secret_key: str = "testing",
              **config):
    """A boto3 client for `service` at `url` that speaks `protocol` (see the module docstring)."""
    session = botocore.session.Session()
    loader = session.get_component("data_loader")
    load = loader.load_service_model

    def load_with_protocol(service_name, type_name, api_version=None):
        data = load(service_name, type_name, api_version)
        if type_name == "service-2":
            data = {**data, "metadata": {**data["metadata"], "protocol": protocol, "protocols": [protocol]}}
        return data

    loader.load_service_model = load_with_protocol
    client = boto3.Session(botocore_session=session).client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        # A long read timeout: the first call of an engine loads it (Comprehend trains its sentiment model once per
        # data folder, up to a minute or more on a busy machine).
        config=Config(retries={"max_attempts": 1}, read_timeout=600, **config))
    assert client.meta.service_model.resolved_protocol == protocol
    return client


def body_of(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "ResponseMetadata"}


def assert_cbor_reply(result: dict) -> None:
    headers = result["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/cbor"
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["x-amzn-requestid"]


def post_cbor(url: str, operation: str, body: bytes, path: str = COMPREHEND_PATH) -> requests.Response:
    return requests.post(url + path + operation, data=body, headers=CBOR_HEADERS, timeout=60)


def cbor_error(response: requests.Response) -> tuple[int, str, str]:
    assert response.headers["content-type"] == "application/cbor"
    assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert response.headers["x-amzn-RequestId"]
    body = cbor2.loads(response.content)
    return response.status_code, body["__type"], body["message"]


def failure(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------- the same answers as JSON


def test_detect_sentiment_as_over_json(gateway):
    text = "The staff were wonderful and the food was lovely, though the wait was long."
    over_cbor = client_on(gateway.url, "comprehend", CBOR).detect_sentiment(Text=text, LanguageCode="en")
    over_json = client_on(gateway.url, "comprehend", JSON).detect_sentiment(Text=text, LanguageCode="en")
    assert_cbor_reply(over_cbor)
    assert over_json["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert over_cbor["Sentiment"] == over_json["Sentiment"]
    assert over_cbor["SentimentScore"] == over_json["SentimentScore"]
    assert set(over_cbor["SentimentScore"]) == {"Positive", "Negative", "Neutral", "Mixed"}


def test_translate_text_as_over_json(gateway):
    params = {"Text": "Hello world", "SourceLanguageCode": "en", "TargetLanguageCode": "es"}
    over_cbor = client_on(gateway.url, "translate", CBOR).translate_text(**params)
    over_json = client_on(gateway.url, "translate", JSON).translate_text(**params)
    assert_cbor_reply(over_cbor)
    assert body_of(over_cbor) == body_of(over_json)
    assert over_cbor["TranslatedText"] and over_cbor["TargetLanguageCode"] == "es"


def test_transcription_job_as_over_json(gateway, s3):
    bucket = f"cbor-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    clip = sorted(LIBRIVOX.glob("*.wav"))[0]
    s3.put_object(Bucket=bucket, Key="in/clip.wav", Body=clip.read_bytes())
    over_cbor = client_on(gateway.url, "transcribe", CBOR)
    over_json = client_on(gateway.url, "transcribe", JSON)

    name = f"cbor-{uuid.uuid4().hex[:10]}"
    started = over_cbor.start_transcription_job(TranscriptionJobName=name, LanguageCode="en-US", MediaFormat="wav",
                                                Media={"MediaFileUri": f"s3://{bucket}/in/clip.wav"})
    assert_cbor_reply(started)
    assert started["TranscriptionJob"]["TranscriptionJobName"] == name
    assert isinstance(started["TranscriptionJob"]["CreationTime"], dt.datetime)

    deadline = time.monotonic() + 180
    while True:
        job = over_cbor.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
        if job["TranscriptionJobStatus"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["TranscriptionJobStatus"] == "COMPLETED", job
    assert job == over_json.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    for field in ("CreationTime", "StartTime", "CompletionTime"):
        assert isinstance(job[field], dt.datetime) and job[field].tzinfo is not None
    assert job["CreationTime"] <= job["StartTime"] <= job["CompletionTime"]
    assert job["Media"] == {"MediaFileUri": f"s3://{bucket}/in/clip.wav"}


ERROR_CASES = {
    "enum": ("comprehend", "detect_sentiment", {"Text": "Hello there.", "LanguageCode": "xx"}),
    "text too long": ("comprehend", "detect_sentiment", {"Text": "x" * 5001, "LanguageCode": "en"}),
    "missing member": ("comprehend", "detect_sentiment", {"LanguageCode": "en"}),
    "modeled error": ("transcribe", "get_transcription_job", {"TranscriptionJobName": "no-such-job-anywhere"}),
    "list member": ("comprehend", "batch_detect_sentiment", {"TextList": [], "LanguageCode": "en"}),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_as_over_json(gateway, case):
    service, method, params = ERROR_CASES[case]
    # No client-side validation, so that the gateway's own checks answer.
    over_cbor = client_on(gateway.url, service, CBOR, parameter_validation=False)
    over_json = client_on(gateway.url, service, JSON, parameter_validation=False)
    cbor_code, cbor_message, cbor_status = failure(lambda: getattr(over_cbor, method)(**params))
    assert (cbor_code, cbor_message, cbor_status) == failure(lambda: getattr(over_json, method)(**params))
    assert 400 <= cbor_status < 500
    if case == "missing member":
        assert cbor_code == "ValidationException" and "Value null at 'text'" in cbor_message
    if case == "modeled error":
        assert cbor_code == "NotFoundException"
        with pytest.raises(over_cbor.exceptions.NotFoundException):
            getattr(over_cbor, method)(**params)


# ---------------------------------------------------------------- the wire by hand


def test_hand_encoded_request(gateway):
    response = post_cbor(gateway.url, "DetectDominantLanguage", cbor2.dumps({"Text": "Das ist ein kleiner Test."}))
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == "application/cbor"
    assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert response.headers["x-amzn-RequestId"]
    languages = cbor2.loads(response.content)["Languages"]
    assert languages[0]["LanguageCode"] == "de" and isinstance(languages[0]["Score"], float)


@pytest.mark.parametrize("body", [b"\xa1\x64Text", b"\xff", b"\x82\x01\x02", cbor2.dumps({"Text": "a"}) + b"\x00",
                                  bytes.fromhex("d81c81d81d00")],
                         ids=["truncated", "break", "not a map", "trailing data", "shared values"])
def test_malformed_cbor_is_serialization_exception(gateway, body):
    status, code, message = cbor_error(post_cbor(gateway.url, "DetectDominantLanguage", body))
    assert (status, code) == (400, "SerializationException"), message


def test_empty_body_is_an_empty_input(gateway):
    status, code, message = cbor_error(post_cbor(gateway.url, "DetectDominantLanguage", b""))
    assert (status, code) == (400, "ValidationException")
    assert message == ("1 validation error detected: Value null at 'text' failed to satisfy constraint: "
                       "Member must not be null")


def test_wrong_type_as_over_json(gateway):
    # Hand-encoded: botocore's own serializers refuse to write a number into a string member.
    over_cbor = cbor_error(post_cbor(gateway.url, "DetectDominantLanguage", cbor2.dumps({"Text": 42})))
    over_json = requests.post(gateway.url + "/", data=b'{"Text": 42}', timeout=30, headers={
        "X-Amz-Target": "Comprehend_20171127.DetectDominantLanguage", "Content-Type": "application/x-amz-json-1.1"})
    body = over_json.json()
    assert over_cbor == (over_json.status_code, body["__type"], body["message"])
    assert over_cbor[:2] == (400, "SerializationException")


def test_blob_and_timestamp_types_are_checked(gateway):
    # A text string where the model has a timestamp, and a byte string where it has a string.
    status, code, message = cbor_error(post_cbor(
        gateway.url, "ListSentimentDetectionJobs", cbor2.dumps({"Filter": {"SubmitTimeBefore": "yesterday"}})))
    assert (status, code) == (400, "SerializationException") and "submitTimeBefore" in message
    status, code, _ = cbor_error(post_cbor(gateway.url, "DetectDominantLanguage", cbor2.dumps({"Text": b"bytes"})))
    assert (status, code) == (400, "SerializationException")


@pytest.mark.parametrize("path", ["/service/Comprehend_20171127/operation/NoSuchOperation",
                                  "/service/NoSuchService/operation/DetectSentiment",
                                  "/service/RekognitionService/operation/DetectLabels",  # not a CBOR service
                                  "/service/Comprehend_20171127/DetectSentiment"])
def test_unknown_operation(gateway, path):
    response = requests.post(gateway.url + path, data=cbor2.dumps({}), headers=CBOR_HEADERS, timeout=30)
    assert cbor_error(response)[:2] == (404, "UnknownOperationException")


def metric(gateway, service: str, operation: str, status: int) -> float:
    text = requests.get(gateway.url + "/metrics", timeout=10).text
    pattern = (rf'^aigate_requests_total\{{operation="{operation}",service="{service}",status="{status}"\}} '
               r"([0-9.e+]+)$")
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_cbor_calls(gateway):
    before = metric(gateway, "comprehend", "DetectDominantLanguage", 200)
    client_on(gateway.url, "comprehend", CBOR).detect_dominant_language(Text="Counted over CBOR, please.")
    assert metric(gateway, "comprehend", "DetectDominantLanguage", 200) == before + 1


# ---------------------------------------------------------------- auth and the size limit


ALICE = ("AKIAALICE0000000001", "alice-secret-Zq8s9d7f", "111111111111")


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    process = GatewayProcess(tmp_path_factory.mktemp("cbor-auth") / "data",
                             env={"AIGATE_AUTH_MODE": "sigv4", "AIGATE_AUTH_KEYS": ":".join(ALICE),
                                  "AIGATE_MAX_REQUEST_BYTES": "20000"}).start()
    yield process
    process.stop()


def test_signed_cbor_call(secured):
    client = client_on(secured.url, "comprehend", CBOR, access_key=ALICE[0], secret_key=ALICE[1])
    result = client.detect_dominant_language(Text="Ceci est une phrase en français, pour voir.")
    assert_cbor_reply(result)
    assert result["Languages"][0]["LanguageCode"] == "fr"


def test_bad_signature_and_unsigned_calls_refused(secured):
    client = client_on(secured.url, "comprehend", CBOR, access_key=ALICE[0], secret_key="not-the-secret")
    code, message, status = failure(lambda: client.detect_dominant_language(Text="hello there"))
    assert (code, status) == ("InvalidSignatureException", 403), message
    status, code, _ = cbor_error(post_cbor(secured.url, "DetectDominantLanguage", cbor2.dumps({"Text": "hello"})))
    assert status == 403 and code != "InternalFailure"


def test_body_over_the_limit(secured):
    client = client_on(secured.url, "comprehend", CBOR, access_key=ALICE[0], secret_key=ALICE[1])
    code, _, status = failure(lambda: client.detect_dominant_language(Text="word " * 5000))
    assert (code, status) == ("RequestEntityTooLargeException", 413)
