"""Amazon Personalize schemas: CreateSchema's Avro JSON checked, and a schema checked against a dataset type.

`parse_schema` does what CreateSchema does with its `schema` string: it must be JSON, an Avro record (name,
optional namespace, fields with a name and a type) of a flat shape Personalize takes — field types float,
double, int, long, string, boolean, each optionally in a union with null; no nested records, arrays, maps,
enums, fixed or bytes; `categorical` and `textual` only on string fields; field names unique even once case and
underscores are ignored (GENRES_FIELD_1 and GENRESFIELD1 clash).

`check_dataset_schema` does what CreateDataset does with the schema it names: each dataset type (Interactions,
Items, Users, Actions, Action_Interactions; case-insensitive) and domain (None for a Custom dataset group,
ECOMMERCE or VIDEO_ON_DEMAND) has required fields and reserved keywords with required types, and limits on how
many metadata fields a schema has.

Field names match the required fields and reserved keywords case-insensitively (`user_id` is USER_ID); a
`Field`'s `key` is the keyword's canonical upper-case spelling (the column name `data.read_csv` gives it),
and a custom metadata field's `key` is its own name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field as dataclass_field

from services.personalize.errors import InvalidInput

DATASET_TYPES = ("Interactions", "Items", "Users", "Actions", "Action_Interactions")
DOMAINS = ("ECOMMERCE", "VIDEO_ON_DEMAND")
TYPES = ("float", "double", "int", "long", "string", "boolean")  # a field's type, besides null
NUMERIC_TYPES = ("float", "double", "int", "long")
MAX_SCHEMA_LENGTH = 20_000  # CreateSchema's `schema` member

_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMPLEX_TYPES = ("record", "error", "enum", "array", "map", "fixed")
_FIELD_ORDERS = ("ascending", "descending", "ignore")


@dataclass(frozen=True)
class Field:
    name: str  # as the schema spells it
    type: str  # one of TYPES
    nullable: bool  # the type is a union with null
    categorical: bool = False
    textual: bool = False

    @property
    def key(self) -> str:
        """USER_ID, TIMESTAMP, ... for a required field or reserved keyword in any spelling; else the name."""
        upper = self.name.upper()
        return upper if upper in KEYWORDS else self.name

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    def describe(self) -> str:
        """The field's type as the docs write it: `categorical string, null`."""
        words = ("categorical " if self.categorical else "textual " if self.textual else "") + self.type
        return words + (", null" if self.nullable else "")


@dataclass(frozen=True)
class Schema:
    name: str  # the record's name
    namespace: str | None
    fields: list[Field] = dataclass_field(default_factory=list)
    text: str = ""  # the schema string as CreateSchema got it (DescribeSchema answers it back)

    @property
    def keys(self) -> list[str]:
        return [field.key for field in self.fields]

    def field(self, key: str) -> Field | None:
        """The field whose key (or name) is `key`, matched case-insensitively for keywords."""
        wanted = key.upper() if key.upper() in KEYWORDS else key
        return next((field for field in self.fields if field.key == wanted), None)


# ---- parse_schema: CreateSchema --------------------------------------------------------------------------------

def parse_schema(text: str) -> Schema:
    """CreateSchema's `schema` string as a Schema; InvalidInput naming what is wrong with it."""
    if not isinstance(text, str):
        raise InvalidInput("The schema must be a string holding an Avro schema in JSON.")
    if len(text) > MAX_SCHEMA_LENGTH:
        raise InvalidInput(f"The schema is {len(text)} characters long; the most it can be is {MAX_SCHEMA_LENGTH}.")
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise InvalidInput(f"The schema is not valid JSON: {error}.") from None
    if not isinstance(document, dict):
        raise InvalidInput("The schema must be an Avro record: a JSON object with \"type\": \"record\", a name "
                           "and fields.")
    kind = document.get("type")
    if kind != "record":
        raise InvalidInput(f"The schema's type must be \"record\", not {json.dumps(kind)}: Amazon Personalize "
                           f"schemas are Avro records.")
    name, namespace = _record_name(document)
    fields = document.get("fields")
    if not isinstance(fields, list):
        raise InvalidInput("The schema's record must have \"fields\": a JSON array of fields, each with a name "
                           "and a type.")
    if not fields:
        raise InvalidInput("The schema's record has no fields.")
    parsed = [_parse_field(index, value) for index, value in enumerate(fields)]
    _check_unique(parsed)
    return Schema(name=name, namespace=namespace, fields=parsed, text=text)


