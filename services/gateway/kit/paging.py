"""List* pagination from botocore's paginator model.

For each operation, botocore's `paginators-1.json` names the request's token and limit members and the
response's token and result members; operations it does not list fall back to the input/output shapes (a
`NextToken`/`nextToken` member, a `MaxResults`/`maxResults` member, the one list member of the output).

One opaque token codec (tokens.py) serves every service: the position is an offset into an ordered list or,
for SQL queries, the ordering values of the last row returned (keyset), so a page never skips or repeats rows
that were inserted meanwhile. A token that does not decode, or was made
by another operation, is answered with the service's own invalid-token error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import botocore.session
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.kit.tokens import decode_token, encode_token
from services.gateway.protocol.service_models import service_spec
from services.gateway.runtime import runtime


@dataclass(frozen=True)
class PageSpec:
    input_token: str
    output_token: str
    limit_key: str | None
    result_key: str


@lru_cache(maxsize=None)
def _paginator_model(service: str):
    try:
        return botocore.session.get_session().get_paginator_model(service)
    except Exception:  # a service without paginators-1.json
        return None


@lru_cache(maxsize=None)
def page_spec(service: str, operation: str) -> PageSpec:
    """Where an operation's token, limit and results live on the wire."""
    model = _paginator_model(service)
    config: dict = {}
    if model is not None:
        try:
            config = model.get_paginator(operation)
        except ValueError:
            config = {}
    op = service_spec(service).operation(operation)
    inputs = op.input_shape.members if op.input_shape else {}
    outputs = op.output_shape.members if op.output_shape else {}

    def pick(value: Any, members: dict, names: tuple[str, ...]) -> str | None:
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and "." not in value and value in members:
            return value
        return next((name for name in names if name in members), None)

    input_token = pick(config.get("input_token"), inputs, ("NextToken", "nextToken", "PaginationToken"))
    output_token = pick(config.get("output_token"), outputs, ("NextToken", "nextToken", "PaginationToken"))
    limit_key = pick(config.get("limit_key"), inputs, ("MaxResults", "maxResults", "Limit"))
    lists = [name for name, shape in outputs.items() if shape.type_name == "list"]
    result_key = pick(config.get("result_key"), outputs, tuple(lists))
    if not (input_token and output_token and result_key):
        raise ValueError(f"{service} {operation} is not a paginated operation")
    return PageSpec(input_token, output_token, limit_key, result_key)


@dataclass(frozen=True)
class Paging:
    """A service's pagination: its invalid-token error and its default page size."""

    service: str
    invalid_token: Callable[[str], ServiceError]  # (token) -> the service's error
    default_limit: int = 100
    # Default page sizes of particular operations ({operation: size}), e.g. a list that AWS answers in one page
    # (Polly's DescribeVoices) or a larger documented default (Translate's ListLanguages: 500).
    limits: Mapping[str, int] | None = field(default=None, hash=False, compare=False)

    def spec(self, ctx: RequestContext) -> PageSpec:
        return page_spec(self.service, ctx.operation)

    def limit(self, ctx: RequestContext, request: dict) -> int:
        spec = self.spec(ctx)
        default = (self.limits or {}).get(ctx.operation, self.default_limit)
        return (request.get(spec.limit_key) if spec.limit_key else None) or default

    def _position(self, ctx: RequestContext, request: dict) -> Any:
        token = request.get(self.spec(ctx).input_token)
        if not token:
            return None
        try:
            return decode_token(ctx.operation, token)
        except Exception:
            raise self.invalid_token(token) from None

    def page(self, ctx: RequestContext, request: dict, items: Sequence, convert: Callable[[Any], Any] | None = None,
             **extra: Any) -> dict:
        """One page of an ordered list: `{result_key: [...], output_token: token (when more), **extra}`."""
        spec = self.spec(ctx)
        position = self._position(ctx, request)
        if position is None:
            start = 0
        elif isinstance(position, int) and 0 <= position <= len(items):
            start = position
        else:
            raise self.invalid_token(request[spec.input_token])
        end = start + self.limit(ctx, request)
        chosen = items[start:end]
        out = {**extra, spec.result_key: [convert(item) for item in chosen] if convert else list(chosen)}
        if end < len(items):
            out[spec.output_token] = encode_token(ctx.operation, end)
        return out

    def page_query(self, ctx: RequestContext, request: dict, query: Select,
                   order: Sequence[tuple[InstrumentedAttribute, bool]], convert: Callable[[Any], Any],
                   **extra: Any) -> dict:
        """One page of a SQL query, keyset-paged: `order` is [(column, descending)], ending in a unique column."""
        spec = self.spec(ctx)
        position = self._position(ctx, request)
        if position is not None:
            if not isinstance(position, list) or len(position) != len(order):
                raise self.invalid_token(request[spec.input_token])
            query = query.where(_after(order, position))
        limit = self.limit(ctx, request)
        query = query.order_by(*[column.desc() if descending else column.asc() for column, descending in order])
        with runtime().db.session() as session:
            rows = list(session.scalars(query.limit(limit + 1)))
        out = {**extra, spec.result_key: [convert(row) for row in rows[:limit]]}
        if len(rows) > limit:
            last = rows[limit - 1]
            out[spec.output_token] = encode_token(ctx.operation, [_stored(getattr(last, column.key)) for column, _ in order])
        return out


def _stored(value: Any) -> Any:
    # SQLite gives stored times back naive; they are UTC.
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _after(order: Sequence[tuple[InstrumentedAttribute, bool]], values: list) -> Any:
    """Rows strictly after `values` in the lexicographic order `order`."""
    clauses = []
    for index, (column, descending) in enumerate(order):
        equal = [order[i][0] == values[i] for i in range(index)]
        beyond = column < values[index] if descending else column > values[index]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)
