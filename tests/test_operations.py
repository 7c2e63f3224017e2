"""Running the gateway: health, readiness, metrics, logs, docs, coverage and the model list."""

from __future__ import annotations

import json
import subprocess

import requests

from tests.conftest import AIGATE, ROOT
from tests.helpers import poll


def test_health_and_ready(gateway):
    assert requests.get(gateway.url + "/health", timeout=10).json() == {"status": "ok"}
    assert requests.get(gateway.url + "/ready", timeout=10).json() == {"status": "ready"}


def test_metrics(gateway, comprehend):
    comprehend.detect_dominant_language(Text="Metrics are counted per service and operation.")
    text = requests.get(gateway.url + "/metrics", timeout=10).text
    assert 'aigate_requests_total{operation="DetectDominantLanguage",service="comprehend",status="200"}' in text
    assert 'aigate_request_seconds_bucket{le="0.1",operation="DetectDominantLanguage",service="comprehend"}' in text
    assert "# TYPE aigate_jobs gauge" in text
    assert "# TYPE aigate_queue_depth gauge" in text


def test_json_logs_carry_request_id(gateway):
    response = requests.post(gateway.url + "/v1/comprehend/DetectDominantLanguage", json={"Text": "Log me, please."},
                             timeout=10)
    request_id = response.headers["x-amzn-RequestId"]

    def mine_logged() -> list[dict]:
        records = [json.loads(line) for line in gateway.log().splitlines() if line.startswith("{")]
        return [r for r in records if r.get("request_id") == request_id]

    mine = poll(mine_logged, timeout=5, interval=0.1, what=f"a log line with request id {request_id}")
    assert mine and mine[0]["msg"] == "request"
    assert mine[0]["service"] == "comprehend" and mine[0]["operation"] == "DetectDominantLanguage"
    assert mine[0]["status"] == 200 and mine[0]["ms"] > 0


def test_openapi_and_docs(gateway):
    document = requests.get(gateway.url + "/openapi.json", timeout=10).json()
    operation = document["paths"]["/v1/comprehend/DetectDominantLanguage"]["post"]
    schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["required"] == ["Text"]
    assert schema["properties"]["Text"]["minLength"] == 1
    assert "/v1/comprehend/DetectToxicContent" not in document["paths"]  # only what is implemented
    page = requests.get(gateway.url + "/docs", timeout=10)
    assert page.status_code == 200 and "POST /v1/comprehend/DetectDominantLanguage" in page.text


def test_jobs_api_lists_only_own_jobs(gateway):
    listed = requests.get(gateway.url + "/v1/jobs", timeout=10).json()
    assert isinstance(listed["Jobs"], list)
    missing = requests.get(gateway.url + "/v1/jobs/" + "f" * 32, timeout=10)
    assert missing.status_code == 404 and missing.json()["__type"] == "ResourceNotFoundException"


def test_models_endpoint_shows_live_engines(gateway, comprehend):
    comprehend.detect_dominant_language(Text="Load the language identifier, please.")
    engines = {entry["name"]: entry for entry in requests.get(gateway.url + "/v1/models", timeout=10).json()}
    assert engines["langid"]["loaded"] is True
    assert engines["langid"]["weights_source"] == "package"


def run_cli(*args: str) -> str:
    return subprocess.run([*AIGATE, *args], cwd=ROOT, check=True, capture_output=True, text=True, timeout=120).stdout


def test_coverage_command():
    report = json.loads(run_cli("coverage", "--json"))
    assert "DetectDominantLanguage" in report["comprehend"]["implemented"]
    assert "SynthesizeSpeech" in report["polly"]["implemented"] and "not_implemented" in report["polly"]
    assert "comprehend" in run_cli("coverage")


def test_models_list_command():
    engines = {entry["name"]: entry for entry in json.loads(run_cli("models", "list", "--json"))}
    assert engines["langid"]["weights_source"] == "package"
    assert engines["langid"]["licence"] == "BSD-3-Clause"
    table = run_cli("models", "list")
    assert "langid" in table and "BSD-3-Clause" in table
