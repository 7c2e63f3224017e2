"""Calling an operation's handler: the one path shared by the AWS protocols, the native REST API and the
orchestrator's in-process service integrations."""

from __future__ import annotations

import asyncio
from typing import Any

from botocore.model import OperationModel
from starlette.concurrency import run_in_threadpool

from models.workers import ModelWorkerError
from services.gateway.context import Principal, RequestContext
from services.gateway.errors import ServiceError, not_implemented
from services.gateway.protocol.service_models import SERVED_SERVICES, ServiceSpec, service_spec
from services.gateway.protocol.wire import read_input, write_output
from services.gateway.registry import Operation, ServiceProvider


class Dispatcher:
    def __init__(self, providers: dict[str, ServiceProvider]):
        self.providers = providers

    def _registered(self, spec: ServiceSpec, operation: OperationModel) -> Operation:
        registered = self.providers[spec.name].operations.get(operation.name)
        if registered is None:
            raise not_implemented(spec.name, operation.name)
        return registered

    async def call(
        self, spec: ServiceSpec, operation: OperationModel, principal: Principal, params: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        registered = self._registered(spec, operation)
        ctx = RequestContext(spec.name, operation.name, principal, request_id)
        try:
            if registered.is_async:
                return await registered.handler(ctx, params)
            # Model work is CPU-bound: keep it off the event loop.
            return await run_in_threadpool(registered.handler, ctx, params)
        except ModelWorkerError as error:
            raise worker_lost(error) from error

    def call_wire(self, service: str, operation_name: str, principal: Principal, wire_input: dict[str, Any],
                  request_id: str) -> dict[str, Any]:
        """Call an operation from a thread with no event loop (job runners, state-machine tasks), with the input
        and output in their JSON wire form, validated exactly as an HTTP request would be."""
        if service not in SERVED_SERVICES:
            raise ServiceError("UnknownServiceException", f"Unknown service {service!r}")
        spec = service_spec(service)
        if operation_name not in spec.model.operation_names:
            raise ServiceError("UnknownOperationException", f"Unknown operation {operation_name!r} for {service}")
        operation = spec.operation(operation_name)
        params = read_input(operation, wire_input)
        registered = self._registered(spec, operation)
        ctx = RequestContext(spec.name, operation.name, principal, request_id)
        try:
            result = (asyncio.run(registered.handler(ctx, params)) if registered.is_async
                      else registered.handler(ctx, params))
        except ModelWorkerError as error:
            raise worker_lost(error) from error
        return write_output(operation, result)


def worker_lost(error: ModelWorkerError) -> ServiceError:
    """A model worker process died under the request (e.g. killed for memory): a 503 the SDKs retry."""
    return ServiceError("ServiceUnavailable", f"The request could not be completed, retry it: {error}", 503,
                        sender_fault=False)
