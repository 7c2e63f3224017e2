"""Clients that stall, drip or hang up mid-request (issue 19, item 8): a body must keep arriving and be whole in
time, else RequestTimeout; a client that goes away is logged as such (499), not as a server error."""

from __future__ import annotations

import json
import select
import socket
import time

import pytest
import requests

from tests.conftest import GatewayProcess

TARGET = "Comprehend_20171127.DetectDominantLanguage"


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    process = GatewayProcess(tmp_path_factory.mktemp("limits") / "data", env={
        "AIGATE_REQUEST_IDLE_TIMEOUT_S": "1", "AIGATE_REQUEST_BODY_TIMEOUT_S": "3"}).start()
    yield process
    process.stop()


def partial_request(gateway, declared: int, first: bytes) -> socket.socket:
    """A POST / of `declared` body bytes of which only `first` is sent (the socket stays open)."""
    connection = socket.create_connection(("127.0.0.1", gateway.port), timeout=30)
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\nX-Amz-Target: {TARGET}\r\n"
            f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {declared}\r\n\r\n")
    connection.sendall(head.encode() + first)
    return connection


def answer_of(connection: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < content_length(data):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def content_length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def metric(gateway, status: int) -> float:
    text = requests.get(f"{gateway.url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("aigate_requests_total") and f'status="{status}"' in line)


def test_a_stalled_body_times_out(strict):
    started = time.monotonic()
    connection = partial_request(strict, 100, b'{"Text": ')
    status, body = answer_of(connection)
    connection.close()
    assert (status, body["__type"]) == (400, "RequestTimeout")
    assert body["message"].startswith("Your socket connection to the server was not read from or written to")
    assert time.monotonic() - started < 10


def test_a_dripped_body_times_out_as_a_whole(strict):
    """One byte every half second never trips the idle timeout; the body timeout (3 s here) still ends it."""
    started = time.monotonic()
    connection = partial_request(strict, 1000, b"{")
    for _ in range(40):
        if select.select([connection], [], [], 0.5)[0]:
            break  # the answer is there
        connection.sendall(b" ")
    status, body = answer_of(connection)
    connection.close()
    assert (status, body["__type"]) == (400, "RequestTimeout")
    assert time.monotonic() - started < 15


def test_a_client_that_hangs_up_is_a_499_not_an_error(strict):
    errors_before = metric(strict, 500)
    connection = partial_request(strict, 100, b'{"Text": "hal')
    time.sleep(0.3)
    connection.close()
    deadline = time.monotonic() + 10
    while metric(strict, 499) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert metric(strict, 499) >= 1
    assert metric(strict, 500) == errors_before
    log = strict.log()
    assert '"status":499' in log
    assert "Traceback" not in log and '"level":"ERROR"' not in log
    # The gateway still answers.
    assert requests.post(f"{strict.url}/", data=b'{"Text": "Hallo Welt, wie geht es dir heute?"}', timeout=30,
                         headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}
                         ).json()["Languages"][0]["LanguageCode"] == "de"
