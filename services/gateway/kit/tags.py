"""Tags: one store keyed by ARN for every service, and the Tag/Untag/ListTags operations registered for a
service from its botocore model.

The services' wire shapes differ (a `Tags` map, a `tags` map, a `tags` list of `{key, value}`, a `Tags` list of
`{Key, Value}`, `{tagKey, tagValue}`...): `tags_from_wire` reads any of them, and the shape of each operation's
own member says how to write them back. Whether an ARN names an existing resource is the service's answer
(`Tagging.exists`), not a guess from the ARN's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from botocore.model import Shape
from sqlalchemy import String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.errors import ServiceError
from services.gateway.protocol.service_models import service_spec
from services.gateway.runtime import runtime


class ResourceTag(Base):
    __tablename__ = "resource_tags"

    arn: Mapped[str] = mapped_column(String(1011), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    value: Mapped[str] = mapped_column(Text, default="")


# ---------------------------------------------------------------- the store


def get_tags(arn: str) -> dict[str, str]:
    """The resource's tags, by key (sorted)."""
    with runtime().db.session() as session:
        rows = session.scalars(select(ResourceTag).where(ResourceTag.arn == arn).order_by(ResourceTag.key))
        return {row.key: row.value for row in rows}


def put_tags(principal: Principal, arn: str, tags: dict[str, str]) -> None:
    """Add or overwrite tags (no existence or count check: `Tagging.tag` makes those)."""
    if not tags:
        return
    with runtime().db.session() as session:
        for key, value in tags.items():
            row = session.get(ResourceTag, (arn, key))
            if row is None:
                session.add(ResourceTag(arn=arn, key=key, account_id=principal.account_id, value=value))
            else:
                row.value = value


def remove_tags(arn: str, keys: list[str]) -> None:
    with runtime().db.session() as session:
        session.execute(delete(ResourceTag).where(ResourceTag.arn == arn, ResourceTag.key.in_(keys)))


def drop_tags(arn: str) -> None:
    """Forget every tag of a deleted resource."""
    with runtime().db.session() as session:
        session.execute(delete(ResourceTag).where(ResourceTag.arn == arn))


# ---------------------------------------------------------------- wire shapes

_KEY_NAMES = ("Key", "key", "TagKey", "tagKey")
_VALUE_NAMES = ("Value", "value", "TagValue", "tagValue")


def tags_from_wire(value: Any) -> dict[str, str]:
    """Tags as the request gave them (a map, or a list of key/value structures) -> {key: value}."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(key): "" if item is None else str(item) for key, item in value.items()}
    tags = {}
    for item in value:
        key = next(item[name] for name in _KEY_NAMES if name in item)
        tags[key] = next((item[name] for name in _VALUE_NAMES if item.get(name) is not None), "")
    return tags


def tags_to_wire(shape: Shape, tags: dict[str, str]) -> Any:
    """{key: value} -> the shape the operation answers with (a map, or a list of key/value structures)."""
    if shape.type_name == "map":
        return dict(tags)
    members = shape.member.members
    key_name = next(name for name in _KEY_NAMES if name in members)
    value_name = next(name for name in _VALUE_NAMES if name in members)
    return [{key_name: key, value_name: value} for key, value in tags.items()]


@dataclass(frozen=True)
class TagMembers:
    """Member names of a service's tagging operations."""

    arn: str  # the ARN member (ResourceArn, resourceArn, ResourceARN...), the same in all three
    tags: str  # TagResource's tags member
    keys: str  # UntagResource's key list member
    listed: str  # ListTagsForResource's output tags member
    listed_shape: Shape
    echoes_arn: bool  # whether ListTagsForResource's output repeats the ARN


def _named(members: dict[str, Shape], *wanted: str) -> str:
    lower = {name.lower(): name for name in members}
    return next(lower[name] for name in wanted if name in lower)


