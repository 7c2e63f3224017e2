"""SigV4 auth and tenancy: a gateway in `sigv4` mode with two accounts, on the local blob store."""

from __future__ import annotations

import time

import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import GatewayProcess
from tests.helpers import COMPREHEND_ROLE as ROLE
from tests.helpers import SENTENCES, wait_for_language_job

ALICE = ("AKIAALICE0000000001", "alice-secret-Zq8s9d7f", "111111111111")
BOB = ("AKIABOB00000000000002", "bob-secret-Kx3n2m1p", "222222222222")


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    keys = ",".join(":".join(key) for key in (ALICE, BOB))
    process = GatewayProcess(tmp_path_factory.mktemp("auth") / "data",
                             env={"AIGATE_AUTH_MODE": "sigv4", "AIGATE_AUTH_KEYS": keys,
                                  "AIGATE_AUTH_ALLOW_BEARER_WITHOUT_TLS": "true"}).start()
    yield process
    process.stop()


def client_for(gateway, key, service="comprehend", region="us-east-1"):
    return gateway.client(service, access_key=key[0], secret_key=key[1], region=region)


def code_of(caught) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_valid_signature(secured):
    result = client_for(secured, ALICE).detect_dominant_language(Text=SENTENCES["de"])
    assert result["Languages"][0]["LanguageCode"] == "de"


def test_wrong_secret(secured):
    with pytest.raises(ClientError) as caught:
        client_for(secured, (ALICE[0], "not-the-secret", "")).detect_dominant_language(Text="hello there")
    assert code_of(caught) == ("InvalidSignatureException", 403)
    assert "signature we calculated does not match" in caught.value.response["Error"]["Message"]


def test_unknown_access_key(secured):
    with pytest.raises(ClientError) as caught:
        client_for(secured, ("AKIANOBODY0000000000", "whatever", "")).detect_dominant_language(Text="hello there")
    assert code_of(caught) == ("UnrecognizedClientException", 403)


def test_unsigned_request(secured):
    response = requests.post(secured.url + "/", data=b'{"Text": "hello"}', timeout=10, headers={
        "X-Amz-Target": "Comprehend_20171127.DetectDominantLanguage", "Content-Type": "application/x-amz-json-1.1"})
    assert response.status_code == 403
    assert response.json()["__type"] == "MissingAuthenticationTokenException"


def test_tampered_body_is_rejected(secured):
    """A signature covers the body: the same headers with another body fail."""
    body = b'{"Text": "hello world, this is English"}'
    headers = signed_headers(secured.url, body)
    assert requests.post(secured.url + "/", data=body, headers=headers, timeout=10).status_code == 200
    tampered = requests.post(secured.url + "/", data=body.replace(b"English", b"Englisch"), headers=headers, timeout=10)
    assert tampered.status_code == 403
    assert tampered.json()["__type"] == "InvalidSignatureException"


DETECT = {"X-Amz-Target": "Comprehend_20171127.DetectDominantLanguage", "Content-Type": "application/x-amz-json-1.1"}


def signed_headers(url: str, body: bytes, extra: dict | None = None, without_host: bool = False) -> dict:
    """Alice's SigV4 headers for a DetectDominantLanguage POST of `body` (X-Amz-Content-SHA256 among the signed
    headers when `extra` sets it, as S3 clients send it)."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    class Signer(botocore.auth.SigV4Auth):
        def headers_to_sign(self, request):
            selected = super().headers_to_sign(request)
            if without_host:
                del selected["host"]
            return selected

    request = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=body, headers={**DETECT, **(extra or {})})
    Signer(botocore.credentials.Credentials(ALICE[0], ALICE[1]), "comprehend", "us-east-1").add_auth(request)
    return dict(request.headers)


def test_declared_payload_hash_must_be_the_bodys(secured):
    """botocore's canonical request takes the payload hash from X-Amz-Content-SHA256: a signature made over one
    body's declared hash must not carry another body."""
    import hashlib

    signed_body = b'{"Text": "hello world, this is English"}'
    other = b'{"Text": "Bonjour tout le monde, ceci est du francais"}'
    headers = signed_headers(secured.url, signed_body, {"X-Amz-Content-SHA256": hashlib.sha256(signed_body).hexdigest()})
    assert requests.post(secured.url + "/", data=signed_body, headers=headers, timeout=10).status_code == 200
    swapped = requests.post(secured.url + "/", data=other, headers=headers, timeout=10)
    assert swapped.status_code == 403
    assert swapped.json() == {"__type": "InvalidSignatureException",
                              "message": "The provided 'x-amz-content-sha256' header does not match what was computed."}


