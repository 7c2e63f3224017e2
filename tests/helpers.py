"""What the test modules share: boto3 clients for a gateway, S3 buckets, polling until something is done, AWS error
codes, and the fixtures of data and helpers more than one test module uses (Comprehend's sample sentences, Step
Functions state machines and the webhook recorder, speech clips and word error rate).

Test modules import from here (and fixtures come from conftest.py); no test module imports another.
"""

from __future__ import annotations

import json
import pprint
import re
import subprocess
import threading
import time
import uuid
import wave
from collections import Counter
from collections.abc import Callable, Collection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import boto3
import numpy as np
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

T = TypeVar("T")

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


# ---------------------------------------------------------------- clients


def gateway_client(endpoint: Any, service: str, *, region: str = REGION, access_key: str = ACCESS_KEY,
                   secret_key: str = SECRET_KEY, read_timeout: float | None = None, attempts: int = 1,
                   **config: Any):
    """An unmodified boto3 client for `service` at a gateway: `endpoint` is its URL or anything with a `.url`.

    `attempts` counts every try (botocore's `total_max_attempts`): 1, the default, means no retries, so a 5xx or a
    throttle reaches the test instead of being retried away. `read_timeout` is botocore's (60 s when None); give a
    long one where the first call loads or trains a model. Other keywords go to botocore's `Config`
    (`parameter_validation=False`, `inject_host_prefix=False`, `max_pool_connections=16`, ...)."""
    url = getattr(endpoint, "url", endpoint)
    options: dict[str, Any] = {"retries": {"total_max_attempts": attempts}, **config}
    if read_timeout is not None:
        options["read_timeout"] = read_timeout
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key, config=Config(**options))


def make_bucket(s3, name: str) -> str:
    """Create bucket `name` on the S3 endpoint of client `s3` unless it is there already; return the name."""
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "BucketAlreadyExists":
            s3.head_bucket(Bucket=name)  # there, and ours to use: else this raises
        elif code != "BucketAlreadyOwnedByYou":
            raise
    return name


def unique(prefix: str = "job", length: int = 10) -> str:
    """A fresh name: `prefix-` and `length` hex digits."""
    return f"{prefix}-{uuid.uuid4().hex[:length]}"


# ---------------------------------------------------------------- waiting


def _shown(value: Any, limit: int = 6000) -> str:
    text = pprint.pformat(value, width=120)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


