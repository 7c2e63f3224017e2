"""The documents a job reads: every object under an input prefix (or the one object the URI names)."""

from __future__ import annotations

from typing import Callable

from services.gateway.errors import ServiceError
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError


def list_input_objects(account_id: str, input_uri: str, unreadable: Callable[[BlobError], ServiceError],
                       empty: Callable[[str], ServiceError]) -> list[str]:
    """The object URIs under `input_uri`, in order; the service's errors when the prefix can't be listed
    (`unreadable`) or holds nothing (`empty`)."""
    try:
        uris = [uri for uri in runtime().blobs.list(input_uri, account_id) if not uri.endswith("/")]
    except BlobError as error:
        raise unreadable(error) from None
    if not uris:
        raise empty(input_uri)
    return uris


def relative_name(input_uri: str, uri: str) -> str:
    """An object's name below the input prefix (the file name when the URI named one object)."""
    base = input_uri if input_uri.endswith("/") else input_uri.rsplit("/", 1)[0] + "/"
    return uri[len(base):] if uri.startswith(base) else uri.rsplit("/", 1)[-1]