@lru_cache(maxsize=None)
def tag_members(service: str) -> TagMembers:
    spec = service_spec(service)
    tag_input = spec.operation("TagResource").input_shape.members
    untag_input = spec.operation("UntagResource").input_shape.members
    listed = spec.operation("ListTagsForResource").output_shape.members
    arn = next(name for name in tag_input if "arn" in name.lower())
    listed_name = _named(listed, "tags")
    return TagMembers(arn, _named(tag_input, "tags"), _named(untag_input, "tagkeys"), listed_name,
                      listed[listed_name], arn in listed)


# ---------------------------------------------------------------- a service's tagging


@dataclass(frozen=True)
class Tagging:
    """A service's tagging: which ARNs exist, its not-found and too-many-tags errors, its per-resource limit."""

    service: str
    # (caller, ARN) -> whether it names an existing resource of the caller's (may raise the service's bad-ARN error)
    exists: Callable[[Principal, str], bool]
    not_found: Callable[[str], ServiceError]  # (ARN) -> error
    too_many: Callable[[int], ServiceError]  # (limit) -> error
    max_tags: int = 50
    # The ARN the store keys a resource's tags by, from an ARN a request gave (where one resource has several
    # spellings, e.g. Translate's `terminology/<name>` and `terminology/<name>/LATEST`); None: the ARN as given.
    canonical: Callable[[str], str] | None = None

    def key(self, arn: str) -> str:
        """The store's key of an ARN that `exists` accepted."""
        return self.canonical(arn) if self.canonical is not None else arn

    def check(self, ctx: RequestContext | Principal, arn: str) -> None:
        principal = ctx.principal if isinstance(ctx, RequestContext) else ctx
        if not self.exists(principal, arn):
            raise self.not_found(arn)

    def tag(self, ctx: RequestContext | Principal, arn: str, wire_tags: Any) -> None:
        """Tags given on a Create*/Start* request or by TagResource (no existence check: the caller made it)."""
        principal = ctx.principal if isinstance(ctx, RequestContext) else ctx
        tags = tags_from_wire(wire_tags)
        if not tags:
            return
        arn = self.key(arn)
        if len({**get_tags(arn), **tags}) > self.max_tags:
            raise self.too_many(self.max_tags)
        put_tags(principal, arn, tags)

    def check_new(self, wire_tags: Any) -> dict[str, str]:
        """The tags of a request that creates a resource, within the limit (before anything is created)."""
        tags = tags_from_wire(wire_tags)
        if len(tags) > self.max_tags:
            raise self.too_many(self.max_tags)
        return tags

    def listed(self, operation: str, member: str, arn: str) -> Any:
        """The resource's tags in the wire shape of `operation`'s output member `member` (e.g. Describe* Tags)."""
        shape = service_spec(self.service).operation(operation).output_shape
        for part in member.split("."):
            shape = shape.members[part]
        return tags_to_wire(shape, get_tags(arn))

    def register(self, provider) -> None:
        """TagResource, UntagResource and ListTagsForResource for the provider's service."""
        names = tag_members(self.service)

        def tag_resource(ctx: RequestContext, request: dict) -> dict:
            arn = request[names.arn]
            self.check(ctx, arn)
            self.tag(ctx, arn, request[names.tags])
            return {}

        def untag_resource(ctx: RequestContext, request: dict) -> dict:
            arn = request[names.arn]
            self.check(ctx, arn)
            remove_tags(self.key(arn), list(request[names.keys]))
            return {}

        def list_tags_for_resource(ctx: RequestContext, request: dict) -> dict:
            arn = request[names.arn]
            self.check(ctx, arn)
            out = {names.listed: tags_to_wire(names.listed_shape, get_tags(self.key(arn)))}
            if names.echoes_arn:
                out[names.arn] = arn
            return out

        provider.operation("TagResource")(tag_resource)
        provider.operation("UntagResource")(untag_resource)
        provider.operation("ListTagsForResource")(list_tags_for_resource)
