"""The one pagination token codec: base64url of `[scope, position]`, where the position is an offset or the
ordering values of the last row returned (datetimes kept as such). It imports nothing of the gateway's, so
the job store can use it as well as the paginator."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson


def encode_token(scope: str, position: Any) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return {"t": (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()}
        raise TypeError

    # orjson writes datetimes itself (as plain text) unless told to pass them to `default`.
    data = orjson.dumps([scope, position], default=default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_token(scope: str, token: str) -> Any:
    """The position a token holds; ValueError when it does not decode or belongs to another scope."""
    try:
        found, position = orjson.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
    except Exception:
        raise ValueError("not a pagination token") from None
    if found != scope:
        raise ValueError("a token of another listing")
    if isinstance(position, list):
        position = [dt.datetime.fromisoformat(value["t"]) if isinstance(value, dict) and "t" in value else value
                    for value in position]
    return position
