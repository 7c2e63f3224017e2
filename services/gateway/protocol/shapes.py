"""Reading wire values into Python and writing them back, against botocore shapes.

`read_value` turns a decoded JSON value into Python (base64 blobs to bytes, timestamps to datetimes), raising
SerializationException where the JSON type is wrong, and collects the constraint violations AWS reports as
ValidationException (required members, lengths, ranges, enums, patterns), worded as AWS words them:
"2 validation errors detected: Value null at 'text' failed to satisfy constraint: Member must not be null; ...".

`write_value` is the inverse for outputs. An output member the shape does not define is a bug in the service,
so it fails loudly instead of sending clients something their SDK cannot parse.

`binary=True` is the same walk for CBOR (smithy-rpc-v2-cbor): blobs travel as byte strings instead of base64 text
and timestamps as tag-1 epoch values (datetimes in and out of cbor2) instead of epoch numbers. Everything else —
types, constraint checks, messages — is shared, so both protocols validate alike.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
from functools import lru_cache
from typing import Any

import regex
from botocore.model import Shape

from services.gateway.errors import ServiceError, internal_failure, serialization_error, validation_error

# Members placed outside the JSON body in rest-json; body readers and writers skip them.
NON_BODY_LOCATIONS = frozenset({"uri", "querystring", "header", "headers", "statusCode"})


@lru_cache(maxsize=2048)
def _compiled(pattern: str) -> regex.Pattern | None:
    try:
        return regex.compile(pattern)
    except regex.error:
        return None  # a construct only Java supports: leave the check to the service


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bytes):
        return "java.nio.HeapByteBuffer"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v).strip("'") for v in value) + "]"
    return str(value)


def _member_path(parent: str, name: str) -> str:
    lowered = name[:1].lower() + name[1:]
    return f"{parent}.{lowered}" if parent else lowered


class ConstraintViolations:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, value: Any, path: str, constraint: str, sensitive: bool = False) -> None:
        shown = "" if sensitive else f" {_render(value)}"
        self.messages.append(f"Value{shown} at '{path}' failed to satisfy constraint: {constraint}")

    def raise_if_any(self) -> None:
        if not self.messages:
            return
        count = len(self.messages)
        noun = "error" if count == 1 else "errors"
        raise validation_error(f"{count} validation {noun} detected: " + "; ".join(self.messages))


def _type_error(path: str, expected: str, value: Any) -> ServiceError:
    return serialization_error(f"Expected {expected} at '{path or 'body'}', got {type(value).__name__}")


def parse_timestamp(value: Any, path: str) -> dt.datetime:
    if isinstance(value, bool):
        raise _type_error(path, "a timestamp", value)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, str):
        try:
            return dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
        except ValueError:
            pass
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise serialization_error(f"Invalid timestamp {value!r} at '{path}'") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    raise _type_error(path, "a timestamp", value)


def _check_constraints(shape: Shape, value: Any, path: str, violations: ConstraintViolations) -> None:
    meta = shape.metadata
    sensitive = bool(meta.get("sensitive"))
    kind = shape.type_name
    if kind in ("string", "blob", "list", "map"):
        size = len(value)
        if "min" in meta and size < meta["min"]:
            violations.add(value, path, f"Member must have length greater than or equal to {meta['min']}", sensitive)
        if "max" in meta and size > meta["max"]:
            violations.add(value, path, f"Member must have length less than or equal to {meta['max']}", sensitive)
    elif kind in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            violations.add(value, path, f"Member must have value greater than or equal to {meta['min']}", sensitive)
        if "max" in meta and value > meta["max"]:
            violations.add(value, path, f"Member must have value less than or equal to {meta['max']}", sensitive)
    if kind == "string":
        enum = meta.get("enum")
        if enum and value not in enum:
            violations.add(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]", sensitive)
        pattern = meta.get("pattern")
        # AWS matches constraint patterns against the whole value (Java's Pattern.matches).
        if pattern and value:
            compiled = _compiled(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                violations.add(value, path, f"Member must satisfy regular expression pattern: {pattern}", sensitive)


def _read_binary_timestamp(value: Any, path: str) -> dt.datetime:
    # cbor2 decodes tag 1 to an aware datetime; an untagged epoch number is taken too, text is not.
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, str):
        raise _type_error(path, "a timestamp", value)
    return parse_timestamp(value, path)


def read_value(shape: Shape, value: Any, path: str, violations: ConstraintViolations, binary: bool = False) -> Any:
    """Decode one wire value of `shape`; type errors raise, constraint errors are collected."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        return read_structure_members(shape, value, path, violations, body_only=False, binary=binary)
    if kind == "list":
        if not isinstance(value, list):
            raise _type_error(path, "a list", value)
        item_path = f"{path}.member" if path else "member"
        result = [read_value(shape.member, item, item_path, violations, binary) for item in value]
    elif kind == "map":
        if not isinstance(value, dict):
            raise _type_error(path, "a map", value)
        result = {
            read_value(shape.key, key, f"{path}.key", violations, binary):
                read_value(shape.value, item, f"{path}.value", violations, binary)
            for key, item in value.items()
        }
    elif kind == "string":
        if not isinstance(value, str):
            raise _type_error(path, "a string", value)
        result = value
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise _type_error(path, "an integer", value)
        result = value
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(path, "a number", value)
        result = float(value)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(path, "a boolean", value)
        result = value
    elif kind == "blob" and binary:
        if not isinstance(value, (bytes, bytearray)):
            raise _type_error(path, "a byte string", value)
        result = bytes(value)
    elif kind == "blob":
        if not isinstance(value, str):
            raise _type_error(path, "a base64 string", value)
        try:
            result = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise serialization_error(f"Invalid base64 value at '{path}'") from None
    elif kind == "timestamp":
        return _read_binary_timestamp(value, path) if binary else parse_timestamp(value, path)
    else:  # document: any JSON
        return value
    _check_constraints(shape, result, path, violations)
    return result


