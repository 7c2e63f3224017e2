"""Task resources: what a Task state's `Resource` calls.

- `arn:aws:states:::aws-sdk:<service>:<operation>` calls any gateway operation in-process through the dispatcher
  (operation names in camelCase as AWS writes them, parameters with the API's own member names). Errors come back
  as `<Service>.<ErrorCode>` (e.g. `Comprehend.TextSizeLimitExceededException`), as AWS names them.
- `...:<operation>.sync` starts one of the gateway's asynchronous jobs and waits for it (Describe*/Get* polled inside
  the durable engine, not in the definition); the task's result is the final Describe*/Get* output.
- `...:<operation>.waitForTaskToken` calls the operation and then waits for SendTaskSuccess/Failure on
  `$$.Task.Token`.
- `arn:aws:states:::http:invoke` calls an HTTP endpoint (webhooks, the stand-in for Lambda functions).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from orchestrator.asl.errors import StatesError
from services.gateway.context import Principal
from services.gateway.errors import ServiceError
from services.gateway.kit.arns import parse_arn

# aws-sdk service identifiers (as in AWS's integration ARNs) → the gateway's botocore service names.
SDK_SERVICES = {
    "comprehend": "comprehend", "translate": "translate", "transcribe": "transcribe", "polly": "polly",
    "rekognition": "rekognition", "textract": "textract", "lexmodelsv2": "lexv2-models",
    "lexruntimev2": "lexv2-runtime", "personalize": "personalize", "personalizeruntime": "personalize-runtime",
    "personalizeevents": "personalize-events", "forecast": "forecast", "forecastquery": "forecastquery",
    "sfn": "stepfunctions", "s3": "s3",
}
# How AWS prefixes the errors of each service in a Task failure (the SDK's service name).
ERROR_PREFIX = {
    "comprehend": "Comprehend", "translate": "Translate", "transcribe": "Transcribe", "polly": "Polly",
    "rekognition": "Rekognition", "textract": "Textract", "lexv2-models": "LexModelsV2",
    "lexv2-runtime": "LexRuntimeV2", "personalize": "Personalize", "personalize-runtime": "PersonalizeRuntime",
    "personalize-events": "PersonalizeEvents", "forecast": "Forecast", "forecastquery": "Forecastquery",
    "stepfunctions": "Sfn", "s3": "S3",
}
_SDK = re.compile(r"^arn:aws:states:[a-z0-9-]*:\d*:aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)(\.sync(?::2)?|\.waitForTaskToken)?$")
_HTTP = re.compile(r"^arn:aws:states:[a-z0-9-]*:\d*:http:invoke(\.waitForTaskToken)?$")
_OPTIMIZED = re.compile(r"^arn:aws:states:[a-z0-9-]*:\d*:([a-z0-9]+):([a-zA-Z0-9]+)(\.sync(?::2)?|\.waitForTaskToken)?$")

RESPONSE_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Resource:
    kind: str  # "sdk" | "http"
    service: str  # botocore name ("" for http)
    operation: str  # PascalCase
    pattern: str  # "request" | "sync" | "token"
    arn: str

    @property
    def resource_type(self) -> str:
        """As history events show it: `aws-sdk:comprehend`, `http`."""
        return parse_arn(self.arn).resource.rpartition(":")[0]

    @property
    def resource_name(self) -> str:
        """As history events show it: `detectDominantLanguage`, `invoke.waitForTaskToken`."""
        return parse_arn(self.arn).resource.rpartition(":")[2]


def parse_resource(arn: str) -> Resource:
    if not isinstance(arn, str):
        raise StatesError("States.Runtime", f"The resource {arn!r} is not a string")
    match = _HTTP.match(arn)
    if match:
        return Resource("http", "", "invoke", "token" if match.group(1) else "request", arn)
    match = _SDK.match(arn) or _OPTIMIZED.match(arn)
    if match:
        service_id, operation, suffix = match.groups()
        service = SDK_SERVICES.get(service_id)
        if service is None:
            raise StatesError("States.Runtime", f"The resource '{arn}' names a service this gateway does not serve: "
                                                f"{service_id}. Served: {', '.join(sorted(SDK_SERVICES))}.")
        pattern = "sync" if suffix and suffix.startswith(".sync") else "token" if suffix else "request"
        return Resource("sdk", service, operation[:1].upper() + operation[1:], pattern, arn)
    raise StatesError("States.Runtime", f"The resource '{arn}' is not a supported Task resource: use "
                                        f"arn:aws:states:::aws-sdk:<service>:<operation> or arn:aws:states:::http:invoke")


def call(resource: Resource, parameters: Any, principal: Principal, timeout: float | None) -> Any:
    """Run the integration once (with TimeoutSeconds enforced); StatesError on failure.

    The call runs on a thread of its own, outside the DBOS step that records it: a handler may itself start
    durable work (a Start*Job enqueues a job workflow), which DBOS refuses from inside a step."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = _call(resource, parameters, principal)
        except BaseException as error:  # handed to the waiting thread
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True, name="sfn-task")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise StatesError("States.Timeout", f"The task did not finish within {timeout:g} seconds.")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _call(resource: Resource, parameters: Any, principal: Principal) -> Any:
    if resource.kind == "http":
        return http_invoke(parameters)
    if resource.service == "s3":
        return s3_call(resource.operation, parameters, principal)
    return sdk_call(resource.service, resource.operation, parameters, principal)