def _reject_constant(value: str):
    raise ValueError(f"{value} is not a JSON value")


def _record_name(document: dict) -> tuple[str, str | None]:
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput("The schema's record must have a \"name\" (a string such as \"Interactions\").")
    namespace = document.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InvalidInput(f"The schema's namespace must be a string, not {json.dumps(namespace)}.")
    full = name if "." in name or not namespace else f"{namespace}.{name}"
    for part in full.split("."):
        if not _AVRO_NAME.fullmatch(part):
            raise InvalidInput(f"The schema's name {json.dumps(full)} is not a valid Avro name: each part must "
                               f"start with a letter or _ and hold only letters, digits and _.")
    if "." in name:
        namespace, name = name.rsplit(".", 1)
    return name, namespace or None


def _parse_field(index: int, value) -> Field:
    if not isinstance(value, dict):
        raise InvalidInput(f"Field {index + 1} of the schema must be a JSON object with a name and a type.")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"Field {index + 1} of the schema has no \"name\".")
    if not _AVRO_NAME.fullmatch(name):
        raise InvalidInput(f"Field name {json.dumps(name)} is not valid: a field name must start with a letter or "
                           f"_ and hold only letters, digits and _.")
    if "type" not in value:
        raise InvalidInput(f"Field {name} has no \"type\".")
    kind, nullable, branches = _field_type(name, value["type"])
    if "default" in value:
        _check_default(name, value["default"], branches[0])
    order = value.get("order")
    if order is not None and order not in _FIELD_ORDERS:
        raise InvalidInput(f"Field {name} has an invalid \"order\" {json.dumps(order)}: use ascending, descending "
                           f"or ignore.")
    aliases = value.get("aliases")
    if aliases is not None and not (isinstance(aliases, list) and all(
            isinstance(alias, str) and _AVRO_NAME.fullmatch(alias) for alias in aliases)):
        raise InvalidInput(f"Field {name} has invalid \"aliases\": they must be a list of valid Avro names.")
    categorical = _flag(name, value, "categorical")
    textual = _flag(name, value, "textual")
    if categorical and kind != "string":
        raise InvalidInput(f"Field {name} is of type {kind}: only string fields can be categorical.")
    if textual and kind != "string":
        raise InvalidInput(f"Field {name} is of type {kind}: only string fields can be textual.")
    if categorical and textual:
        raise InvalidInput(f"Field {name} can't be both categorical and textual.")
    return Field(name=name, type=kind, nullable=nullable, categorical=categorical, textual=textual)


def _flag(name: str, value: dict, attribute: str) -> bool:
    flag = value.get(attribute, False)
    if not isinstance(flag, bool):
        raise InvalidInput(f"Field {name} has \"{attribute}\": {json.dumps(flag)}; it must be true or false.")
    return flag


def _field_type(name: str, kind) -> tuple[str, bool, list[str]]:
    """(the non-null type, whether null is allowed, the union's branches in order)."""
    branches = [_primitive(name, branch, in_union=True) for branch in kind] if isinstance(kind, list) \
        else [_primitive(name, kind, in_union=False)]
    if not branches:
        raise InvalidInput(f"Field {name} has an empty union as its type.")
    if len(set(branches)) != len(branches):
        raise InvalidInput(f"Field {name}'s union {json.dumps(kind)} names a type twice.")
    others = [branch for branch in branches if branch != "null"]
    if not others:
        raise InvalidInput(f"Field {name} has only the null type: give it one of {', '.join(TYPES)}.")
    if len(others) > 1:
        raise InvalidInput(f"Field {name}'s union {json.dumps(kind)} has more than one type besides null: "
                           f"Amazon Personalize fields have one type, optionally in a union with null.")
    return others[0], "null" in branches, branches


