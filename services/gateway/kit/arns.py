"""ARNs, built and parsed in one place: `arn:<partition>:<service>:<region>:<account>:<resource>`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.utils import ArnParser, InvalidArnException

_PARSER = ArnParser()


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str  # everything after the fifth colon, e.g. "terminology/name/LATEST" or "stateMachine:name"

    @property
    def resource_type(self) -> str:
        """The resource's type: what comes before the first '/' or ':' of the resource part."""
        return re.split(r"[/:]", self.resource, maxsplit=1)[0]

    @property
    def resource_id(self) -> str:
        """What follows the resource type ('' when the resource part has no separator)."""
        parts = re.split(r"[/:]", self.resource, maxsplit=1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def path(self) -> list[str]:
        """The resource part split on '/' and ':' (type first)."""
        return re.split(r"[/:]", self.resource)

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def build_arn(service: str, region: str, account: str, resource: str, partition: str = "aws") -> str:
    return str(Arn(partition, service, region, account, resource))


def parse_arn(text: str) -> Arn | None:
    """The parts of an ARN, or None when `text` is not one."""
    if not isinstance(text, str) or not text.startswith("arn:"):
        return None  # botocore's parser never looks at the first field
    try:
        parts = _PARSER.parse_arn(text)
    except (InvalidArnException, AttributeError, TypeError):
        return None
    if not parts["resource"]:
        return None
    return Arn(parts["partition"], parts["service"], parts["region"], parts["account"], parts["resource"])


def owned(arn: Arn | None, service: str, account: str, region: str) -> bool:
    """Whether a parsed ARN names a resource of `service` in this account and region."""
    return arn is not None and arn.service == service and arn.account == account and arn.region == region