def poll(fn: Callable[[], T], done: Callable[[T], Any] = bool, timeout: float = 60.0, interval: float = 0.2,
         what: str | None = None, raise_on_timeout: bool = True) -> T:
    """Call `fn()` every `interval` seconds until `done(result)` is true, and return that result.

    `fn` runs at least once, and once more at the deadline. When `timeout` seconds pass first this raises an
    AssertionError that says what it waited for and shows the last result; with `raise_on_timeout=False` it
    returns the last result instead, for callers that judge it themselves."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if done(result):
            return result
        if time.monotonic() >= deadline:
            if not raise_on_timeout:
                return result
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or getattr(fn, '__name__', fn)}; "
                                 f"the last response:\n{_shown(result)}")
        time.sleep(interval)


def dig(response: Any, path: str) -> Any:
    """`response["A"]["B"]` for the path "A.B"."""
    for key in path.split("."):
        response = response[key]
    return response


def wait_for_status(describe: Callable[[], T], status: str | Callable[[T], Any], terminal: Collection[Any],
                    timeout: float = 60.0, interval: float = 0.2, what: str | None = None) -> T:
    """Call `describe()` until its status is one of `terminal`; return that last response (the whole of it).

    `status` is a dotted path into the response ("SynthesisTask.TaskStatus") or a function of it. On timeout the
    AssertionError shows the last response."""
    extract = status if callable(status) else (lambda response: dig(response, status))
    return poll(describe, lambda response: extract(response) in terminal, timeout, interval,
                what or f"{status if isinstance(status, str) else 'the status'} to be one of {sorted(terminal)}")


# ---------------------------------------------------------------- AWS errors


def client_error(call: Callable[[], Any]) -> ClientError:
    """The ClientError that `call()` raises; the test fails when it raises none."""
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def error_code(call: Callable[[], Any]) -> str:
    """The AWS error code (`Error.Code`) of the ClientError that `call()` raises."""
    return client_error(call).response["Error"]["Code"]


def error_code_and_message(call: Callable[[], Any]) -> tuple[str, str]:
    error = client_error(call).response["Error"]
    return error["Code"], error["Message"]


# ---------------------------------------------------------------- Comprehend

COMPREHEND_ROLE = "arn:aws:iam::123456789012:role/comprehend-access"
COMPREHEND_JOB_DONE = ("COMPLETED", "FAILED", "STOPPED")

# One sentence per language, for the dominant-language operations.
SENTENCES = {
    "en": "The committee will publish its annual report on renewable energy next Tuesday morning.",
    "fr": "Le gouvernement a annoncé hier une nouvelle réforme des retraites très contestée.",
    "de": "Die Bundesregierung hat gestern neue Maßnahmen gegen die steigenden Mieten beschlossen.",
    "es": "El ayuntamiento abrirá una nueva biblioteca pública en el centro de la ciudad.",
    "it": "Il comune ha deciso di chiudere il centro storico al traffico durante il fine settimana.",
    "pt": "O governo anunciou ontem um novo programa de apoio às pequenas empresas do país.",
    "nl": "De gemeente wil volgend jaar meer fietspaden aanleggen in het centrum van de stad.",
    "ja": "東京の天気は明日から週末にかけて雨が続く見込みです。",
}


def wait_for_comprehend_job(comprehend, noun: str, job_id: str, timeout: float = 300, interval: float = 0.3,
                            terminal: Collection[str] = COMPREHEND_JOB_DONE) -> dict:
    """The `<Noun>JobProperties` of a Comprehend job once it has ended: `noun` names the Describe operation,
    e.g. "entities_detection" for describe_entities_detection_job."""
    describe = getattr(comprehend, f"describe_{noun}_job")
    key = "".join(part.capitalize() for part in noun.split("_")) + "JobProperties"
    return wait_for_status(lambda: describe(JobId=job_id)[key], "JobStatus", terminal, timeout, interval,
                           what=f"{noun} job {job_id} to end")


def wait_for_language_job(comprehend, job_id: str, timeout: float = 120) -> dict:
    """The properties of a dominant-language detection job once it has ended."""
    return wait_for_comprehend_job(comprehend, "dominant_language_detection", job_id, timeout, interval=0.2)


# ---------------------------------------------------------------- Translate

TRANSLATE_ROLE = "arn:aws:iam::123456789012:role/translate-access"


# ---------------------------------------------------------------- Polly


def wait_for_synthesis_task(polly, task_id: str, timeout: float = 180, interval: float = 0.3) -> dict:
    """The SynthesisTask once it is completed or failed."""
    return wait_for_status(lambda: polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"], "TaskStatus",
                           ("completed", "failed"), timeout, interval, what=f"synthesis task {task_id} to end")


# ---------------------------------------------------------------- Step Functions

SFN_ROLE = "arn:aws:iam::000000000000:role/StepFunctionsRole"
DETECT_LANGUAGE = "arn:aws:states:::aws-sdk:comprehend:detectDominantLanguage"
HTTP_INVOKE = "arn:aws:states:::http:invoke"


class Recorder:
    """A webhook endpoint (the stand-in for a Lambda function) that counts the calls to each path, keeps the
    bodies, and answers with `status` (settable) and the body it got."""

    def __init__(self):
        self.calls: Counter = Counter()
        self.bodies: list = []
        self.status = 200
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with recorder.lock:
                    recorder.calls[self.path] += 1
                    recorder.bodies.append(json.loads(body or b"null"))
                reply = json.dumps({"path": self.path, "got": json.loads(body or b"null")}).encode()
                self.send_response(recorder.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self) -> int:
        with self.lock:
            return sum(self.calls.values())

    def close(self) -> None:
        self.server.shutdown()


def create_state_machine(sfn, definition: dict, kind: str = "STANDARD", name: str | None = None) -> str:
    return sfn.create_state_machine(name=name or unique("sm"), definition=json.dumps(definition), roleArn=SFN_ROLE,
                                    type=kind)["stateMachineArn"]


def wait_for_execution(sfn, execution_arn: str, timeout: float = 60) -> dict:
    """DescribeExecution once the execution is no longer RUNNING."""
    return poll(lambda: sfn.describe_execution(executionArn=execution_arn), lambda described:
                described["status"] != "RUNNING", timeout, 0.05, what=f"execution {execution_arn} to finish")


def history(sfn, execution_arn: str) -> list[dict]:
    """Every event of the execution's history, page after page."""
    events, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000,
                                         **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def execute(sfn, definition: dict, value=None, timeout: float = 60) -> tuple[dict, list[dict]]:
    """Create a state machine, run it on `value` to its end: (DescribeExecution, history)."""
    arn = create_state_machine(sfn, definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({} if value is None else value))
    described = wait_for_execution(sfn, execution["executionArn"], timeout)
    return described, history(sfn, execution["executionArn"])


def output_of(sfn, definition: dict, value=None):
    """The output of a run that must succeed."""
    described, events = execute(sfn, definition, value)
    assert described["status"] == "SUCCEEDED", (described, events[-3:])
    return json.loads(described["output"])


# ---------------------------------------------------------------- speech

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")  # Debian's pocketsphinx-testdata
RATE = 16000


def librivox() -> list[tuple[Path, str]]:
    """(wav path, reference text) of the five LibriVox clips."""
    refs = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        match = re.match(r"<s>(.*)</s>\s*\((.*)\)", line.strip())
        if match:
            refs[match.group(2)] = match.group(1).strip()
    return [(LIBRIVOX / f"{name}.wav", text) for name, text in sorted(refs.items())]


NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
           "8": "eight", "9": "nine"}


def normalise(text: str) -> list[str]:
    """Lower case, no punctuation, hyphens as spaces, Mr. -> mister, digits spelt out one by one."""
    text = text.lower().replace("mr.", "mister").replace("-", " ")
    text = re.sub(r"\d", lambda m: f" {NUMBERS[m.group(0)]} ", text)
    return re.sub(r"[^a-z' ]+", " ", text).split()


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word errors, reference words) after `normalise`."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, other in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
        previous = current
    return previous[-1], len(ref)


def read_wav(path: Path) -> np.ndarray:
    """A 16 kHz mono wav file as float samples."""
    with wave.open(str(path)) as handle:
        assert handle.getframerate() == RATE and handle.getnchannels() == 1
        return np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768


def espeak(text: str, voice: str = "en-us+f3", pitch: int = 75) -> np.ndarray:
    """`text` said by espeak-ng, as mono float samples."""
    from models.audio import decode

    data = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "150", "--stdout", text],
                          capture_output=True, check=True).stdout
    return decode(data).mono()