def sdk_call(service: str, operation: str, parameters: Any, principal: Principal) -> Any:
    from services.gateway.runtime import runtime

    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise StatesError("States.Runtime", f"The parameters of {service}:{operation} must be a JSON object")
    prefix = ERROR_PREFIX.get(service, service.title())
    try:
        return runtime().dispatcher.call_wire(service, operation, principal, parameters, f"sfn-{uuid.uuid4().hex[:16]}")
    except ServiceError as error:
        code = error.code if error.code.endswith("Exception") else f"{error.code}Exception"
        if error.code in ("UnknownOperationException", "UnknownServiceException"):
            raise StatesError("States.Runtime", error.message) from None
        raise StatesError(f"{prefix}.{code}", error.message) from None
    except StatesError:
        raise
    except Exception as error:  # a bug in a handler: the task fails, the execution goes on to Retry/Catch
        raise StatesError("States.TaskFailed", f"{type(error).__name__}: {error}") from None


# -- S3 through the gateway's blob store -------------------------------------------------------------------------

S3_BODY_LIMIT = 256 * 1024


def s3_call(operation: str, parameters: Any, principal: Principal) -> dict:
    """GetObject / PutObject / ListObjectsV2 on the blob store (the configured S3 endpoint, or the local store), so
    a definition can read a transcript or write a result the way it would on AWS."""
    from services.gateway.runtime import runtime
    from services.gateway.storage import BlobError, BlobNotFound

    if not isinstance(parameters, dict) or not isinstance(parameters.get("Bucket"), str):
        raise StatesError("S3.ValidationException", "The S3 call needs a 'Bucket'")
    bucket = parameters["Bucket"]
    blobs = runtime().blobs
    try:
        if operation == "GetObject":
            data = blobs.read(f"s3://{bucket}/{parameters.get('Key', '')}", principal.account_id,
                              max_bytes=S3_BODY_LIMIT)
            return {"Body": data.decode("utf-8", errors="replace"), "ContentLength": len(data)}
        if operation == "PutObject":
            body = parameters.get("Body", "")
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            blobs.write(f"s3://{bucket}/{parameters.get('Key', '')}", data, principal.account_id,
                        parameters.get("ContentType"))
            return {"ETag": f'"{hashlib.md5(data).hexdigest()}"'}
        if operation == "ListObjectsV2":
            uris = blobs.list(f"s3://{bucket}/{parameters.get('Prefix', '')}", principal.account_id)
            keys = [uri[len(f"s3://{bucket}/"):] for uri in uris][: int(parameters.get("MaxKeys", 1000))]
            return {"Name": bucket, "KeyCount": len(keys), "Contents": [{"Key": key} for key in keys]}
    except BlobNotFound as error:
        raise StatesError("S3.NoSuchKeyException", str(error)) from None
    except BlobError as error:
        raise StatesError(f"S3.{type(error).__name__}", str(error)) from None
    raise StatesError("States.Runtime", f"s3:{operation[:1].lower() + operation[1:]} is not supported; use "
                                        f"getObject, putObject or listObjectsV2")


