"""Calling an operation's handler: the one path shared by the AWS protocols, the native REST API and (later)
the orchestrator's in-process service integrations."""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel
from starlette.concurrency import run_in_threadpool

from services.gateway.context import Principal, RequestContext
from services.gateway.errors import not_implemented
from services.gateway.protocol.service_models import ServiceSpec
from services.gateway.registry import ServiceProvider


class Dispatcher:
    def __init__(self, providers: dict[str, ServiceProvider]):
        self.providers = providers

    async def call(
        self, spec: ServiceSpec, operation: OperationModel, principal: Principal, params: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        registered = self.providers[spec.name].operations.get(operation.name)
        if registered is None:
            raise not_implemented(spec.name, operation.name)
        ctx = RequestContext(spec.name, operation.name, principal, request_id)
        if registered.is_async:
            return await registered.handler(ctx, params)
        # Model work is CPU-bound: keep it off the event loop.
        return await run_in_threadpool(registered.handler, ctx, params)
