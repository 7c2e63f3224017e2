"""The native REST API's OpenAPI document and docs page, built from the same botocore shapes the AWS protocol
layer validates against, for the operations that are implemented."""

from __future__ import annotations

import html
import re
from typing import Any

from botocore.model import Shape

from services.gateway.protocol.service_models import service_spec
from services.gateway.registry import ServiceProvider

_SCALARS = {
    "string": {"type": "string"},
    "integer": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "float": {"type": "number", "format": "float"},
    "double": {"type": "number", "format": "double"},
    "boolean": {"type": "boolean"},
    "blob": {"type": "string", "contentEncoding": "base64"},
    "timestamp": {"type": "number", "description": "seconds since the epoch (ISO 8601 accepted on input)"},
}


def _schema(shape: Shape, components: dict[str, Any], prefix: str) -> dict[str, Any]:
    name = f"{prefix}.{shape.name}"
    kind = shape.type_name
    if kind == "structure":
        if name not in components:
            components[name] = {}  # placeholder first: shapes can be recursive
            properties = {member: _schema(member_shape, components, prefix)
                          for member, member_shape in shape.members.items()}
            body: dict[str, Any] = {"type": "object", "properties": properties}
            if shape.required_members:
                body["required"] = list(shape.required_members)
            if shape.documentation:
                body["description"] = _text(shape.documentation)
            components[name] = body
        return {"$ref": f"#/components/schemas/{name}"}
    if kind == "list":
        schema: dict[str, Any] = {"type": "array", "items": _schema(shape.member, components, prefix)}
        _bounds(shape, schema, "minItems", "maxItems")
        return schema
    if kind == "map":
        return {"type": "object", "additionalProperties": _schema(shape.value, components, prefix)}
    if kind == "document":
        return {}
    schema = dict(_SCALARS[kind])
    meta = shape.metadata
    if kind == "string":
        _bounds(shape, schema, "minLength", "maxLength")
        if meta.get("enum"):
            schema["enum"] = list(meta["enum"])
        if meta.get("pattern"):
            schema["pattern"] = meta["pattern"]
    elif kind in ("integer", "long", "float", "double"):
        _bounds(shape, schema, "minimum", "maximum")
    return schema


def _bounds(shape: Shape, schema: dict[str, Any], low: str, high: str) -> None:
    if "min" in shape.metadata:
        schema[low] = shape.metadata["min"]
    if "max" in shape.metadata:
        schema[high] = shape.metadata["max"]


def _text(documentation: str) -> str:
    # botocore documentation is HTML; a plain first sentence reads better in a schema.
    plain = re.sub(r"<[^>]+>", "", documentation).strip()
    return plain.split(". ")[0][:300]


def document(providers: dict[str, ServiceProvider]) -> dict[str, Any]:
    components: dict[str, Any] = {"AwsError": {
        "type": "object",
        "properties": {"__type": {"type": "string"}, "message": {"type": "string"}},
    }}
    paths: dict[str, Any] = {}
    for service, provider in providers.items():
        spec = service_spec(service)
        for name in sorted(provider.operations):
            operation = spec.operation(name)
            post: dict[str, Any] = {
                "operationId": f"{service}.{name}",
                "tags": [service],
                "summary": _text(operation.documentation or name),
                "responses": {
                    "200": {"description": "Success"},
                    "400": {"description": "Client error (ValidationException, ...)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AwsError"}}}},
                },
            }
            if operation.input_shape is not None:
                post["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": _schema(operation.input_shape, components, service)}}}
            if operation.output_shape is not None:
                post["responses"]["200"]["content"] = {"application/json": {
                    "schema": _schema(operation.output_shape, components, service)}}
            paths[f"/v1/{service}/{name}"] = {"post": post}
    return {
        "openapi": "3.1.0",
        "info": {"title": "aigate native REST API", "version": "1",
                 "description": "Every implemented AWS operation as POST /v1/{service}/{Operation} with plain JSON. "
                                "The same operations answer the AWS wire protocols for the AWS SDKs."},
        "paths": paths,
        "components": {"schemas": components},
    }


def docs_html(providers: dict[str, ServiceProvider]) -> str:
    """A self-contained page (no CDN): each operation with its input and output members."""
    rows = []
    for service, provider in providers.items():
        spec = service_spec(service)
        if not provider.operations:
            continue
        rows.append(f"<h2>{html.escape(service)}</h2>")
        for name in sorted(provider.operations):
            operation = spec.operation(name)
            rows.append(f"<h3>POST /v1/{html.escape(service)}/{html.escape(name)}</h3>")
            rows.append(f"<p>{html.escape(_text(operation.documentation or ''))}</p>")
            for label, shape in (("Input", operation.input_shape), ("Output", operation.output_shape)):
                if shape is None:
                    continue
                items = "".join(
                    f"<li><code>{html.escape(member)}</code> {html.escape(member_shape.type_name)}"
                    f"{' (required)' if member in shape.required_members else ''}</li>"
                    for member, member_shape in shape.members.items())
                rows.append(f"<p>{label}</p><ul>{items}</ul>")
    body = "\n".join(rows) or "<p>No operations are implemented yet.</p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>aigate API</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}code{background:#eee}</style></head>"
        f"<body><h1>aigate native REST API</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. "
        f"Coverage: <a href='/v1/coverage'>/v1/coverage</a>.</p>{body}</body></html>"
    )
