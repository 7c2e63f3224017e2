"""Dataset domains and schemas as Amazon Forecast defines them
(https://docs.aws.amazon.com/forecast/latest/dg/howitworks-domains-ds-types.html and the per-domain pages).

Each domain names the field that identifies a series (`item_id`, or `instance_type`, `workforce_type`,
`metric_name`) and the target field of its target time series; every dataset type needs the fields below, with
these types, in its schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.forecasting.series import OFFSETS
from services.forecast.errors import InvalidInput

ATTRIBUTE_TYPES = ("string", "integer", "float", "timestamp", "geolocation")
NUMERIC = ("integer", "float")
TARGET, RELATED, METADATA = "TARGET_TIME_SERIES", "RELATED_TIME_SERIES", "ITEM_METADATA"

# AWS's DataFrequency / ForecastFrequency values, with their pandas offsets.
FREQUENCIES = OFFSETS
_FREQUENCY_MINUTES = {"1min": 1, "5min": 5, "10min": 10, "15min": 15, "30min": 30, "H": 60, "D": 1440,
                      "W": 10080, "M": 43200, "Y": 525600}


@dataclass(frozen=True)
class Domain:
    name: str
    item_field: str  # the field that names a series
    target_field: str  # the target time series' value to forecast

    def required(self, dataset_type: str) -> dict[str, tuple[str, ...]]:
        """{field: allowed attribute types} that a dataset of this type must have."""
        if dataset_type == TARGET:
            return {self.item_field: ("string",), "timestamp": ("timestamp",), self.target_field: NUMERIC}
        if dataset_type == RELATED:
            return {self.item_field: ("string",), "timestamp": ("timestamp",)}
        return {self.item_field: ("string",)}


DOMAINS = {domain.name: domain for domain in (
    Domain("RETAIL", "item_id", "demand"),
    Domain("CUSTOM", "item_id", "target_value"),
    Domain("INVENTORY_PLANNING", "item_id", "demand"),
    Domain("EC2_CAPACITY", "instance_type", "number_of_instances"),
    Domain("WORK_FORCE", "workforce_type", "workforce_demand"),
    Domain("WEB_TRAFFIC", "item_id", "value"),
    Domain("METRICS", "metric_name", "metric_value"),
)}

_ATTRIBUTE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")
MAX_ATTRIBUTES = 100  # AWS: at most 100 attributes per dataset (target: 13 dimensions + 10 related features ...)


def check_schema(domain_name: str, dataset_type: str, schema: dict, frequency: str | None) -> list[dict]:
    """The schema's attributes, or InvalidInputException naming what is wrong."""
    domain = DOMAINS[domain_name]
    attributes = schema.get("Attributes") or []
    if not attributes:
        raise InvalidInput("The schema must have at least one attribute.")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(f"The schema has {len(attributes)} attributes; the maximum is {MAX_ATTRIBUTES}.")
    seen: dict[str, str] = {}
    for attribute in attributes:
        name, kind = attribute.get("AttributeName"), attribute.get("AttributeType")
        if not name or not _ATTRIBUTE_NAME.match(name) or len(name) > 63:
            raise InvalidInput(f"Attribute name {name!r} is invalid: it must start with a letter and contain only "
                               f"letters, digits and underscores (at most 63 characters).")
        if kind not in ATTRIBUTE_TYPES:
            raise InvalidInput(f"Attribute {name} has type {kind!r}; the valid types are "
                               f"{', '.join(ATTRIBUTE_TYPES)}.")
        if name.lower() in seen:
            raise InvalidInput(f"Attribute {name} appears more than once in the schema.")
        seen[name.lower()] = kind
    for field, allowed in domain.required(dataset_type).items():
        if field not in seen:
            raise InvalidInput(f"The {domain.name} domain's {dataset_type} dataset requires the attribute {field} "
                               f"({' or '.join(allowed)}); the schema does not have it.")
        if seen[field] not in allowed:
            raise InvalidInput(f"Attribute {field} of a {domain.name} {dataset_type} dataset must be of type "
                               f"{' or '.join(allowed)}, not {seen[field]}.")
    if dataset_type == METADATA and "timestamp" in seen:
        raise InvalidInput("An ITEM_METADATA dataset cannot have a timestamp attribute.")
    if dataset_type == RELATED:
        if not frequency:
            raise InvalidInput("DataFrequency is required for RELATED_TIME_SERIES datasets.")
        if not any(seen[name] in NUMERIC for name in seen if name not in domain.required(RELATED)):
            raise InvalidInput("A RELATED_TIME_SERIES dataset needs at least one numeric attribute besides its "
                               "identifiers and timestamp.")
    if frequency is not None and frequency not in FREQUENCIES:
        raise InvalidInput(f"DataFrequency {frequency!r} is not valid; valid values are "
                           f"{', '.join(FREQUENCIES)}.")
    return attributes


def check_frequency(frequency: str, member: str = "ForecastFrequency") -> str:
    if frequency not in FREQUENCIES:
        raise InvalidInput(f"{member} {frequency!r} is not valid; valid values are {', '.join(FREQUENCIES)}.")
    return frequency


def finer_than(frequency: str, other: str) -> bool:
    """Whether `frequency` is finer than `other` (forecasting at a finer grain than the data is refused)."""
    return _FREQUENCY_MINUTES[frequency] < _FREQUENCY_MINUTES[other]