def test_unsigned_payload_only_where_the_model_allows_it(secured):
    """UNSIGNED-PAYLOAD is for operations whose model marks the payload unsigned (lexv2-runtime's
    RecognizeUtterance); Comprehend's are not, so such a signature is refused, whatever the body."""
    body = b'{"Text": "hello world, this is English"}'
    headers = signed_headers(secured.url, body, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    refused = requests.post(secured.url + "/", data=body, headers=headers, timeout=10)
    assert refused.status_code == 403
    assert refused.json()["__type"] == "InvalidSignatureException"
    assert refused.json()["message"].startswith("The request signature we calculated does not match")


def test_host_must_be_signed(secured):
    body = b'{"Text": "hello world, this is English"}'
    response = requests.post(secured.url + "/", data=body, headers=signed_headers(secured.url, body, without_host=True),
                             timeout=10)
    assert response.status_code == 403
    assert response.json() == {"__type": "IncompleteSignatureException",
                               "message": "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}


def self_signed_certificate(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, PEM files in `folder`."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "gateway.pem", folder / "gateway.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls_and_bearer_only_over_it(tmp_path):
    """With AIGATE_TLS_CERTFILE/KEYFILE the gateway serves HTTPS (boto3 and Bearer callers over it); without
    AIGATE_AUTH_ALLOW_BEARER_WITHOUT_TLS a Bearer header in clear text is refused, the secret unused."""
    import boto3

    cert, key = self_signed_certificate(tmp_path)
    keys = ",".join(":".join(item) for item in (ALICE, BOB))
    common = {"AIGATE_AUTH_MODE": "sigv4", "AIGATE_AUTH_KEYS": keys}
    tls = GatewayProcess(tmp_path / "tls", env={**common, "AIGATE_TLS_CERTFILE": cert,
                                                "AIGATE_TLS_KEYFILE": key}).start()
    plain = GatewayProcess(tmp_path / "plain", env=common).start()
    try:
        assert tls.url.startswith("https://")
        bearer = {"Authorization": f"Bearer {ALICE[0]}:{ALICE[1]}"}
        over_tls = requests.post(f"{tls.url}/v1/comprehend/DetectDominantLanguage", json={"Text": SENTENCES["fr"]},
                                 headers=bearer, verify=cert, timeout=30)
        assert over_tls.status_code == 200 and over_tls.json()["Languages"][0]["LanguageCode"] == "fr"
        comprehend = boto3.client("comprehend", endpoint_url=tls.url, region_name="us-east-1", verify=cert,
                                  aws_access_key_id=ALICE[0], aws_secret_access_key=ALICE[1])
        assert comprehend.detect_dominant_language(Text=SENTENCES["de"])["Languages"][0]["LanguageCode"] == "de"

        clear = requests.post(f"{plain.url}/v1/comprehend/DetectDominantLanguage", json={"Text": SENTENCES["fr"]},
                              headers=bearer, timeout=30)
        assert clear.status_code == 403
        assert clear.json()["__type"] == "IncompleteSignatureException"
        assert "only over TLS" in clear.json()["message"]
    finally:
        tls.stop()
        plain.stop()


def test_bearer_token_for_plain_http(secured):
    url = f"{secured.url}/v1/comprehend/DetectDominantLanguage"
    good = requests.post(url, json={"Text": SENTENCES["fr"]}, headers={"Authorization": f"Bearer {ALICE[0]}:{ALICE[1]}"},
                         timeout=10)
    assert good.status_code == 200 and good.json()["Languages"][0]["LanguageCode"] == "fr"
    bad = requests.post(url, json={"Text": "x"}, headers={"Authorization": f"Bearer {ALICE[0]}:wrong"}, timeout=10)
    assert bad.status_code == 403 and bad.json()["__type"] == "UnrecognizedClientException"


def test_accounts_are_isolated(secured):
    alice, bob = client_for(secured, ALICE), client_for(secured, BOB)
    bearer = {"Authorization": f"Bearer {ALICE[0]}:{ALICE[1]}"}
    put = requests.put(f"{secured.url}/v1/blobs/shared-name/in/doc.txt", data=SENTENCES["pt"].encode(), headers=bearer,
                       timeout=10)
    assert put.status_code == 200
    # Bob's bucket of the same name is his own: the object is not there.
    bob_get = requests.get(f"{secured.url}/v1/blobs/shared-name/in/doc.txt", timeout=10,
                           headers={"Authorization": f"Bearer {BOB[0]}:{BOB[1]}"})
    assert bob_get.status_code == 404 and bob_get.json()["__type"] == "NoSuchKey"

    started = alice.start_dominant_language_detection_job(
        InputDataConfig={"S3Uri": "s3://shared-name/in/"}, OutputDataConfig={"S3Uri": "s3://shared-name/out"},
        DataAccessRoleArn=ROLE, JobName="alice-job")
    props = wait_for_language_job(alice, started["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    assert started["JobArn"].split(":")[4] == ALICE[2]
    output = requests.get(f"{secured.url}/v1/blobs/{props['OutputDataConfig']['S3Uri'][len('s3://'):]}", headers=bearer,
                          timeout=10)
    assert output.status_code == 200 and output.content[:2] == b"\x1f\x8b"  # gzip

    with pytest.raises(ClientError) as caught:
        bob.describe_dominant_language_detection_job(JobId=started["JobId"])
    assert code_of(caught) == ("JobNotFoundException", 404)  # the status botocore 1.44's model gives it
    with pytest.raises(ClientError):
        bob.stop_dominant_language_detection_job(JobId=started["JobId"])
    listed = bob.list_dominant_language_detection_jobs()["DominantLanguageDetectionJobPropertiesList"]
    assert started["JobId"] not in [job["JobId"] for job in listed]
    # The same account in another region sees nothing either, as in AWS.
    alice_eu = client_for(secured, ALICE, region="eu-west-1")
    with pytest.raises(ClientError):
        alice_eu.describe_dominant_language_detection_job(JobId=started["JobId"])
    assert alice.list_dominant_language_detection_jobs(Filter={"JobName": "alice-job"})[
        "DominantLanguageDetectionJobPropertiesList"][0]["JobId"] == started["JobId"]


def test_model_report_needs_a_key(secured):
    """/v1/models shows the weights' paths on disk: in sigv4 mode not to anonymous callers."""
    anonymous = requests.get(f"{secured.url}/v1/models", timeout=10)
    assert anonymous.status_code == 403 and anonymous.json()["__type"] == "MissingAuthenticationTokenException"
    report = requests.get(f"{secured.url}/v1/models", timeout=10,
                          headers={"Authorization": f"Bearer {ALICE[0]}:{ALICE[1]}"})
    assert report.status_code == 200 and {"name", "weights_path", "licence"} <= set(report.json()[0])


def test_secrets_never_logged(secured):
    time.sleep(0.2)  # let the log lines of the tests above reach the file
    log = secured.log()
    assert '"msg":"request"' in log
    for key in (ALICE, BOB):
        assert key[1] not in log
