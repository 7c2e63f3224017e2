"""What a handler knows about the request it serves."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from services.gateway.kit.arns import build_arn

# The current request id, for log records written anywhere below the protocol layer.
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


@dataclass(frozen=True)
class Principal:
    account_id: str
    region: str
    access_key_id: str | None = None


@dataclass(frozen=True)
class RequestContext:
    service: str
    operation: str
    principal: Principal
    request_id: str

    @property
    def account_id(self) -> str:
        return self.principal.account_id

    @property
    def region(self) -> str:
        return self.principal.region

    def arn(self, service: str, resource: str) -> str:
        return build_arn(service, self.region, self.account_id, resource)