# -- .sync: wait for a gateway job ------------------------------------------------------------------------------

SUCCESS_STATES = {"COMPLETED", "SUCCEEDED", "ACTIVE", "SUCCESS"}
FAILURE_STATES = {"FAILED", "STOPPED", "ERROR", "CREATE_FAILED", "PARTIAL_SUCCESS_FAILED"}


def sync_describe(resource: Resource, parameters: dict, started: dict) -> tuple[str, dict]:
    """The operation that reports the job `resource` started, and its input (built from the start's in/output)."""
    from services.gateway.protocol.service_models import service_spec

    spec = service_spec(resource.service)
    rest = resource.operation[len("Start"):] if resource.operation.startswith("Start") else resource.operation
    rest = rest[len("Create"):] if resource.operation.startswith("Create") else rest
    for candidate in (f"Describe{rest}", f"Get{rest}", f"Describe{rest}Job", f"Get{rest}Job"):
        if candidate in spec.model.operation_names:
            shape = spec.operation(candidate).input_shape
            request = {}
            for member in shape.required_members if shape is not None else []:
                value = _find(started, member)
                if value is None:
                    value = _find(parameters, member)
                if value is None:
                    break
                request[member] = value
            else:
                return candidate, request
    raise StatesError("States.Runtime", f"{resource.service}:{resource.operation} has no Describe/Get operation "
                                        f"to wait on with .sync")


def _find(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        for item in value.values():
            found = _find(item, key)
            if found is not None:
                return found
    return None


def job_status(described: Any) -> str | None:
    """The status of a job in a Describe*/Get* output (JobStatus, TranscriptionJobStatus, Status...)."""
    if isinstance(described, dict):
        for key, value in described.items():
            if isinstance(value, str) and key.endswith("Status"):
                return value
        for value in described.values():
            found = job_status(value)
            if found is not None:
                return found
    return None


# -- http:invoke ------------------------------------------------------------------------------------------------


def http_invoke(parameters: Any) -> dict:
    import requests

    if not isinstance(parameters, dict) or "ApiEndpoint" not in parameters or "Method" not in parameters:
        raise StatesError("States.Runtime", "http:invoke needs 'ApiEndpoint' and 'Method' in its Arguments/Parameters")
    method = str(parameters["Method"]).upper()
    if method not in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
        raise StatesError("States.Runtime", f"Unsupported HTTP method {method}")
    url = parameters["ApiEndpoint"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise StatesError("States.Runtime", f"The ApiEndpoint {url!r} must be an http(s) URL")
    headers = {str(k): str(v) for k, v in (parameters.get("Headers") or {}).items()}
    query = parameters.get("QueryParameters") or None
    body = parameters.get("RequestBody")
    data = None
    if body is not None:
        if parameters.get("Transform", {}).get("RequestBodyEncoding") == "URL_ENCODED" and isinstance(body, dict):
            from urllib.parse import urlencode

            data = urlencode(body).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            data = str(body).encode()
    try:
        response = requests.request(method, url, headers=headers, params=query, data=data, timeout=60)
    except requests.RequestException as error:
        raise StatesError("States.Http.Socket", f"{type(error).__name__}: {error}") from None
    text = response.content[:RESPONSE_LIMIT].decode("utf-8", errors="replace")
    try:
        body_out: Any = json.loads(text) if "json" in response.headers.get("content-type", "") else text
    except ValueError:
        body_out = text
    result = {
        "Headers": {key: [value] for key, value in response.headers.items()},
        "ResponseBody": body_out,
        "StatusCode": response.status_code,
        "StatusText": response.reason or "",
    }
    if response.status_code >= 400:
        raise StatesError(f"States.Http.StatusCode.{response.status_code}", json.dumps(result)[:32000])
    return result