def read_structure_members(
    shape: Shape, value: dict, path: str, violations: ConstraintViolations, body_only: bool, binary: bool = False
) -> dict:
    """Read the members of a structure found in `value`; unknown keys are ignored, as AWS does."""
    result: dict[str, Any] = {}
    for name, member in shape.members.items():
        if body_only and member.serialization.get("location") in NON_BODY_LOCATIONS:
            continue
        item = value.get(member.serialization.get("name", name))
        if item is None:
            continue
        result[name] = read_value(member, item, _member_path(path, name), violations, binary)
    return result


def check_required(shape: Shape, value: dict, path: str, violations: ConstraintViolations) -> None:
    """Required members, recursively, after all locations of a request have been read."""
    for name in shape.required_members:
        if value.get(name) is None:
            violations.add(None, _member_path(path, name), "Member must not be null")
    for name, item in value.items():
        member = shape.members.get(name)
        if member is None:
            continue
        _check_required_nested(member, item, _member_path(path, name), violations)


def _check_required_nested(shape: Shape, value: Any, path: str, violations: ConstraintViolations) -> None:
    if shape.type_name == "structure" and isinstance(value, dict):
        check_required(shape, value, path, violations)
    elif shape.type_name == "list" and isinstance(value, list):
        for item in value:
            _check_required_nested(shape.member, item, f"{path}.member", violations)
    elif shape.type_name == "map" and isinstance(value, dict):
        for item in value.values():
            _check_required_nested(shape.value, item, f"{path}.value", violations)


def write_value(shape: Shape, value: Any, path: str = "", binary: bool = False) -> Any:
    """Encode a Python value of `shape` as JSON (blobs base64, timestamps epoch seconds), or with `binary` for CBOR
    (blobs bytes, timestamps aware datetimes, which the CBOR encoder writes as tag 1)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise internal_failure(f"output {path or shape.name} is not a structure")
        return write_structure_members(shape, value, path, binary=binary)
    if kind == "list":
        return [write_value(shape.member, item, f"{path}[]", binary) for item in value]
    if kind == "map":
        return {key: write_value(shape.value, item, f"{path}.{key}", binary) for key, item in value.items()}
    if kind == "blob":
        if isinstance(value, str):
            value = value.encode()
        elif not isinstance(value, (bytes, bytearray)):
            value = b"".join(value)  # a streamed payload, written whole into the body
        return bytes(value) if binary else base64.b64encode(value).decode("ascii")
    if kind == "timestamp" and binary:
        return _write_binary_timestamp(value, path)
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.timezone.utc)
            return value.timestamp()
        return value
    if kind in ("float", "double") and isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_binary_timestamp(value: Any, path: str) -> dt.datetime:
    # botocore's CBOR parser takes only tag 1 (epoch) for timestamps, whatever form the handler returned.
    if not isinstance(value, dt.datetime):
        try:
            value = parse_timestamp(value, path)
        except ServiceError:
            raise internal_failure(f"output {path} is not a timestamp") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def write_structure_members(shape: Shape, value: dict, path: str = "", skip_locations: bool = True,
                            binary: bool = False) -> dict:
    result: dict[str, Any] = {}
    for name, item in value.items():
        if item is None:
            continue
        member = shape.members.get(name)
        if member is None:
            raise internal_failure(f"output member {path + '.' if path else ''}{name} is not in shape {shape.name}")
        if skip_locations and member.serialization.get("location") in NON_BODY_LOCATIONS:
            continue
        result[member.serialization.get("name", name)] = write_value(member, item, _member_path(path, name), binary)
    return result
