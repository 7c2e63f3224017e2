"""Tags on Comprehend resources (jobs, custom classifiers / recognizers, endpoints): TagResource, UntagResource,
ListTagsForResource, and the `Tags` member of Create*/Start* requests."""

from __future__ import annotations

from sqlalchemy import String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.errors import ServiceError
from services.gateway.runtime import runtime

MAX_TAGS = 200


class ResourceTag(Base):
    __tablename__ = "comprehend_tags"

    arn: Mapped[str] = mapped_column(String(400), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text, default="")


def _exists(principal: Principal, arn: str) -> bool:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[4] != principal.account_id or parts[3] != principal.region:
        return False
    resource = parts[5]
    if resource.split("/", 1)[0].endswith("-job"):
        return runtime().jobs.store.get(principal, None, resource.rsplit("/", 1)[-1]) is not None
    from services.comprehend.custom import CustomModel, Endpoint

    with runtime().db.session() as session:
        return session.get(CustomModel, arn) is not None or session.get(Endpoint, arn) is not None


def _current(principal: Principal, arn: str) -> dict[str, str]:
    with runtime().db.session() as session:
        rows = session.scalars(select(ResourceTag).where(ResourceTag.arn == arn,
                                                         ResourceTag.account_id == principal.account_id))
        return {row.key: row.value for row in rows}


def set_tags(principal: Principal, arn: str, tags: list[dict] | None) -> None:
    """Add or overwrite tags (no existence check: for resources being created)."""
    if not tags:
        return
    merged = {**_current(principal, arn), **{tag["Key"]: tag.get("Value", "") for tag in tags}}
    if len(merged) > MAX_TAGS:
        raise ServiceError("TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags.")
    with runtime().db.session() as session:
        for tag in tags:
            row = session.get(ResourceTag, (arn, tag["Key"]))
            if row is None:
                session.add(ResourceTag(arn=arn, key=tag["Key"], account_id=principal.account_id,
                                        region=principal.region, value=tag.get("Value", "")))
            else:
                row.value = tag.get("Value", "")


def drop_tags(arn: str) -> None:
    with runtime().db.session() as session:
        session.execute(delete(ResourceTag).where(ResourceTag.arn == arn))


def _check(ctx: RequestContext, arn: str) -> None:
    if not _exists(ctx.principal, arn):
        raise ServiceError("ResourceNotFoundException", f"Resource {arn} does not exist.")


def register(provider) -> None:
    @provider.operation("TagResource")
    def tag_resource(ctx: RequestContext, request: dict) -> dict:
        _check(ctx, request["ResourceArn"])
        set_tags(ctx.principal, request["ResourceArn"], request["Tags"])
        return {}

    @provider.operation("UntagResource")
    def untag_resource(ctx: RequestContext, request: dict) -> dict:
        _check(ctx, request["ResourceArn"])
        with runtime().db.session() as session:
            session.execute(delete(ResourceTag).where(ResourceTag.arn == request["ResourceArn"],
                                                      ResourceTag.key.in_(request["TagKeys"])))
        return {}

    @provider.operation("ListTagsForResource")
    def list_tags_for_resource(ctx: RequestContext, request: dict) -> dict:
        _check(ctx, request["ResourceArn"])
        tags = _current(ctx.principal, request["ResourceArn"])
        return {"ResourceArn": request["ResourceArn"],
                "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())]}
