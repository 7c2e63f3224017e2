"""The smithy-rpc-v2-cbor protocol, which botocore >= 1.44 models list first for Comprehend, Translate, Transcribe
and Textract (`metadata["protocols"] == ["smithy-rpc-v2-cbor", "json"]`).

- Request: `POST /service/{ServiceName}/operation/{OperationName}` with `smithy-protocol: rpc-v2-cbor` and the
  input structure as one CBOR map (an empty body is an empty input). {ServiceName} is the model's targetPrefix,
  as botocore's RpcV2CBORSerializer writes it.
- Response: `smithy-protocol: rpc-v2-cbor`, `Content-Type: application/cbor`, the output structure as a CBOR map.
- Error: the status and code the JSON protocols give, body `{"__type": code, "message": ...}` (what
  botocore's RpcV2CBORParser reads).

The values in between are the JSON protocol's: `read_input` / `write_output` with `binary=True` walk the same
botocore shapes with the same checks, taking blobs as byte strings and timestamps as tag-1 datetimes.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import unquote

import cbor2
from botocore.model import OperationModel
from starlette.responses import Response

from services.gateway.errors import ServiceError, serialization_error
from services.gateway.protocol.service_models import ServiceSpec, specs_by_cbor_service

SMITHY_PROTOCOL_HEADER = "smithy-protocol"
RPC_V2_CBOR = "rpc-v2-cbor"
CBOR_CONTENT_TYPE = "application/cbor"
PATH_PREFIX = "/service/"


def is_cbor_request(headers: dict[str, str]) -> bool:
    """`headers` with lower-case names; the header, not the path, decides, as it does for botocore's clients."""
    return headers.get(SMITHY_PROTOCOL_HEADER) == RPC_V2_CBOR


def route_cbor_path(raw_path: str) -> tuple[ServiceSpec, OperationModel]:
    """`/service/{ServiceName}/operation/{OperationName}` -> the service and operation."""
    parts = raw_path.split("/")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "service" or parts[3] != "operation":
        raise ServiceError("UnknownOperationException",
                           f"rpc-v2-cbor requests go to /service/{{ServiceName}}/operation/{{Operation}}, not {raw_path}",
                           404)
    # A Smithy shape id ("com.amazonaws.comprehend#Comprehend_20171127") names the same service.
    service_name = unquote(parts[2]).rpartition("#")[2]
    operation_name = unquote(parts[4])
    spec = specs_by_cbor_service().get(service_name)
    if spec is None:
        raise ServiceError("UnknownOperationException", f"Unknown rpc-v2-cbor service {service_name!r}", 404)
    if operation_name not in spec.model.operation_names:
        raise ServiceError("UnknownOperationException", f"Unknown operation {operation_name!r} for {spec.name}", 404)
    return spec, spec.operation(operation_name)


def _refuse_shared_value(*_: Any) -> Any:
    raise ValueError("shared values (tags 28/29) are not part of rpc-v2-cbor")


# Value sharing can build cyclic containers, which the shape walk would recurse into forever; the protocol never
# uses it. Other tags decode as cbor2 does (tag 1 to an aware datetime) and meet the shape's type checks.
_SEMANTIC_DECODERS = {28: _refuse_shared_value, 29: _refuse_shared_value}


def decode_cbor_body(body: bytes) -> dict[str, Any]:
    """One CBOR map, or {} for an empty body; anything else is the client's SerializationException."""
    if not body:
        return {}
    stream = io.BytesIO(body)
    try:
        value = cbor2.CBORDecoder(stream, semantic_decoders=_SEMANTIC_DECODERS).decode()
    except Exception as error:  # noqa: BLE001 - any failure to decode untrusted bytes is a malformed body
        raise serialization_error(f"Malformed CBOR in request body: {error}") from None
    if stream.read(1):
        raise serialization_error("Malformed CBOR in request body: data after the first item")
    if not isinstance(value, dict):
        raise serialization_error("The request body must be a CBOR map")
    return value


def encode_cbor(value: Any) -> bytes:
    # datetime_as_timestamp: tag 1 (epoch seconds), the only timestamp form botocore's CBOR parser reads.
    return cbor2.dumps(value, datetime_as_timestamp=True, timezone=dt.timezone.utc)


def cbor_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> Response:
    # An output is always a map, even an empty one: botocore parses the body against the output shape.
    headers[SMITHY_PROTOCOL_HEADER] = RPC_V2_CBOR
    return Response(encode_cbor(body), status_code=status, headers=headers, media_type=CBOR_CONTENT_TYPE)


def cbor_error_response(spec: ServiceSpec | None, error: ServiceError, request_id: str) -> Response:
    status = error.status or (spec.error_status(error.code) if spec else 400)
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error.code}
    return cbor_response(status, {"__type": error.code, "message": error.message}, headers)