def _primitive(name: str, kind, in_union: bool) -> str:
    if isinstance(kind, list):
        raise InvalidInput(f"Field {name}'s union contains another union: Avro doesn't allow it.")
    if isinstance(kind, dict):  # {"type": "long"}, {"type": "long", "logicalType": ...}: the primitive itself
        inner = kind.get("type")
        if isinstance(inner, str) and inner in _COMPLEX_TYPES:
            raise InvalidInput(_nested(name, inner))
        if not isinstance(inner, str):
            raise InvalidInput(f"Field {name} has an invalid type {json.dumps(kind)}.")
        kind = inner
    if not isinstance(kind, str):
        raise InvalidInput(f"Field {name} has an invalid type {json.dumps(kind)}.")
    if kind in TYPES or kind == "null":
        return kind
    if kind in _COMPLEX_TYPES:
        raise InvalidInput(_nested(name, kind))
    if kind == "bytes":
        raise InvalidInput(f"Field {name} has type bytes, which Amazon Personalize doesn't support: use one of "
                           f"{', '.join(TYPES)}, optionally with null.")
    raise InvalidInput(f"Field {name} has an unknown type {json.dumps(kind)}: use one of {', '.join(TYPES)}, "
                       f"optionally with null.")


def _nested(name: str, kind: str) -> str:
    return (f"Field {name} has the complex type {kind}: Amazon Personalize schemas are flat, without nested "
            f"records, arrays, maps, enums or fixed types. Use one of {', '.join(TYPES)}, optionally with null "
            f"(for several values, a string with values separated by |).")


def _check_default(name: str, default, first: str) -> None:
    """Avro: a field's default matches its type, a union's the union's first branch."""
    fits = {
        "null": default is None,
        "boolean": isinstance(default, bool),
        "int": isinstance(default, int) and not isinstance(default, bool) and -2 ** 31 <= default < 2 ** 31,
        "long": isinstance(default, int) and not isinstance(default, bool) and -2 ** 63 <= default < 2 ** 63,
        "float": isinstance(default, (int, float)) and not isinstance(default, bool),
        "double": isinstance(default, (int, float)) and not isinstance(default, bool),
        "string": isinstance(default, str),
    }[first]
    if not fits:
        raise InvalidInput(f"Field {name} has the default {json.dumps(default)}, which is not a {first} (a "
                           f"default must match the field's type, or for a union its first type).")


def _check_unique(fields: list[Field]) -> None:
    seen: dict[str, str] = {}
    for field in fields:
        alnum = re.sub(r"[^0-9a-z]", "", field.name.lower())
        if alnum in seen:
            other = seen[alnum]
            if other == field.name:
                raise InvalidInput(f"The schema has two fields named {field.name}.")
            raise InvalidInput(f"Fields {other} and {field.name} clash: schema fields must have unique "
                               f"alphanumeric names, ignoring case and underscores.")
        seen[alnum] = field.name


# ---- check_dataset_schema: CreateDataset -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Rule:
    """What a required field or reserved keyword must be."""
    type: str
    nullable: bool = False  # the type may include null
    categorical: bool | None = False  # True: must be categorical; False: can't be; None: either
    textual: bool = False  # must be textual (else can't be)

    def describe(self) -> str:
        words = ("categorical " if self.categorical else "textual " if self.textual else "") + self.type
        return words + (", optionally with null" if self.nullable else "")


_ID = _Rule("string")
_LONG, _LONG_NULL = _Rule("long"), _Rule("long", nullable=True)
_FLOAT, _FLOAT_NULL = _Rule("float"), _Rule("float", nullable=True)
_STRING, _STRING_NULL = _Rule("string"), _Rule("string", nullable=True)
_CATEGORICAL, _CATEGORICAL_NULL = _Rule("string", categorical=True), _Rule("string", nullable=True, categorical=True)
_TEXTUAL_NULL = _Rule("string", nullable=True, textual=True)

_INTERACTION_RESERVED = {"EVENT_VALUE": _FLOAT_NULL, "IMPRESSION": _STRING_NULL, "RECOMMENDATION_ID": _STRING_NULL,
                         "EVENT_ATTRIBUTION_SOURCE": _STRING_NULL}
_INTERACTION_REQUIRED = {"USER_ID": _ID, "ITEM_ID": _ID, "TIMESTAMP": _LONG}

