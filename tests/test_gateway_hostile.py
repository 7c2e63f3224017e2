"""Hostile and careless clients at the connection level (issue 19, items 4 and 8), against running gateways.

Item 8: a connection that sends nothing, a request head sent a byte at a time, or the unread body of a request
already answered must not hold a connection for ever (AIGATE_REQUEST_HEADER_TIMEOUT_S; the body's own timeouts are
in test_request_limits.py); a client that gives up on a slow call is a 499 in the log and /metrics, not a 200 or
a 500. Item 4 over TLS: a gateway given AIGATE_TLS_CERTFILE/KEYFILE speaks HTTPS to unmodified boto3 clients of
both protocols (awsJson and rest-json), with the certificate as CA bundle or verify=False, and SigV4 still covers
the body there (the plain-HTTP cases are in test_auth.py).
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import time

import pytest
import requests
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.conftest import GatewayProcess
from tests.helpers import SENTENCES, create_state_machine, unique
from tests.test_auth import ALICE, BOB, self_signed_certificate, signed_headers

HEAD_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def brisk(tmp_path_factory):
    process = GatewayProcess(tmp_path_factory.mktemp("hostile") / "data", env={
        "AIGATE_REQUEST_HEADER_TIMEOUT_S": str(HEAD_TIMEOUT_S), "AIGATE_MODEL_WORKERS": "0"}).start()
    yield process
    process.stop()


def connect(gateway, data: bytes = b"") -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", gateway.port), timeout=30)
    if data:
        connection.sendall(data)
    return connection


def read_until_closed(connection: socket.socket, limit_s: float, drip: bytes = b"") -> tuple[bytes, float | None]:
    """What the server sends until it closes the connection (and how long that took), at most `limit_s`; `drip`:
    a byte sent every 0.2 s meanwhile, as a slow client would."""
    started, received = time.monotonic(), b""
    connection.settimeout(0.2)
    while time.monotonic() - started < limit_s:
        try:
            chunk = connection.recv(65536)
        except socket.timeout:
            if drip:
                try:
                    connection.sendall(drip)
                except OSError:  # closed under us: the next recv says so
                    pass
            continue
        except ConnectionResetError:
            return received, time.monotonic() - started
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    return received, None


def metric(gateway, status: int, service: str | None = None) -> float:
    text = requests.get(f"{gateway.url}/metrics", timeout=10, verify=gateway.certificate or True).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("aigate_requests_total") and f'status="{status}"' in line
               and (service is None or f'service="{service}"' in line))


def test_a_connection_that_sends_nothing_is_closed(brisk):
    connection = connect(brisk)
    received, closed_after = read_until_closed(connection, 15)
    connection.close()
    assert closed_after is not None, "an idle connection was held for 15 s"
    assert received == b"" and closed_after < HEAD_TIMEOUT_S + 3


def test_a_dripped_request_head_is_a_408(brisk):
    """The deadline runs from the head's first byte; more bytes do not move it."""
    before = metric(brisk, 408)
    connection = connect(brisk, f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{brisk.port}\r\n".encode())
    received, closed_after = read_until_closed(connection, 15, drip=b"X")
    connection.close()
    assert closed_after is not None, "a head sent a byte at a time held the connection for 15 s"
    assert received.startswith(b"HTTP/1.1 408 ") and closed_after < HEAD_TIMEOUT_S + 3
    assert metric(brisk, 408) == before + 1
    assert '"status":408' in brisk.log()


def test_the_unread_body_of_an_answered_request_does_not_hold_the_connection(brisk):
    """/health answers without reading the body; a client that keeps sending that body is cut off."""
    connection = connect(brisk, f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{brisk.port}\r\nContent-Length: 100000"
                                f"\r\n\r\n{{".encode())
    received, closed_after = read_until_closed(connection, 15, drip=b" ")
    connection.close()
    assert received.startswith(b"HTTP/1.1 200 ")
    assert closed_after is not None and closed_after < HEAD_TIMEOUT_S + 5


def test_kept_alive_and_slow_but_timely_clients_are_served(brisk):
    """Idle time between requests is the keep-alive timeout's (uvicorn's 5 s), not the head deadline; a head that
    arrives in pieces within the deadline is served."""
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(f"{brisk.url}/health", timeout=10).status_code == 200
            time.sleep(HEAD_TIMEOUT_S * 1.5)
    connection = connect(brisk)
    for piece in (b"GET /health HTTP/1.1\r\n", f"Host: 127.0.0.1:{brisk.port}\r\n".encode(), b"\r\n"):
        connection.sendall(piece)
        time.sleep(HEAD_TIMEOUT_S / 4)
    connection.settimeout(10)
    assert connection.recv(65536).startswith(b"HTTP/1.1 200 ")
    connection.close()


def test_a_client_that_gives_up_on_a_slow_call_is_a_499(brisk):
    """StartSyncExecution of an EXPRESS machine that waits 2 s, from a client that waits 0.5 s: the call finishes
    for nobody; the log line and /metrics say 499 (the client closed the request), not 200, and no error."""
    sfn = brisk.client("stepfunctions", inject_host_prefix=False)
    arn = create_state_machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}},
                               kind="EXPRESS")
    impatient = brisk.client("stepfunctions", inject_host_prefix=False, read_timeout=0.5)
    errors_before = metric(brisk, 500)
    with pytest.raises(ReadTimeoutError):
        impatient.start_sync_execution(stateMachineArn=arn, name=unique("gone"))
    deadline = time.monotonic() + 15
    while metric(brisk, 499, "stepfunctions") < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metric(brisk, 499, "stepfunctions") == 1
    assert metric(brisk, 200, "stepfunctions") == 1  # CreateStateMachine only
    assert metric(brisk, 500) == errors_before
    log = brisk.log()
    assert '"operation":"StartSyncExecution","status":499' in log
    assert "Traceback" not in log and '"level":"ERROR"' not in log
    # A patient client gets its answer.
    assert sfn.start_sync_execution(stateMachineArn=arn)["status"] == "SUCCEEDED"


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed_certificate(folder)
    process = GatewayProcess(folder / "data", env={
        "AIGATE_AUTH_MODE": "sigv4", "AIGATE_AUTH_KEYS": ",".join(":".join(item) for item in (ALICE, BOB)),
        "AIGATE_TLS_CERTFILE": cert, "AIGATE_TLS_KEYFILE": key,
        "AIGATE_REQUEST_HEADER_TIMEOUT_S": str(HEAD_TIMEOUT_S), "AIGATE_MODEL_WORKERS": "0"}).start()
    yield process
    process.stop()


