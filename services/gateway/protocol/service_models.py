"""The botocore service models of every service the gateway serves: the single source of operation names,
shapes, HTTP bindings and error codes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import botocore.session
from botocore.model import OperationModel, ServiceModel

# botocore service names of everything the gateway answers.
SERVED_SERVICES: tuple[str, ...] = (
    "comprehend",
    "translate",
    "transcribe",
    "polly",
    "rekognition",
    "textract",
    "lexv2-models",
    "lexv2-runtime",
    "personalize",
    "personalize-runtime",
    "personalize-events",
    "forecast",
    "forecastquery",
    "stepfunctions",
)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    model: ServiceModel

    @property
    def protocol(self) -> str:
        return self.model.metadata["protocol"]

    @property
    def target_prefix(self) -> str | None:
        return self.model.metadata.get("targetPrefix")

    @property
    def json_content_type(self) -> str:
        if self.protocol == "json":
            return f"application/x-amz-json-{self.model.metadata.get('jsonVersion', '1.1')}"
        return "application/json"

    @property
    def signing_name(self) -> str:
        return self.model.signing_name or self.model.endpoint_prefix

    @property
    def operation_names(self) -> list[str]:
        return list(self.model.operation_names)

    def operation(self, name: str) -> OperationModel:
        return self.model.operation_model(name)

    @cached_property
    def error_statuses(self) -> dict[str, int]:
        statuses = {}
        for shape in self.model.error_shapes:
            meta = shape.metadata
            status = (meta.get("error") or {}).get("httpStatusCode")
            statuses[shape.name] = status or (500 if meta.get("fault") else 400)
        return statuses

    def error_status(self, code: str, default: int = 400) -> int:
        return self.error_statuses.get(code, default)


@lru_cache(maxsize=None)
def service_spec(name: str) -> ServiceSpec:
    session = botocore.session.get_session()
    return ServiceSpec(name, session.get_service_model(name))


def all_specs() -> dict[str, ServiceSpec]:
    return {name: service_spec(name) for name in SERVED_SERVICES}


@lru_cache(maxsize=1)
def specs_by_target_prefix() -> dict[str, ServiceSpec]:
    return {spec.target_prefix: spec for spec in all_specs().values() if spec.target_prefix}
