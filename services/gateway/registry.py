"""Service providers: each service package holds one ServiceProvider whose handlers are keyed by AWS operation
name. The gateway imports them all at start-up; an operation with no handler answers NotImplementedException."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from services.gateway.protocol.service_models import SERVED_SERVICES, service_spec

Handler = Callable[..., dict[str, Any] | Awaitable[dict[str, Any]]]

# Where each service's provider lives; a module that does not exist yet means "nothing implemented".
PROVIDER_MODULES: dict[str, str] = {
    "comprehend": "services.comprehend.provider",
    "translate": "services.translate.provider",
    "transcribe": "services.transcribe.provider",
    "polly": "services.polly.provider",
    "rekognition": "services.rekognition.provider",
    "textract": "services.textract.provider",
    "lexv2-models": "services.lex.models_provider",
    "lexv2-runtime": "services.lex.runtime_provider",
    "personalize": "services.personalize.provider",
    "personalize-runtime": "services.personalize.runtime_provider",
    "personalize-events": "services.personalize.events_provider",
    "forecast": "services.forecast.provider",
    "forecastquery": "services.forecast.query_provider",
    "stepfunctions": "orchestrator.api",
}


@dataclass
class Operation:
    name: str
    handler: Handler
    is_async: bool


@dataclass
class ServiceProvider:
    service: str
    operations: dict[str, Operation] = field(default_factory=dict)
    # WebSocket endpoints by path (AWS streaming APIs), `handler(websocket, runtime)`.
    websockets: dict[str, Callable[..., Awaitable[None]]] = field(default_factory=dict)

    def websocket(self, path: str) -> Callable:
        def register(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
            self.websockets[path] = handler
            return handler

        return register

    def operation(self, name: str) -> Callable[[Handler], Handler]:
        """Register `handler(ctx, request) -> response` for the AWS operation `name`."""
        known = service_spec(self.service).operation_names
        if name not in known:
            raise ValueError(f"{self.service} has no operation {name} in its botocore model")

        def register(handler: Handler) -> Handler:
            self.operations[name] = Operation(name, handler, inspect.iscoroutinefunction(handler))
            return handler

        return register


def load_providers() -> dict[str, ServiceProvider]:
    """Import every service's provider module; a service without one gets an empty provider."""
    providers = {}
    for service in SERVED_SERVICES:
        module_name = PROVIDER_MODULES[service]
        provider = None
        if importlib.util.find_spec(module_name.rsplit(".", 1)[0]) and importlib.util.find_spec(module_name):
            provider = getattr(importlib.import_module(module_name), "provider", None)
        providers[service] = provider or ServiceProvider(service)
    return providers


def coverage(providers: dict[str, ServiceProvider]) -> dict[str, dict[str, Any]]:
    report = {}
    for service, provider in providers.items():
        names = service_spec(service).operation_names
        implemented = sorted(provider.operations)
        report[service] = {
            "implemented": implemented,
            "not_implemented": sorted(set(names) - set(implemented)),
            "total": len(names),
        }
    return report
