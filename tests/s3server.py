"""A real S3 wire endpoint for tests: moto's standalone server run as a subprocess on a free local port.

Tests talk to it over HTTP through boto3 exactly as they would to any S3-compatible store, so the gateway's
S3 code paths (signing, path-style addressing, pagination, error codes) are exercised end to end.

    server = MotoS3Server().start()
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="in")
        ...
    finally:
        server.stop()

or `with MotoS3Server() as server: ...`. Wrap it in a session-scoped fixture and call `reset()` between tests
when they must not see each other's buckets.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
REGION = "us-east-1"


def free_port(host: str = "127.0.0.1") -> int:
    # Ask the OS for an unused port; the tiny race until moto binds it is acceptable for tests.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class MotoS3Server:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None, startup_timeout: float = 30.0):
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen | None = None
        self._log: Path | None = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("MotoS3Server is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> "MotoS3Server":
        if self._process is not None:
            return self
        if self.port is None:
            self.port = free_port(self.host)
        # Output goes to a file, not a pipe: nobody reads a pipe while tests run, and a full pipe blocks the server.
        fd, log_name = tempfile.mkstemp(prefix="moto-s3-", suffix=".log")
        self._log = Path(log_name)
        env = dict(os.environ)
        env.setdefault("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        env.setdefault("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        with os.fdopen(fd, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        # Poll with http.client (it ignores proxy variables) until moto answers any HTTP request.
        deadline = time.monotonic() + self.startup_timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._process.returncode}: {self.log_text()}")
            try:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
                try:
                    conn.request("GET", "/moto-api/")
                    conn.getresponse().read()
                    return
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not answer on {self.endpoint_url}: {self.log_text()}")
                time.sleep(0.1)

    def log_text(self) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def reset(self) -> None:
        """Drop every bucket and object (moto's own reset endpoint)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("POST", "/moto-api/reset")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"moto reset answered {response.status}")
        finally:
            conn.close()

    def client(self):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}),
        )

    def __enter__(self) -> "MotoS3Server":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
