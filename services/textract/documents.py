"""Where a request's document comes from: `Document.Bytes` or an S3 object (`Bucket`, `Name`, `Version`) in the
gateway's blob store, with the size limit of the call."""

from __future__ import annotations

from services.gateway.context import Principal
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError, BlobTooLarge
from services.textract.errors import (
    INVALID_PARAMETERS,
    S3_UNREADABLE,
    TOO_LARGE,
    DocumentTooLarge,
    InvalidParameter,
    InvalidS3Object,
)


def s3_uri(s3_object: dict) -> str:
    bucket, name = s3_object.get("Bucket") or "", s3_object.get("Name") or ""
    if not bucket or not name:
        raise InvalidParameter(INVALID_PARAMETERS)
    return f"s3://{bucket}/{name}"


def read_s3_object(principal: Principal, s3_object: dict, limit: int) -> bytes:
    uri = s3_uri(s3_object)
    try:
        return runtime().blobs.read(uri, principal.account_id, max_bytes=limit)
    except BlobTooLarge:
        raise DocumentTooLarge(TOO_LARGE) from None
    except BlobError:
        raise InvalidS3Object(S3_UNREADABLE) from None


def request_document(principal: Principal, document: dict, limit: int) -> bytes:
    """The bytes of a sync call's `Document` (exactly one of Bytes and S3Object)."""
    has_bytes, has_object = document.get("Bytes") is not None, document.get("S3Object") is not None
    if has_bytes == has_object:
        raise InvalidParameter(INVALID_PARAMETERS)
    if has_bytes:
        data = document["Bytes"]
        if len(data) > limit:
            raise DocumentTooLarge(TOO_LARGE)
        return data
    return read_s3_object(principal, document["S3Object"], limit)
