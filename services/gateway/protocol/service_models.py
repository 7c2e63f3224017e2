"""The botocore service models of every service the gateway serves: the single source of operation names,
shapes, HTTP bindings and error codes."""

from __future__ import annotations

import copy
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


# The protocols the gateway answers on its classic routes (X-Amz-Target, requestUri), and the binary one it also
# answers on /service/{name}/operation/{op} for the services whose models list it.
CLASSIC_PROTOCOLS = ("json", "rest-json")
CBOR_PROTOCOL = "smithy-rpc-v2-cbor"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    model: ServiceModel

    @property
    def protocols(self) -> list[str]:
        """Every protocol the model lists; botocore >= 1.44 models list several (["smithy-rpc-v2-cbor", "json"])
        and set "protocol" to the first, older ones only have "protocol"."""
        metadata = self.model.metadata
        return list(metadata.get("protocols") or [metadata["protocol"]])

    @cached_property
    def protocol(self) -> str:
        """The JSON protocol the classic routes speak for this service ("json" or "rest-json")."""
        found = [name for name in self.protocols if name in CLASSIC_PROTOCOLS]
        return found[0] if found else self.model.metadata["protocol"]

    @property
    def serves_cbor(self) -> bool:
        return CBOR_PROTOCOL in self.protocols

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
        # botocore's Shape.metadata drops the "fault" flag: read the shapes as the model file writes them.
        raw = botocore.session.get_session().get_component("data_loader").load_service_model(
            self.name, "service-2", self.model.api_version)["shapes"]
        statuses = {}
        for shape in self.model.error_shapes:
            found = raw.get(shape.name, {})
            status = (found.get("error") or {}).get("httpStatusCode")
            statuses[shape.name] = status or (500 if found.get("fault") else 400)
        return statuses

    def error_status(self, code: str, default: int = 400) -> int:
        return self.error_statuses.get(code, default)


# Where a botocore model's constraint is not what the service enforces, the member gets a shape of its own here:
# {service: {(structure, member): the member's shape}}. Forecast's model gives IAM role members the shape `Arn`,
# whose pattern only admits forecast ARNs; the service takes IAM role ARNs there (every AWS example passes one).
MODEL_CORRECTIONS: dict[str, dict[tuple[str, str], dict]] = {
    "forecast": {
        ("S3Config", "RoleArn"): {"type": "string", "max": 256, "pattern": r"arn:([a-z\d-]+):iam::\d{12}:role/.+"},
        ("EncryptionConfig", "RoleArn"): {"type": "string", "max": 256,
                                          "pattern": r"arn:([a-z\d-]+):iam::\d{12}:role/.+"},
        # List filters match statuses too ({"Key": "Status", "Value": "ACTIVE"}, the documented example of every
        # List* operation), which the model's Arn pattern of Filter.Value would refuse.
        ("Filter", "Value"): {"type": "string", "max": 256},
    },
}


@lru_cache(maxsize=None)
def service_spec(name: str) -> ServiceSpec:
    session = botocore.session.get_session()
    corrections = MODEL_CORRECTIONS.get(name)
    if not corrections:
        return ServiceSpec(name, session.get_service_model(name))
    raw = copy.deepcopy(session.get_component("data_loader").load_service_model(name, "service-2"))
    for (structure, member), shape in corrections.items():
        shape_name = f"aigate{structure}{member}"
        raw["shapes"][shape_name] = shape
        raw["shapes"][structure]["members"][member]["shape"] = shape_name
    return ServiceSpec(name, ServiceModel(raw, service_name=name))


def all_specs() -> dict[str, ServiceSpec]:
    return {name: service_spec(name) for name in SERVED_SERVICES}


@lru_cache(maxsize=1)
def specs_by_target_prefix() -> dict[str, ServiceSpec]:
    return {spec.target_prefix: spec for spec in all_specs().values() if spec.target_prefix}


@lru_cache(maxsize=1)
def specs_by_cbor_service() -> dict[str, ServiceSpec]:
    """The {ServiceName} of rpc-v2-cbor paths: botocore's RpcV2CBORSerializer puts the model's targetPrefix there
    (the Smithy service shape's name, the same string for every served service)."""
    return {spec.target_prefix: spec for spec in all_specs().values() if spec.serves_cbor and spec.target_prefix}