def test_boto3_over_tls_both_protocols(tls_gateway):
    import boto3
    import urllib3

    assert tls_gateway.url.startswith("https://")
    comprehend = boto3.client("comprehend", endpoint_url=tls_gateway.url, region_name="us-east-1",
                              verify=tls_gateway.certificate, aws_access_key_id=ALICE[0],
                              aws_secret_access_key=ALICE[1])
    assert comprehend.detect_dominant_language(Text=SENTENCES["de"])["Languages"][0]["LanguageCode"] == "de"
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    polly = boto3.client("polly", endpoint_url=tls_gateway.url, region_name="us-east-1", verify=False,
                         aws_access_key_id=ALICE[0], aws_secret_access_key=ALICE[1])  # rest-json
    assert polly.list_lexicons()["Lexicons"] == []
    with pytest.raises(ClientError) as caught:
        boto3.client("polly", endpoint_url=tls_gateway.url, region_name="us-east-1", verify=tls_gateway.certificate,
                     aws_access_key_id=ALICE[0], aws_secret_access_key="wrong").list_lexicons()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_plain_http_to_the_tls_port_gets_nothing(tls_gateway):
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{tls_gateway.port}/health", timeout=10)
    assert requests.get(f"{tls_gateway.url}/health", verify=tls_gateway.certificate, timeout=10).status_code == 200


def test_signed_body_integrity_over_tls(tls_gateway):
    """A signature over one body's declared hash does not carry another body, over TLS as over plain HTTP, and
    UNSIGNED-PAYLOAD (which botocore uses only for S3 over HTTPS and for operations modelled unsigned) is refused
    for a JSON service even over TLS."""
    signed = b'{"Text": "hello world, this is English"}'
    other = b'{"Text": "Bonjour tout le monde, ceci est du francais"}'
    url = tls_gateway.url
    declared = signed_headers(url, signed, {"X-Amz-Content-SHA256": hashlib.sha256(signed).hexdigest()})
    post = lambda body, headers: requests.post(url + "/", data=body, headers=headers, timeout=10,  # noqa: E731
                                               verify=tls_gateway.certificate)
    assert post(signed, declared).status_code == 200
    assert post(other, declared).status_code == 403
    assert post(other, signed_headers(url, signed)).json()["__type"] == "InvalidSignatureException"
    unsigned = signed_headers(url, other, {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    refused = post(other, unsigned)
    assert (refused.status_code, refused.json()["__type"]) == (403, "InvalidSignatureException")


def test_an_idle_tls_connection_is_closed(tls_gateway):
    context = ssl.create_default_context(cafile=tls_gateway.certificate)
    raw = socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=30)
    connection = context.wrap_socket(raw, server_hostname="127.0.0.1")
    started = time.monotonic()
    connection.settimeout(15)
    try:
        assert connection.recv(65536) == b""
    except (ConnectionResetError, ssl.SSLError):
        pass
    connection.close()
    assert time.monotonic() - started < HEAD_TIMEOUT_S + 3
    assert json.loads(requests.get(f"{tls_gateway.url}/health", verify=tls_gateway.certificate,
                                   timeout=10).text) == {"status": "ok"}
