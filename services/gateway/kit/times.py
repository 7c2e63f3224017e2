"""UTC times: every stored time is UTC; SQLite gives them back naive."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as an aware UTC datetime (None stays None)."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value