# (dataset type, domain) -> (required fields, reserved keywords), from the custom / ECOMMERCE / VIDEO_ON_DEMAND
# "dataset and schema requirements" tables of the Personalize developer guide.
_RULES: dict[tuple[str, str | None], tuple[dict[str, _Rule], dict[str, _Rule]]] = {
    ("Interactions", None): (_INTERACTION_REQUIRED, {"EVENT_TYPE": _STRING, **_INTERACTION_RESERVED}),
    ("Users", None): ({"USER_ID": _ID}, {}),
    ("Items", None): ({"ITEM_ID": _ID}, {"CREATION_TIMESTAMP": _LONG_NULL}),
    ("Actions", None): ({"ACTION_ID": _ID}, {
        "CREATION_TIMESTAMP": _LONG_NULL, "VALUE": _LONG_NULL, "EXPIRATION_TIMESTAMP": _LONG_NULL,
        "ACTION_EXPIRATION_TIMESTAMP": _LONG_NULL, "REPEAT_FREQUENCY": _LONG_NULL}),
    ("Action_Interactions", None): (
        {"USER_ID": _ID, "ACTION_ID": _ID, "EVENT_TYPE": _STRING, "TIMESTAMP": _LONG},
        {"IMPRESSION": _STRING_NULL, "RECOMMENDATION_ID": _STRING_NULL}),
    ("Interactions", "ECOMMERCE"): ({**_INTERACTION_REQUIRED, "EVENT_TYPE": _STRING}, _INTERACTION_RESERVED),
    ("Users", "ECOMMERCE"): ({"USER_ID": _ID}, {}),
    ("Items", "ECOMMERCE"): ({"ITEM_ID": _ID, "PRICE": _FLOAT, "CATEGORY_L1": _CATEGORICAL}, {
        "CATEGORY_L2": _CATEGORICAL_NULL, "CATEGORY_L3": _CATEGORICAL_NULL, "PRODUCT_DESCRIPTION": _TEXTUAL_NULL,
        "CREATION_TIMESTAMP": _LONG_NULL, "AGE_GROUP": _CATEGORICAL_NULL, "ADULT": _CATEGORICAL_NULL,
        "GENDER": _CATEGORICAL_NULL}),
    ("Interactions", "VIDEO_ON_DEMAND"): ({**_INTERACTION_REQUIRED, "EVENT_TYPE": _STRING}, _INTERACTION_RESERVED),
    ("Users", "VIDEO_ON_DEMAND"): ({"USER_ID": _ID}, {"SUBSCRIPTION_MODEL": _CATEGORICAL_NULL}),
    ("Items", "VIDEO_ON_DEMAND"): ({"ITEM_ID": _ID, "CREATION_TIMESTAMP": _LONG, "GENRES": _CATEGORICAL}, {
        "PRICE": _FLOAT_NULL, "DURATION": _FLOAT_NULL, "GENRE_L2": _CATEGORICAL_NULL,
        "GENRE_L3": _CATEGORICAL_NULL, "AVERAGE_RATING": _FLOAT_NULL, "PRODUCT_DESCRIPTION": _TEXTUAL_NULL,
        "CONTENT_OWNER": _CATEGORICAL_NULL, "CONTENT_CLASSIFICATION": _CATEGORICAL_NULL}),
}

KEYWORDS = frozenset(key for required, reserved in _RULES.values() for key in (*required, *reserved))
ID_KEYS = ("USER_ID", "ITEM_ID", "ACTION_ID")

# Most metadata fields (neither required nor reserved) a schema of each type has (service quotas).
MAX_METADATA = {"Interactions": 5, "Users": 25, "Items": 100, "Actions": 10, "Action_Interactions": None}
MAX_TEXTUAL_FIELDS = 1  # per Items dataset
# Item interactions: EVENT_TYPE, EVENT_VALUE and the metadata fields, with the data's distinct event types.
MAX_INTERACTION_METADATA_AND_EVENT_TYPES = 10
_NOT_METADATA_BUDGET = ("USER_ID", "ITEM_ID", "TIMESTAMP", "IMPRESSION", "RECOMMENDATION_ID",
                        "EVENT_ATTRIBUTION_SOURCE")


def dataset_type_name(dataset_type: str) -> str:
    """CreateDataset's datasetType (case-insensitive) in its canonical spelling: Interactions, Action_Interactions."""
    if isinstance(dataset_type, str):
        for name in DATASET_TYPES:
            if dataset_type.lower() == name.lower():
                return name
    raise InvalidInput(f"Dataset type {dataset_type!r} is not valid: use one of {', '.join(DATASET_TYPES)}.")


