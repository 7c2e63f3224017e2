"""The HTTP app: AWS wire endpoints, the native REST API, docs, health and metrics, all in one place."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

from botocore.model import OperationModel

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from services.gateway import openapi
from services.gateway.auth import SIGNATURE_MISMATCH, Authenticator
from services.gateway.config import Settings
from services.gateway.context import Principal, request_id_var
from services.gateway.errors import ServiceError, internal_failure, request_too_large, unknown_operation
from services.gateway.observability import REGISTRY, JobsCollector, request_count, request_latency
from services.gateway.protocol.cbor import (
    RPC_V2_CBOR,
    SMITHY_PROTOCOL_HEADER,
    cbor_error_response,
    cbor_response,
    decode_cbor_body,
    route_cbor_path,
)
from services.gateway.protocol.service_models import SERVED_SERVICES, ServiceSpec, service_spec
from services.gateway.protocol.wire import (
    IncomingRequest,
    decode_json_body,
    error_response,
    fill_idempotency_tokens,
    json_response,
    read_input,
    read_rest_input,
    rest_response,
    rest_router,
    route_json_target,
    write_output,
)
from services.gateway.registry import coverage
from services.gateway.runtime import Runtime
from services.gateway.storage import BlobAccessDenied, BlobError, BlobNotFound, BlobTooLarge, InvalidBlobUri

log = logging.getLogger("aigate.http")

ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]


class Gateway:
    """Per-app state: the runtime plus what the protocol layer needs on every request."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.settings = runtime.settings
        self.auth = Authenticator(runtime.settings)
        self.router = rest_router()
        self.dispatcher = runtime.dispatcher


def request_timeout() -> ServiceError:
    # S3's wording for the same condition: the AWS JSON services document none of their own.
    return ServiceError("RequestTimeout", "Your socket connection to the server was not read from or written to "
                        "within the timeout period. Idle connections will be closed.", 400)


