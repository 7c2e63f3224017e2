"""Fixtures that drive the gateway as a client would: a real `aigate serve` process on a free port, a real S3
wire endpoint (moto's standalone server), and unmodified boto3 clients pointed at them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.helpers import Recorder, gateway_client, make_bucket, unique
from tests.pgserver import PostgresServer
from tests.s3server import MotoS3Server, free_port

ROOT = Path(__file__).resolve().parent.parent
# Test gateways (every one is started with this environment) poll the job queues five times as often as the default
# 1 s, so that the suite's hundreds of jobs each start within 0.2 s.
os.environ.setdefault("AIGATE_JOB_POLL_INTERVAL_S", "0.2")
AIGATE = [sys.executable, "-m", "services.gateway.cli"]


class GatewayProcess:
    """One `aigate serve` process; restartable on the same data folder and port."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = {**os.environ, "AIGATE_LOG_LEVEL": "INFO", **(env or {})}
        # With a certificate the gateway serves HTTPS; clients trust that (self-signed) certificate.
        self.certificate = self.env.get("AIGATE_TLS_CERTFILE") or None
        self.url = f"{'https' if self.certificate else 'http'}://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-gateway.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> "GatewayProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [*AIGATE, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            try:
                if requests.get(f"{self.url}/ready", timeout=1, verify=self.certificate or True).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gateway did not become ready:\n{self.log()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, service: str, access_key: str = "testing", secret_key: str = "testing",
               region: str = "us-east-1", **options):
        """A boto3 client for this gateway: `tests.helpers.gateway_client` (no retries unless `attempts` is given;
        `read_timeout` and other botocore Config options as keywords)."""
        return gateway_client(self, service, region=region, access_key=access_key, secret_key=secret_key, **options)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3Server]:
    server = MotoS3Server()
    server.start()
    yield server
    server.stop()


def s3_env(s3_server: MotoS3Server) -> dict[str, str]:
    return {
        "AIGATE_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "AIGATE_S3_ACCESS_KEY_ID": "testing",
        "AIGATE_S3_SECRET_ACCESS_KEY": "testing",
    }


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    if not server.available:
        pytest.fail("PostgreSQL server binaries not found: `scripts/bootstrap.sh test` installs them")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory, s3_server) -> Iterator[GatewayProcess]:
    """The shared gateway: auth off, S3 through the moto endpoint."""
    process = GatewayProcess(tmp_path_factory.mktemp("gw") / "data", env=s3_env(s3_server)).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def comprehend(gateway):
    return gateway.client("comprehend")


@pytest.fixture(scope="session")
def polly(gateway):
    return gateway.client("polly")


@pytest.fixture(scope="session")
def transcribe(gateway):
    return gateway.client("transcribe")


@pytest.fixture(scope="session")
def translate(gateway):
    return gateway.client("translate")


@pytest.fixture(scope="session")
def sfn(gateway):
    return gateway.client("stepfunctions")


@pytest.fixture
def s3(s3_server):
    return s3_server.client()


@pytest.fixture
def bucket(s3, request) -> str:
    """A new bucket on the shared S3 endpoint, named after the test module: test_polly.py -> polly-<12 hex>."""
    prefix = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    return make_bucket(s3, unique(prefix, 12))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A local webhook server counting the calls Task states make to it (tests.helpers.Recorder)."""
    server = Recorder()
    yield server
    server.close()