def domain_name(domain: str | None) -> str | None:
    if domain in (None, ""):
        return None
    if domain not in DOMAINS:
        raise InvalidInput(f"Domain {domain!r} is not valid: use ECOMMERCE or VIDEO_ON_DEMAND.")
    return domain


def interaction_budget_fields(schema: Schema) -> list[Field]:
    """The Item interactions fields counted with the distinct event types against the limit of 10."""
    return [field for field in schema.fields if field.key not in _NOT_METADATA_BUDGET]


def check_dataset_schema(schema: Schema, dataset_type: str, domain: str | None) -> None:
    """CreateDataset's check of its schema; InvalidInput naming the first problem."""
    kind = dataset_type_name(dataset_type)
    domain = domain_name(domain)
    where = f"an {kind} dataset" if kind[0] in "AEIO" else f"a {kind} dataset"
    if domain:
        where += f" in {'an' if domain == 'ECOMMERCE' else 'a'} {domain} domain dataset group"
    if (kind, domain) not in _RULES:
        raise InvalidInput(f"You can't create {where}: Actions and Action_Interactions datasets belong to "
                           f"Custom dataset groups only.")
    required, reserved = _RULES[(kind, domain)]
    prefix = f"The schema is not valid for {where}:"
    by_key = {field.key: field for field in schema.fields}
    for key, rule in required.items():
        if key not in by_key:
            raise InvalidInput(f"{prefix} it lacks the required field {key} ({rule.describe()}).")
    for field in schema.fields:
        rule = required.get(field.key) or reserved.get(field.key)
        if rule is not None:
            _check_rule(prefix, field, rule, "required field" if field.key in required else "reserved keyword")
        elif field.textual and kind != "Items":
            raise InvalidInput(f"{prefix} field {field.name} is textual, and only Items schemas support fields "
                               f"with the textual attribute.")
    metadata = [field for field in schema.fields if field.key not in required and field.key not in reserved]
    limit = MAX_METADATA[kind]
    if limit is not None and len(metadata) > limit:
        raise InvalidInput(f"{prefix} it has {len(metadata)} metadata fields ({_names(metadata)}); the most "
                           f"{where} can have, besides required and reserved fields, is {limit}.")
    if kind in ("Users", "Items", "Actions"):
        pool = metadata if domain is None else [field for field in schema.fields if field.key not in required]
        if kind != "Items" or domain is None:
            usable = [field for field in pool if field.numeric or field.categorical
                      or (field.textual and kind == "Items")]
            if not usable:
                what = "a categorical or textual string field or a numerical field" if kind == "Items" \
                    else "a categorical string field or a numerical field"
                raise InvalidInput(f"{prefix} it needs at least one metadata field: {what}.")
    if kind == "Items":
        textual = [field for field in schema.fields if field.textual]
        if len(textual) > MAX_TEXTUAL_FIELDS:
            raise InvalidInput(f"{prefix} it has {len(textual)} textual fields ({_names(textual)}); an Items "
                               f"dataset can have at most {MAX_TEXTUAL_FIELDS}.")


def _check_rule(prefix: str, field: Field, rule: _Rule, what: str) -> None:
    label = f"{what} {field.key}" + (f" (field {field.name})" if field.name != field.key else "")
    if field.type != rule.type:
        raise InvalidInput(f"{prefix} the {label} must be of type {rule.describe()}, not {field.describe()}.")
    if field.nullable and not rule.nullable:
        raise InvalidInput(f"{prefix} the {label} can't be null: its type must be {rule.type}, without null.")
    if rule.categorical is True and not field.categorical:
        raise InvalidInput(f"{prefix} the {label} must be a categorical string: set \"categorical\": true.")
    if rule.categorical is False and field.categorical:
        raise InvalidInput(f"{prefix} the {label} can't be categorical: reserved string fields aren't "
                           f"categorical.")
    if rule.textual and not field.textual:
        raise InvalidInput(f"{prefix} the {label} must be a textual string: set \"textual\": true.")
    if not rule.textual and field.textual:
        raise InvalidInput(f"{prefix} the {label} can't be textual.")


def _names(fields: list[Field]) -> str:
    return ", ".join(field.name for field in fields)
