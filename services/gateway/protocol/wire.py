"""HTTP requests in, AWS responses out, for the JSON protocols the served services use.

- JSON 1.0/1.1 (`awsJson`): `POST /` with `X-Amz-Target: <targetPrefix>.<Operation>` and the input as a JSON body.
- rest-json: the operation is found from method + path against each operation's `requestUri`; members come from
  the path, query string, headers and body (or a payload member). Where paths of two services could both match,
  the service named in the SigV4 credential scope wins.

The binary smithy-rpc-v2-cbor protocol lives in `cbor.py` and shares `read_input` / `write_output`.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterator
from urllib.parse import parse_qsl, unquote

import orjson
import regex
from botocore.handlers import generate_idempotent_uuid
from botocore.model import OperationModel, Shape
from starlette.concurrency import iterate_in_threadpool
from starlette.responses import Response, StreamingResponse

from services.gateway.errors import ServiceError, serialization_error, unknown_operation
from services.gateway.protocol.service_models import ServiceSpec, all_specs, specs_by_target_prefix
from services.gateway.protocol.shapes import (
    ConstraintViolations,
    check_required,
    parse_timestamp,
    read_structure_members,
    read_value,
    write_structure_members,
    write_value,
)


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    path: str  # raw, still percent-encoded
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes


def decode_json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise serialization_error(f"Malformed JSON in request body: {error}") from None
    if not isinstance(value, dict):
        raise serialization_error("The request body must be a JSON object")
    return value


def read_input(operation: OperationModel, wire: dict[str, Any], binary: bool = False) -> dict[str, Any]:
    """Read and validate an operation's whole input given as one object: decoded JSON (awsJson, native REST,
    orchestrator) or, with `binary`, decoded CBOR (rpc-v2-cbor)."""
    shape = operation.input_shape
    if shape is None:
        return {}
    violations = ConstraintViolations()
    params = read_structure_members(shape, wire, "", violations, body_only=False, binary=binary)
    check_required(shape, params, "", violations)
    violations.raise_if_any()
    return params


def write_output(operation: OperationModel, result: dict[str, Any] | None, binary: bool = False) -> dict[str, Any]:
    shape = operation.output_shape
    if shape is None or not result:
        return {}
    return write_structure_members(shape, result, skip_locations=False, binary=binary)


# ---------------------------------------------------------------- awsJson


def route_json_target(target: str) -> tuple[ServiceSpec, OperationModel]:
    prefix, _, operation_name = target.rpartition(".")
    spec = specs_by_target_prefix().get(prefix)
    if spec is None:
        raise unknown_operation(f"Unknown target prefix {prefix!r} in X-Amz-Target {target!r}")
    if operation_name not in spec.model.operation_names:
        raise unknown_operation(f"Unknown operation {operation_name!r} for {spec.name}")
    return spec, spec.operation(operation_name)


def json_response(spec: ServiceSpec | None, status: int, body: dict[str, Any], headers: dict[str, str]) -> Response:
    media_type = spec.json_content_type if spec else "application/json"
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=media_type)


# ---------------------------------------------------------------- rest-json


@dataclass(frozen=True)
class RestRoute:
    spec: ServiceSpec
    operation: OperationModel
    method: str
    pattern: regex.Pattern
    literal_chars: int
    required_query: frozenset[str]
    prefix: str  # the URI's literal start, checked before the pattern: most routes fail it


def _compile_request_uri(uri: str) -> tuple[regex.Pattern, int, frozenset[str], str]:
    path, _, query = uri.partition("?")
    parts, literal = [], 0
    for piece in regex.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            if name.endswith("+"):
                parts.append(f"(?P<{name[:-1]}>.+)")
            else:
                parts.append(f"(?P<{name}>[^/]+)")
        else:
            parts.append(regex.escape(piece))
            literal += len(piece)
    required = frozenset(item.partition("=")[0] for item in query.split("&") if item)
    return regex.compile("^" + "".join(parts) + "/?$"), literal, required, path.partition("{")[0]


class RestRouter:
    def __init__(self, specs: list[ServiceSpec]):
        routes: list[RestRoute] = []
        for spec in specs:
            for name in spec.operation_names:
                operation = spec.operation(name)
                pattern, literal, required, prefix = _compile_request_uri(operation.http["requestUri"])
                routes.append(RestRoute(spec, operation, operation.http["method"], pattern, literal, required, prefix))
        # Most specific first: more literal characters, then fixed query keys.
        routes.sort(key=lambda r: (r.literal_chars, len(r.required_query)), reverse=True)
        self.by_method: dict[str, list[RestRoute]] = {}
        for route in routes:
            self.by_method.setdefault(route.method, []).append(route)

    def match(
        self, method: str, path: str, query_keys: set[str], signing_name: str | None
    ) -> tuple[RestRoute, dict[str, str]]:
        candidates = []
        for route in self.by_method.get(method, ()):
            if not path.startswith(route.prefix) or not route.required_query <= query_keys:
                continue
            found = route.pattern.match(path)
            if found:
                candidates.append((route, found.groupdict()))
        if not candidates:
            raise ServiceError("UnknownOperationException", f"No operation matches {method} {path}", 404)
        if signing_name:
            scoped = [c for c in candidates if c[0].spec.signing_name == signing_name]
            candidates = scoped or candidates
        route, labels = candidates[0]
        return route, {name: unquote(value) for name, value in labels.items()}


def _coerce_text(shape: Shape, text: str, path: str, location: str) -> Any:
    kind = shape.type_name
    try:
        if kind == "string":
            if shape.serialization.get("jsonvalue"):
                return orjson.loads(base64.b64decode(text))
            return text
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text not in ("true", "false"):
                raise ValueError(text)
            return text == "true"
        if kind == "timestamp":
            if location == "header" and not text.replace(".", "", 1).isdigit():
                return email.utils.parsedate_to_datetime(text)
            return parse_timestamp(text, path)
        if kind == "blob":
            return base64.b64decode(text)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise serialization_error(f"Invalid value {text!r} for '{path}'") from None
    raise serialization_error(f"Unsupported {kind} in {location} for '{path}'")


def _read_located_member(member: Shape, location: str, wire_name: str, request: IncomingRequest,
                         labels: dict[str, str], query: list[tuple[str, str]]) -> Any:
    """The raw value of one path/query/header member, coerced from text; None when absent."""
    if location == "uri":
        text = labels.get(wire_name)
        return None if text is None else _coerce_text(member, text, wire_name, location)
    if location == "querystring":
        values = [value for key, value in query if key == wire_name]
        if not values:
            return None
        if member.type_name == "list":
            return [_coerce_text(member.member, value, wire_name, location) for value in values]
        return _coerce_text(member, values[0], wire_name, location)
    if location == "header":
        text = request.headers.get(wire_name.lower())
        if text is None:
            return None
        if member.type_name == "list":
            return [_coerce_text(member.member, item.strip(), wire_name, location) for item in text.split(",")]
        return _coerce_text(member, text, wire_name, location)
    return None


def read_rest_input(route: RestRoute, request: IncomingRequest, labels: dict[str, str]) -> dict[str, Any]:
    shape = route.operation.input_shape
    if shape is None:
        return {}
    violations = ConstraintViolations()
    query = parse_qsl(request.query_string, keep_blank_values=True)
    params: dict[str, Any] = {}
    named_query_keys = set()
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "querystring" and member.type_name != "map":
            named_query_keys.add(wire_name)
        if location == "headers":  # a map of every header with this prefix
            prefix = wire_name.lower()
            found = {key[len(prefix):]: value for key, value in request.headers.items() if key.startswith(prefix)}
            if found:
                params[name] = found
            continue
        value = _read_located_member(member, location, wire_name, request, labels, query) if location else None
        if value is None:
            continue
        if member.serialization.get("jsonvalue"):
            params[name] = value  # decoded JSON, not the string the shape describes
        else:
            params[name] = read_value(member, value, name[:1].lower() + name[1:], violations)
    for name, member in shape.members.items():
        if member.serialization.get("location") == "querystring" and member.type_name == "map":
            rest = {key: value for key, value in query if key not in named_query_keys}
            if rest:
                params[name] = rest

    payload_name = shape.serialization.get("payload")
    if payload_name:
        member = shape.members[payload_name]
        if member.type_name == "blob":
            params[payload_name] = request.body
        elif member.type_name == "string":
            params[payload_name] = request.body.decode("utf-8", errors="replace")
        elif request.body.strip():
            params[payload_name] = read_value(member, decode_json_body(request.body), payload_name, violations)
    else:
        params.update(read_structure_members(shape, decode_json_body(request.body), "", violations, body_only=True))
    check_required(shape, params, "", violations)
    violations.raise_if_any()
    return params


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(orjson.dumps(value)).decode()
    if shape.type_name == "timestamp" and isinstance(value, dt.datetime):
        return email.utils.format_datetime(value.astimezone(dt.timezone.utc), usegmt=True)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "list":
        return ",".join(str(item) for item in value)
    return str(value)


def rest_response(spec: ServiceSpec, operation: OperationModel, result: dict[str, Any], headers: dict[str, str]) -> Response:
    status = operation.http.get("responseCode", 200)
    shape = operation.output_shape
    if shape is None:
        return Response(b"", status_code=status, headers=headers)
    result = result or {}
    for name, member in shape.members.items():
        value = result.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        if location == "header":
            headers[member.serialization.get("name", name)] = _header_text(member, value)
        elif location == "headers":
            prefix = member.serialization.get("name", "")
            headers.update({prefix + key: str(item) for key, item in value.items()})
        elif location == "statusCode":
            status = int(value)
    payload_name = shape.serialization.get("payload")
    if payload_name:
        member = shape.members[payload_name]
        payload = result.get(payload_name)
        if member.type_name in ("blob", "string"):
            media_type = headers.pop("Content-Type", None) or "application/octet-stream"
            if payload is None or isinstance(payload, (bytes, str)):
                return Response(payload or b"", status_code=status, headers=headers, media_type=media_type)
            return StreamingResponse(_iterate(payload), status_code=status, headers=headers, media_type=media_type)
        body = write_value(member, payload, payload_name) if payload is not None else {}
        return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")
    body = write_structure_members(shape, result)
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


async def _iterate(payload: Iterator[bytes] | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if hasattr(payload, "__aiter__"):
        async for chunk in payload:  # type: ignore[union-attr]
            yield chunk
    else:
        # A sync generator may do model work per chunk: run it off the event loop.
        async for chunk in iterate_in_threadpool(payload):  # type: ignore[arg-type]
            yield chunk


def rest_router() -> RestRouter:
    return RestRouter([spec for spec in all_specs().values() if spec.protocol == "rest-json"])


# ---------------------------------------------------------------- errors


def error_response(spec: ServiceSpec | None, error: ServiceError, request_id: str) -> Response:
    status = error.status or (spec.error_status(error.code) if spec else 400)
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code}
    return json_response(spec, status, {"__type": error.code, "message": error.message}, headers)


# ---------------------------------------------------------------- native REST


def fill_idempotency_tokens(operation: OperationModel, wire: dict[str, Any]) -> dict[str, Any]:
    """What the AWS SDKs do before sending: each top-level member marked `idempotencyToken` in the model that the
    caller left out gets a fresh uuid4 (botocore's own handler does it). Native REST callers send plain JSON, so
    the gateway fills them for them."""
    filled = dict(wire)
    generate_idempotent_uuid(filled, operation)
    return filled