async def read_body(request: Request, limit: int, idle_s: float, total_s: float) -> bytes:
    """The body, at most `limit` bytes, each chunk within `idle_s` of the last and all within `total_s`: a client
    that stalls or drips its body does not hold a connection (and a request slot) for ever."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise request_too_large(limit)
    chunks, size = [], 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_s
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), min(idle_s, max(deadline - loop.time(), 0.001)))
        except StopAsyncIteration:
            return b"".join(chunks)
        except asyncio.TimeoutError:
            raise request_timeout() from None
        size += len(chunk)
        if size > limit:
            raise request_too_large(limit)
        chunks.append(chunk)


@dataclass(frozen=True)
class RawRequest:
    headers: dict[str, str]  # lower-case names
    raw_path: str
    query: str
    body: bytes
    unsigned_payload: bool = False  # SigV4-signed over UNSIGNED-PAYLOAD: only operations whose model allows it


async def read_authenticated(request: Request, gateway: Gateway, limit: int,
                             routed_later: bool = False) -> tuple[RawRequest, Principal]:
    """The body and the caller. An UNSIGNED-PAYLOAD signature is refused here unless `routed_later`: an AWS call,
    whose operation (known only once routed) `check_payload_signing` checks."""
    settings = gateway.settings
    body = await read_body(request, limit, settings.request_idle_timeout_s, settings.request_body_timeout_s)
    headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in request.scope["headers"]}
    raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = f"http://{headers.get('host', 'localhost')}{raw_path}" + (f"?{query}" if query else "")
    found = gateway.auth.authenticate(request.method, url, headers, body, secure=request.url.scheme == "https")
    raw = RawRequest(headers, raw_path, query, body, found.unsigned_payload)
    if not routed_later:
        check_payload_signing(raw, None)
    return raw, found.principal


def check_payload_signing(raw: RawRequest, operation: OperationModel | None) -> None:
    """An unsigned payload is valid only where the operation's model says so (e.g. RecognizeUtterance's audio)."""
    if raw.unsigned_payload and not (operation is not None and operation.unsigned_payload):
        raise ServiceError("InvalidSignatureException", SIGNATURE_MISMATCH, 403)


def new_request_id() -> str:
    # Not uuid4(): os.urandom gives up the GIL, and getting it back from a busy model thread costs ~100 µs.
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def record(request: Request, response: Response, started: float, service: str, operation: str,
           principal: Principal | None) -> None:
    elapsed = perf_counter() - started
    request_count(service, operation, response.status_code).inc()
    request_latency(service, operation).observe(elapsed)
    if log.isEnabledFor(logging.INFO):
        log.info("request", extra={"fields": {
            "method": request.method, "path": request.scope["path"], "service": service, "operation": operation,
            "status": response.status_code, "ms": round(elapsed * 1000, 2),
            "account": principal.account_id if principal else None,
        }})


@dataclass
class Exchange:
    """One request's bookkeeping, filled in as the request is understood: what the log line and the metrics name,
    and how an error is answered (the service's error statuses; CBOR for an rpc-v2-cbor request)."""

    gateway: Gateway
    request_id: str
    service: str | None = None
    operation: str | None = None
    cbor: bool = False
    spec: ServiceSpec | None = None
    principal: Principal | None = None

    def routed(self, spec: ServiceSpec, operation: OperationModel) -> None:
        self.spec, self.service, self.operation = spec, spec.name, operation.name

    def error_response(self, error: ServiceError) -> Response:
        if self.cbor:
            return cbor_error_response(self.spec, error, self.request_id)
        return error_response(self.spec, error, self.request_id)


# A call that took longer than this is checked for a client that went away meanwhile (a 499); the check costs a few
# microseconds, not worth it on the fast calls that no client gives up on.
CHECK_DISCONNECT_AFTER_S = 0.1


async def serve(request: Request, work: Callable[[Exchange], Awaitable[Response]], service: str | None = None,
                operation: str | None = None, cbor: bool = False) -> Response:
    """What every gateway request shares around its own `work`: a request id (logs and the reply), the timer,
    errors answered as AWS errors (anything unexpected as a logged InternalFailure), one log line and the metrics."""
    exchange = Exchange(request.app.state.gateway, new_request_id(), service, operation, cbor)
    request_id_var.set(exchange.request_id)
    started = perf_counter()
    try:
        response = await work(exchange)
    except ServiceError as error:
        response = exchange.error_response(error)
    except ClientDisconnect:
        # The client hung up before its request was whole: nobody to answer, nothing wrong here. 499 (nginx's
        # "client closed request") in the log line and the metrics, not a 500.
        response = Response(status_code=499)
    except Exception:
        log.exception("unhandled error", extra={"fields": {"service": exchange.service,
                                                           "operation": exchange.operation}})
        response = exchange.error_response(internal_failure())
    if perf_counter() - started > CHECK_DISCONNECT_AFTER_S and await request.is_disconnected():
        # The client gave up while its (slow) call ran: the answer goes nowhere, and the call is a 499 as above.
        response = Response(status_code=499)
    record(request, response, started, exchange.service or "unknown", exchange.operation or "unknown",
           exchange.principal)
    return response


async def handle(request: Request, native: bool) -> Response:
    """An AWS call in any of the served protocols, or a native REST call (`native`: POST /v1/{service}/{Operation})."""

    async def work(exchange: Exchange) -> Response:
        gateway = exchange.gateway
        raw, exchange.principal = await read_authenticated(request, gateway, gateway.settings.max_request_bytes,
                                                           routed_later=True)
        headers, raw_path, query, body = raw.headers, raw.raw_path, raw.query, raw.body

        route = None
        if native:
            service_name, operation_name = request.path_params["service"], request.path_params["operation"]
            spec = service_spec(service_name)
            if operation_name not in spec.model.operation_names:
                raise ServiceError("UnknownOperationException", f"Unknown operation {operation_name!r} for {service_name}", 404)
            operation = spec.operation(operation_name)
            exchange.routed(spec, operation)
            params = read_input(operation, fill_idempotency_tokens(operation, decode_json_body(body)))
        elif exchange.cbor:
            spec, operation = route_cbor_path(raw_path)
            exchange.routed(spec, operation)
            params = read_input(operation, decode_cbor_body(body), binary=True)
        elif "x-amz-target" in headers:
            spec, operation = route_json_target(headers["x-amz-target"])
            exchange.routed(spec, operation)
            params = read_input(operation, decode_json_body(body))
        elif request.method == "POST" and raw_path == "/":
            raise unknown_operation("Missing X-Amz-Target header")
        else:
            scope = gateway.auth.scope_of(headers)
            query_keys = {key for key, _ in parse_qsl(query, keep_blank_values=True)}
            route, labels = gateway.router.match(request.method, raw_path, query_keys, scope.service if scope else None)
            spec, operation = route.spec, route.operation
            exchange.routed(spec, operation)
            params = read_rest_input(route, IncomingRequest(request.method, raw_path, query, headers, body), labels)

        check_payload_signing(raw, operation)
        result = await gateway.dispatcher.call(spec, operation, exchange.principal, params, exchange.request_id)
        reply_headers = {"x-amzn-RequestId": exchange.request_id}
        if exchange.cbor:
            return cbor_response(200, write_output(operation, result, binary=True), reply_headers)
        if spec.protocol == "rest-json" and (route is not None or _has_blob_payload(operation)):
            return rest_response(spec, operation, result, reply_headers)
        return json_response(spec, 200, write_output(operation, result), reply_headers)

    # Known before the body is read, so that even a too-large or unauthenticated CBOR request is answered in CBOR.
    cbor = not native and request.headers.get(SMITHY_PROTOCOL_HEADER) == RPC_V2_CBOR
    return await serve(request, work, cbor=cbor)


BLOB_ERRORS: list[tuple[type[BlobError], str, int]] = [
    (BlobNotFound, "NoSuchKey", 404),
    (BlobAccessDenied, "AccessDenied", 403),
    (BlobTooLarge, "EntityTooLarge", 413),
    (InvalidBlobUri, "InvalidURI", 400),
]


async def handle_jobs(request: Request, job_id: str | None) -> Response:
    """GET /v1/jobs[/{id}]: every async job of the caller with status and progress, whatever its service."""

    async def work(exchange: Exchange) -> Response:
        gateway = exchange.gateway
        store = gateway.runtime.jobs.store
        _, principal = await read_authenticated(request, gateway, gateway.settings.max_request_bytes)
        exchange.principal = principal
        if job_id is None:
            found, token = await run_in_threadpool(store.list, principal, None, request.query_params.get("status"),
                                                   None, None, None, request.query_params.get("next_token"), 100)
            return JSONResponse({"Jobs": [job.summary() for job in found], "NextToken": token})
        job = await run_in_threadpool(store.get, principal, None, job_id)
        if job is None:
            raise ServiceError("ResourceNotFoundException", f"Job {job_id} does not exist.", 404)
        return JSONResponse(job.summary())

    return await serve(request, work, "jobs", "GetJob" if job_id else "ListJobs")


async def handle_blob(request: Request) -> Response:
    """GET/PUT/HEAD /v1/blobs/{bucket}/{key}: move media in and results out of the blob store over plain HTTP
    (the local folder store by default, the configured S3 endpoint otherwise), as the calling account."""
    uri = f"s3://{request.path_params['bucket']}/{request.path_params['key']}"

    async def work(exchange: Exchange) -> Response:
        gateway = exchange.gateway
        blobs = gateway.runtime.blobs
        reply_headers = {"x-amzn-RequestId": exchange.request_id}
        raw, principal = await read_authenticated(request, gateway, gateway.settings.max_blob_upload_bytes)
        exchange.principal = principal
        try:
            if request.method == "PUT":
                content_type = raw.headers.get("content-type")
                await run_in_threadpool(blobs.write, uri, raw.body, principal.account_id, content_type)
                return Response(status_code=200, headers=reply_headers)
            if request.method == "HEAD":
                found = await run_in_threadpool(blobs.exists, uri, principal.account_id)
                return Response(status_code=200 if found else 404, headers=reply_headers)
            data = await run_in_threadpool(blobs.read, uri, principal.account_id)
            return Response(data, media_type="application/octet-stream", headers=reply_headers)
        except BlobError as error:
            code, status = next((code, status) for kind, code, status in BLOB_ERRORS if isinstance(error, kind))
            raise ServiceError(code, error.message, status) from None

    return await serve(request, work, "blobs", request.method)


def _has_blob_payload(operation) -> bool:
    shape = operation.output_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    return bool(payload) and shape.members[payload].type_name in ("blob", "string")


def create_app(settings: Settings, runtime: Runtime | None = None, listen_queues: list[str] | None = None) -> FastAPI:
    """`runtime` is built and its job engine launched in the lifespan unless one is passed in."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # DBOS's start-up calls block and refuse to run on the event loop.
        rt = runtime or await run_in_threadpool(Runtime.build, settings)
        await run_in_threadpool(rt.jobs.launch,
                                listen_queues if listen_queues is not None else (None if settings.run_workers else []))
        REGISTRY.register(collector := JobsCollector(rt.jobs.store.counts))
        app.state.gateway = Gateway(rt)
        log.info("gateway ready", extra={"fields": {"data_dir": str(settings.data_dir), "auth": settings.auth_mode}})
        try:
            yield
        finally:
            REGISTRY.unregister(collector)
            await run_in_threadpool(rt.close)

    app = FastAPI(title="aigate", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready(request: Request) -> Response:
        try:
            request.app.state.gateway.runtime.db.ping()
        except Exception as error:  # the database is the one thing every request needs
            return JSONResponse({"status": "unavailable", "reason": type(error).__name__}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", include_in_schema=False)
    async def models_report(request: Request) -> Response:
        # It shows where weights are on disk: in sigv4 mode only to a caller with a key.
        async def work(exchange: Exchange) -> Response:
            gateway = exchange.gateway
            _, exchange.principal = await read_authenticated(request, gateway, gateway.settings.max_request_bytes)
            return JSONResponse(gateway.runtime.models.describe())

        return await serve(request, work)

    @app.get("/v1/coverage", include_in_schema=False)
    async def coverage_report(request: Request) -> dict[str, Any]:
        return coverage(request.app.state.gateway.runtime.providers)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document(request: Request) -> JSONResponse:
        return JSONResponse(openapi.document(request.app.state.gateway.runtime.providers))

    @app.get("/docs", include_in_schema=False)
    async def docs_page(request: Request) -> HTMLResponse:
        return HTMLResponse(openapi.docs_html(request.app.state.gateway.runtime.providers))

    @app.get("/v1/jobs", include_in_schema=False)
    async def jobs_list(request: Request) -> Response:
        return await handle_jobs(request, None)

    @app.get("/v1/jobs/{job_id}", include_in_schema=False)
    async def job_detail(request: Request, job_id: str) -> Response:
        return await handle_jobs(request, job_id)

    @app.api_route("/v1/blobs/{bucket}/{key:path}", methods=["GET", "PUT", "HEAD"], include_in_schema=False)
    async def blob(request: Request) -> Response:
        return await handle_blob(request)

    @app.websocket("/{path:path}")
    async def streaming(websocket: WebSocket) -> None:
        # Streaming APIs (e.g. Transcribe's) are registered by their service providers.
        runtime = websocket.app.state.gateway.runtime
        path = "/" + websocket.path_params["path"]
        handler = next((found for provider in runtime.providers.values()
                        if (found := provider.websockets.get(path))), None)
        if handler is None:
            await websocket.close(code=1008, reason=f"No streaming endpoint at {path}")
            return
        await handler(websocket, runtime)

    @app.post("/v1/{service}/{operation}", include_in_schema=False)
    async def native(request: Request) -> Response:
        # Paths like Polly's own /v1/... that name no served service belong to the AWS routes.
        return await handle(request, native=request.path_params["service"] in SERVED_SERVICES)

    @app.api_route("/{path:path}", methods=ALL_METHODS, include_in_schema=False)
    async def aws(request: Request) -> Response:
        return await handle(request, native=False)

    return app


# The app's own routes; every other path is an AWS call that the catch-all route would give to `handle`.
APP_PATHS = frozenset({"/health", "/ready", "/metrics", "/openapi.json", "/docs"})


class AwsCallFastPath:
    """ASGI front of the FastAPI app: AWS calls (every HTTP request but the app's own paths and /v1/..., which holds
    the native API and Polly's rest-json paths) go straight to `handle`, past FastAPI's router and middleware stack,
    which cost a quarter of the serving process's work on a DetectEntities call and more on a rest-json
    GetRecommendations; everything else goes to the app. `handle` enforces the body limit and turns every error into
    an AWS error itself, so the answer is the same either way."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    @property
    def state(self):
        return self.app.state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and _is_aws_call(scope):
            scope["app"] = self.app  # what Request.app reads
            response = await handle(Request(scope, receive), native=False)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_aws_call(scope) -> bool:
    path = scope["path"]
    return scope["method"] in ALL_METHODS and path not in APP_PATHS and not path.startswith("/v1/")
