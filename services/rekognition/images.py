"""A request's image: `Image.Bytes` or `Image.S3Object` (Bucket, Name, Version) in the gateway's blob store, JPEG or
PNG only, with Amazon Rekognition's limits (5 MB as bytes, 15 MB from S3, 80 to 10,000 pixels a side).

`read_image` runs in the serving process and checks everything that the file's header tells (format, size) before
a pixel is decoded, so a decompression bomb is refused unread; `decode` (in the model worker that analyses the
image) turns the bytes into RGB pixels and answers a truncated or corrupt file with InvalidImageFormatException.
Like Amazon Rekognition, the image is analysed as stored: EXIF orientation is not applied, so boxes are relative to
the stored pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from services.gateway.context import Principal
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError, BlobTooLarge
from services.rekognition.errors import (INVALID_FORMAT, INVALID_PARAMETERS, S3_UNREADABLE, TOO_LARGE,
                                         ImageTooLarge, InvalidImageFormat, InvalidParameter, InvalidS3Object)

MAX_BYTES = 5 * 1024 * 1024
MAX_S3_BYTES = 15 * 1024 * 1024
MIN_SIDE = 80
MAX_SIDE = 10_000
FORMATS = ("JPEG", "PNG")


@dataclass(frozen=True)
class RequestImage:
    data: bytes
    format: str  # "JPEG" or "PNG"
    width: int
    height: int


def read_image(principal: Principal, image: dict | None, max_bytes: int = MAX_BYTES) -> RequestImage:
    """The checked image of a request member (`Image`, `SourceImage`, `TargetImage`)."""
    image = image or {}
    has_bytes, has_object = image.get("Bytes") is not None, image.get("S3Object") is not None
    if has_bytes == has_object:
        raise InvalidParameter(INVALID_PARAMETERS)
    if has_bytes:
        data = image["Bytes"]
        if len(data) > max_bytes:
            raise ImageTooLarge(TOO_LARGE)
    else:
        data = _read_s3(principal, image["S3Object"])
    return check_image(data)


def s3_object_uri(s3_object: dict) -> str:
    """`s3://bucket/name` of a job's input S3Object (a video, a manifest); Version is refused, not ignored."""
    bucket, name = s3_object.get("Bucket") or "", s3_object.get("Name") or ""
    if not bucket or not name:
        raise InvalidParameter(INVALID_PARAMETERS)
    if s3_object.get("Version"):
        # The blob store reads an object's current version only: a requested version would be ignored.
        raise InvalidParameter("S3Object.Version is not supported by this gateway: the current version is read.")
    return f"s3://{bucket}/{name}"


def _read_s3(principal: Principal, s3_object: dict) -> bytes:
    bucket, name = s3_object.get("Bucket") or "", s3_object.get("Name") or ""
    if not bucket or not name:
        raise InvalidParameter(INVALID_PARAMETERS)
    try:
        return runtime().blobs.read(f"s3://{bucket}/{name}", principal.account_id, max_bytes=MAX_S3_BYTES)
    except BlobTooLarge:
        raise ImageTooLarge(TOO_LARGE) from None
    except BlobError:
        raise InvalidS3Object(S3_UNREADABLE) from None


def check_image(data: bytes) -> RequestImage:
    """Format and dimensions from the header only (no pixel is decoded here)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidImageFormat(INVALID_FORMAT)
    try:
        with Image.open(io.BytesIO(data)) as opened:
            kind, (width, height) = opened.format, opened.size
    except Image.DecompressionBombError:  # over 2 x PIL's pixel cap: a side is beyond 10,000 px
        raise ImageTooLarge(TOO_LARGE) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InvalidImageFormat(INVALID_FORMAT) from None
    if kind not in FORMATS:
        raise InvalidImageFormat(INVALID_FORMAT)
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageTooLarge(f"Input image dimensions {width} x {height} exceed maximum dimension size of "
                            f"{MAX_SIDE} pixels")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InvalidParameter(INVALID_PARAMETERS)
    return RequestImage(data, kind, width, height)


def decode(data: bytes) -> np.ndarray:
    """RGB pixels (uint8, HxWx3) of an image `check_image` accepted; InvalidImageFormat when its data is damaged."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE  # already checked; guards a caller that skipped check_image
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()  # a truncated file fails here
            if opened.mode in ("RGBA", "LA", "PA") or (opened.mode == "P" and "transparency" in opened.info):
                # Transparent pixels are shown on white, as a viewer shows them.
                rgba = opened.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                rgb = Image.alpha_composite(background, rgba).convert("RGB")
            else:
                rgb = opened.convert("RGB")
            return np.asarray(rgb)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InvalidImageFormat(INVALID_FORMAT) from None
