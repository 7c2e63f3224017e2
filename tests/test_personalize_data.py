"""Amazon Personalize schemas (CreateSchema's Avro checks, CreateDataset's per-type and per-domain rules) and
dataset import CSV files read by their schema: pure unit tests, no gateway."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pandas as pd
import pytest

from services.personalize.data import BadRow, read_csv, write_csv
from services.personalize.errors import InvalidInput
from services.personalize.schemas import DATASET_TYPES, Field, Schema, check_dataset_schema, parse_schema


def avro(fields: list[dict], name: str = "Schema", **extra) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema",
                       "fields": fields, "version": "1.0", **extra})


def f(name: str, kind, **attributes) -> dict:
    return {"name": name, "type": kind, **attributes}


def invalid(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_schema(text)
    return caught.value.message


def rejected(fields: list[dict], dataset_type: str, domain: str | None = None) -> str:
    schema = parse_schema(avro(fields))
    with pytest.raises(InvalidInput) as caught:
        check_dataset_schema(schema, dataset_type, domain)
    return caught.value.message


INTERACTIONS = [f("USER_ID", "string"), f("ITEM_ID", "string"), f("TIMESTAMP", "long")]
# The developer guide's Interactions example: reserved keywords and contextual metadata.
INTERACTIONS_FULL = [
    f("USER_ID", "string"), f("ITEM_ID", "string"), f("EVENT_TYPE", "string"), f("EVENT_VALUE", ["float", "null"]),
    f("LOCATION", "string", categorical=True), f("DEVICE", ["string", "null"], categorical=True),
    f("TIMESTAMP", "long"), f("IMPRESSION", "string"), f("RECOMMENDATION_ID", ["null", "string"]),
    f("EVENT_ATTRIBUTION_SOURCE", ["null", "string"])]
USERS = [f("USER_ID", "string"), f("AGE", "int"), f("GENDER", "string", categorical=True)]
ITEMS = [f("ITEM_ID", "string"), f("GENRES", ["null", "string"], categorical=True), f("CREATION_TIMESTAMP", "long"),
         f("DESCRIPTION", ["null", "string"], textual=True)]
ACTIONS = [f("ACTION_ID", "string"), f("VALUE", ["null", "long"]),
           f("MEMBERSHIP_LEVEL", ["null", "string"], categorical=True), f("CREATION_TIMESTAMP", "long"),
           f("REPEAT_FREQUENCY", ["long", "null"])]
ACTION_INTERACTIONS = [f("USER_ID", "string"), f("ACTION_ID", "string"), f("EVENT_TYPE", "string"),
                       f("TIMESTAMP", "long")]
ECOMMERCE_INTERACTIONS = [*INTERACTIONS, f("EVENT_TYPE", "string")]
ECOMMERCE_ITEMS = [f("ITEM_ID", "string"), f("PRICE", "float"), f("CATEGORY_L1", ["string"], categorical=True)]
ECOMMERCE_ITEMS_FULL = [
    *ECOMMERCE_ITEMS, f("CATEGORY_L2", ["null", "string"], categorical=True),
    f("CATEGORY_L3", ["null", "string"], categorical=True), f("PRODUCT_DESCRIPTION", ["null", "string"], textual=True),
    f("CREATION_TIMESTAMP", "long"), f("AGE_GROUP", ["null", "string"], categorical=True),
    f("ADULT", ["null", "string"], categorical=True), f("GENDER", ["null", "string"], categorical=True)]
VOD_USERS = [f("USER_ID", "string"), f("SUBSCRIPTION_MODEL", "string", categorical=True)]
VOD_ITEMS = [f("ITEM_ID", "string"), f("GENRES", "string", categorical=True), f("CREATION_TIMESTAMP", "long")]
VOD_ITEMS_FULL = [
    *VOD_ITEMS, f("PRICE", ["float", "null"]), f("DURATION", ["float", "null"]),
    f("GENRE_L2", ["null", "string"], categorical=True), f("GENRE_L3", ["null", "string"], categorical=True),
    f("AVERAGE_RATING", ["float", "null"]), f("PRODUCT_DESCRIPTION", ["null", "string"], textual=True),
    f("CONTENT_OWNER", ["null", "string"], categorical=True),
    f("CONTENT_CLASSIFICATION", ["null", "string"], categorical=True)]


# ---- valid schemas -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, dataset_type, domain", [
    (INTERACTIONS, "Interactions", None),
    (INTERACTIONS_FULL, "Interactions", None),
    (USERS, "Users", None),
    (ITEMS, "Items", None),
    (ACTIONS, "Actions", None),
    (ACTION_INTERACTIONS, "Action_Interactions", None),
    (ECOMMERCE_INTERACTIONS, "Interactions", "ECOMMERCE"),
    (USERS, "Users", "ECOMMERCE"),
    (ECOMMERCE_ITEMS, "Items", "ECOMMERCE"),
    (ECOMMERCE_ITEMS_FULL, "Items", "ECOMMERCE"),
    (ECOMMERCE_INTERACTIONS, "Interactions", "VIDEO_ON_DEMAND"),
    (VOD_USERS, "Users", "VIDEO_ON_DEMAND"),
    (VOD_ITEMS, "Items", "VIDEO_ON_DEMAND"),
    (VOD_ITEMS_FULL, "Items", "VIDEO_ON_DEMAND"),
])
def test_valid_schemas_pass(fields, dataset_type, domain):
    schema = parse_schema(avro(fields, name=dataset_type.replace("_", "")))
    check_dataset_schema(schema, dataset_type, domain)
    assert [field.name for field in schema.fields] == [field["name"] for field in fields]


def test_dataset_types_are_case_insensitive():
    assert DATASET_TYPES == ("Interactions", "Items", "Users", "Actions", "Action_Interactions")
    check_dataset_schema(parse_schema(avro(INTERACTIONS)), "INTERACTIONS", None)
    check_dataset_schema(parse_schema(avro(ACTION_INTERACTIONS)), "action_interactions", None)
    assert "Dataset type 'Clicks' is not valid" in rejected(INTERACTIONS, "Clicks")


def test_parsed_fields():
    schema = parse_schema(avro(INTERACTIONS_FULL, name="Interactions"))
    assert schema.name == "Interactions" and schema.namespace == "com.amazonaws.personalize.schema"
    assert isinstance(schema, Schema) and schema.text.startswith("{")
    assert schema.field("EVENT_VALUE") == Field("EVENT_VALUE", "float", True, False, False)
    assert schema.field("DEVICE") == Field("DEVICE", "string", True, categorical=True)
    assert schema.field("TIMESTAMP").nullable is False
    items = parse_schema(avro(ITEMS))
    assert items.field("DESCRIPTION").textual and not items.field("DESCRIPTION").categorical


def test_keyword_fields_match_case_insensitively():
    schema = parse_schema(avro([f("user_id", "string"), f("Item_Id", "string"), f("timestamp", "long"),
                                f("Mood", "string", categorical=True)]))
    assert schema.keys == ["USER_ID", "ITEM_ID", "TIMESTAMP", "Mood"]
    check_dataset_schema(schema, "Interactions", None)
    assert schema.field("user_id").name == "user_id"


def test_schema_accepts_avro_extras():
    text = json.dumps({"type": "record", "name": "com.example.Items", "doc": "items", "fields": [
        {"name": "ITEM_ID", "type": {"type": "string"}, "doc": "id"},
        {"name": "PRICE", "type": ["null", "float"], "default": None, "order": "ascending"},
        {"name": "STOCK", "type": {"type": "long", "logicalType": "timestamp-millis"}, "default": 0}]})
    schema = parse_schema(text)
    assert schema.name == "Items" and schema.namespace == "com.example"
    assert [(field.type, field.nullable) for field in schema.fields] == [
        ("string", False), ("float", True), ("long", False)]
    check_dataset_schema(schema, "Items", None)


# ---- CreateSchema's checks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("{not json", "not valid JSON"),
    ('["record"]', "must be an Avro record"),
    (json.dumps({"type": "enum", "name": "X", "symbols": ["A"]}), 'type must be "record"'),
    (json.dumps({"type": "record", "fields": [f("USER_ID", "string")]}), 'must have a "name"'),
    (json.dumps({"type": "record", "name": "9lives", "fields": [f("USER_ID", "string")]}), "not a valid Avro name"),
    (json.dumps({"type": "record", "name": "X", "namespace": 5, "fields": [f("A", "string")]}),
     "namespace must be a string"),
    (json.dumps({"type": "record", "name": "X"}), 'must have "fields"'),
    (json.dumps({"type": "record", "name": "X", "fields": []}), "has no fields"),
    (avro([{"name": "USER_ID"}]), 'Field USER_ID has no "type"'),
    (avro([{"type": "string"}]), 'Field 1 of the schema has no "name"'),
    (avro([f("USER-ID", "string")]), 'Field name "USER-ID" is not valid'),
    (avro([f("A", "uuid")]), 'unknown type "uuid"'),
    (avro([f("A", "bytes")]), "bytes, which Amazon Personalize doesn't support"),
    (avro([f("A", {"type": "array", "items": "string"})]), "complex type array"),
    (avro([f("A", {"type": "map", "values": "string"})]), "complex type map"),
    (avro([f("A", {"type": "record", "name": "B", "fields": [f("C", "string")]})]), "without nested records"),
    (avro([f("A", ["null", {"type": "enum", "name": "E", "symbols": ["x"]}])]), "complex type enum"),
    (avro([f("A", ["int", "string"])]), "more than one type besides null"),
    (avro([f("A", ["null"])]), "only the null type"),
    (avro([f("A", [])]), "empty union"),
    (avro([f("A", ["null", "string", "null"])]), "names a type twice"),
    (avro([f("A", ["null", ["string"]])]), "contains another union"),
    (avro([f("A", "int", categorical=True)]), "only string fields can be categorical"),
    (avro([f("A", "long", textual=True)]), "only string fields can be textual"),
    (avro([f("A", "string", categorical=True, textual=True)]), "can't be both categorical and textual"),
    (avro([f("A", "string", categorical="true")]), 'has "categorical": "true"; it must be true or false'),
    (avro([f("A", "string"), f("A", "long")]), "two fields named A"),
    (avro([f("GENRES_FIELD_1", "string"), f("GENRESFIELD1", "string")]),
     "Fields GENRES_FIELD_1 and GENRESFIELD1 clash: schema fields must have unique alphanumeric names"),
    (avro([f("user_id", "string"), f("USER_ID", "string")]), "clash"),
    (avro([f("A", ["string", "null"], default=None)]), "default null, which is not a string"),
    (avro([f("A", "int", default=2 ** 40)]), "not a int"),
    (avro([f("A", "string", order="up")]), 'invalid "order"'),
    ('{"type": "record", "name": "X", "fields": [{"name": "A", "type": "float", "default": NaN}]}',
     "not valid JSON"),
    (avro([f("A", "string")], padding="x" * 20_000), "the most it can be is 20000"),
])
def test_invalid_avro_is_rejected(text, expected):
    assert expected in invalid(text)


def test_non_string_schema_is_rejected():
    with pytest.raises(InvalidInput, match="must be a string"):
        parse_schema({"type": "record"})


# ---- CreateDataset's checks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("fields, dataset_type, domain, expected", [
    (INTERACTIONS[:2], "Interactions", None, "lacks the required field TIMESTAMP (long)"),
    ([*INTERACTIONS[:2], f("TIMESTAMP", "int")], "Interactions", None,
     "required field TIMESTAMP must be of type long, not int"),
    ([f("USER_ID", ["null", "string"]), *INTERACTIONS[1:]], "Interactions", None,
     "required field USER_ID can't be null"),
    ([f("USER_ID", "string", categorical=True), *INTERACTIONS[1:]], "Interactions", None,
     "USER_ID can't be categorical"),
    ([f("USER_ID", "string", textual=True), *INTERACTIONS[1:]], "Interactions", None, "USER_ID can't be textual"),
    ([f("USER_ID", "long"), *INTERACTIONS[1:]], "Interactions", None, "USER_ID must be of type string, not long"),
    ([*INTERACTIONS, f("EVENT_TYPE", "string", categorical=True)], "Interactions", None,
     "reserved keyword EVENT_TYPE can't be categorical"),
    ([*INTERACTIONS, f("EVENT_VALUE", "double")], "Interactions", None,
     "EVENT_VALUE must be of type float, optionally with null, not double"),
    ([*INTERACTIONS, f("IMPRESSION", "string", categorical=True)], "Interactions", None,
     "IMPRESSION can't be categorical"),
    ([*INTERACTIONS, *[f(f"M{index}", "string", categorical=True) for index in range(6)]], "Interactions", None,
     "it has 6 metadata fields (M0, M1, M2, M3, M4, M5); the most an Interactions dataset can have"),
    ([*INTERACTIONS, f("NOTE", "string", textual=True)], "Interactions", None,
     "only Items schemas support fields with the textual attribute"),
    ([f("USER_ID", "string")], "Users", None, "needs at least one metadata field"),
    ([f("USER_ID", "string"), f("NAME", "string"), f("VIP", "boolean")], "Users", None,
     "needs at least one metadata field: a categorical string field or a numerical field"),
    ([f("USER_ID", "string"), *[f(f"M{index}", "int") for index in range(26)]], "Users", None,
     "the most a Users dataset can have, besides required and reserved fields, is 25"),
    ([f("USER_ID", "string"), f("BIO", "string", textual=True)], "Users", None, "only Items schemas support"),
    ([f("ITEM_ID", "string"), f("TITLE", "string")], "Items", None,
     "a categorical or textual string field or a numerical field"),
    ([f("ITEM_ID", "string"), *[f(f"M{index}", "float") for index in range(101)]], "Items", None, "is 100"),
    ([*ITEMS, f("REVIEW", "string", textual=True)], "Items", None,
     "it has 2 textual fields (DESCRIPTION, REVIEW); an Items dataset can have at most 1"),
    ([f("ITEM_ID", "string"), f("CREATION_TIMESTAMP", "double"), f("PRICE", "float")], "Items", None,
     "CREATION_TIMESTAMP must be of type long"),
    ([f("ACTION_ID", "string"), *[f(f"M{index}", "long") for index in range(11)]], "Actions", None, "is 10"),
    ([f("ACTION_ID", "string"), f("VALUE", "float"), f("M", "int")], "Actions", None,
     "reserved keyword VALUE must be of type long"),
    ([f("ACTION_ID", "string"), f("CREATION_TIMESTAMP", "long")], "Actions", None,
     "needs at least one metadata field"),
    (ACTION_INTERACTIONS[:3], "Action_Interactions", None, "lacks the required field TIMESTAMP"),
    (INTERACTIONS, "Interactions", "ECOMMERCE", "in an ECOMMERCE domain dataset group: it lacks the required "
                                                "field EVENT_TYPE"),
    (INTERACTIONS, "Interactions", "VIDEO_ON_DEMAND", "lacks the required field EVENT_TYPE"),
    (ECOMMERCE_ITEMS[::2], "Items", "ECOMMERCE", "lacks the required field PRICE (float)"),
    ([f("ITEM_ID", "string"), f("PRICE", "float"), f("CATEGORY_L1", "string")], "Items", "ECOMMERCE",
     'required field CATEGORY_L1 must be a categorical string: set "categorical": true'),
    ([f("ITEM_ID", "string"), f("PRICE", ["null", "float"]), f("CATEGORY_L1", "string", categorical=True)],
     "Items", "ECOMMERCE", "required field PRICE can't be null"),
    ([*ECOMMERCE_ITEMS, f("PRODUCT_DESCRIPTION", "string")], "Items", "ECOMMERCE",
     'PRODUCT_DESCRIPTION must be a textual string: set "textual": true'),
    ([*ECOMMERCE_ITEMS, f("CATEGORY_L2", "string")], "Items", "ECOMMERCE",
     "reserved keyword CATEGORY_L2 must be a categorical string"),
    (VOD_ITEMS[:2], "Items", "VIDEO_ON_DEMAND", "lacks the required field CREATION_TIMESTAMP (long)"),
    ([VOD_ITEMS[0], VOD_ITEMS[2]], "Items", "VIDEO_ON_DEMAND", "lacks the required field GENRES (categorical string)"),
    (ECOMMERCE_ITEMS, "Items", "VIDEO_ON_DEMAND", "lacks the required field CREATION_TIMESTAMP"),
    ([f("USER_ID", "string"), f("SUBSCRIPTION_MODEL", "string")], "Users", "VIDEO_ON_DEMAND",
     "SUBSCRIPTION_MODEL must be a categorical string"),
    ([f("USER_ID", "string")], "Users", "ECOMMERCE", "needs at least one metadata field"),
    (ACTIONS, "Actions", "ECOMMERCE", "Actions and Action_Interactions datasets belong to Custom dataset groups"),
    (ACTION_INTERACTIONS, "Action_Interactions", "VIDEO_ON_DEMAND", "belong to Custom dataset groups only"),
    (INTERACTIONS, "Interactions", "RETAIL", "Domain 'RETAIL' is not valid"),
])
def test_dataset_rules_are_enforced(fields, dataset_type, domain, expected):
    assert expected in rejected(fields, dataset_type, domain)


def test_reserved_keywords_of_other_types_are_metadata():
    # EVENT_TYPE means nothing to a Users dataset: it is a metadata field like any other.
    check_dataset_schema(parse_schema(avro([f("USER_ID", "string"), f("EVENT_TYPE", "int")])), "Users", None)
    # PRICE is reserved only in domain Items datasets.
    check_dataset_schema(parse_schema(avro([f("ITEM_ID", "string"), f("PRICE", "double")])), "Items", None)


# ---- reading import files ----------------------------------------------------------------------------------------

def schema_of(fields: list[dict]) -> Schema:
    return parse_schema(avro(fields))


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


INTERACTIONS_SCHEMA = [f("USER_ID", "string"), f("ITEM_ID", "string"), f("EVENT_TYPE", "string"),
                       f("EVENT_VALUE", ["float", "null"]), f("DEVICE", ["null", "string"], categorical=True),
                       f("TIMESTAMP", "long")]


def test_reads_interactions_with_types():
    schema = schema_of(INTERACTIONS_SCHEMA)
    frame, bad = read_csv(csv_bytes("USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP",
                                    "u1,i1,click,0.5,phone|tablet,1586731606",
                                    "u2,i2,watch,,,1586731609"), schema, "Interactions")
    assert bad == []
    assert list(frame.columns) == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "DEVICE", "TIMESTAMP"]
    assert frame["USER_ID"].dtype == object and frame["USER_ID"].tolist() == ["u1", "u2"]
    assert frame["TIMESTAMP"].dtype == np.int64 and frame["TIMESTAMP"].tolist() == [1586731606, 1586731609]
    assert frame["EVENT_VALUE"].dtype == np.float64 and frame["EVENT_VALUE"].iloc[0] == 0.5
    assert np.isnan(frame["EVENT_VALUE"].iloc[1])
    assert frame["DEVICE"].tolist() == ["phone|tablet", None]  # multi-value categorical: kept as one string


def test_columns_in_any_order_and_case():
    schema = schema_of(INTERACTIONS)
    frame, bad = read_csv(csv_bytes("timestamp,Item_Id,user_id", "100,i1,u1"), schema, "Interactions")
    assert bad == [] and list(frame.columns) == ["USER_ID", "ITEM_ID", "TIMESTAMP"]
    assert frame.iloc[0].tolist() == ["u1", "i1", 100]


def test_value_types():
    schema = schema_of([f("USER_ID", "string"), f("AGE", "int"), f("VISITS", ["null", "long"]),
                        f("SCORE", "double"), f("VIP", "boolean"), f("OPTED_IN", ["null", "boolean"])])
    frame, bad = read_csv(csv_bytes("USER_ID,AGE,VISITS,SCORE,VIP,OPTED_IN",
                                    "a,31,,1.25,true,",
                                    "b,-4,+12,3,False,1",
                                    "c, 7 ,9223372036854775807,1e-3,0,false"), schema, "Users")
    assert bad == []
    assert frame["AGE"].dtype == np.int64 and frame["AGE"].tolist() == [31, -4, 7]
    assert str(frame["VISITS"].dtype) == "Int64"
    assert frame["VISITS"].isna().tolist() == [True, False, False]
    assert frame["VISITS"].iloc[2] == 2 ** 63 - 1
    assert frame["SCORE"].tolist() == [1.25, 3.0, 0.001]
    assert frame["VIP"].dtype == bool and frame["VIP"].tolist() == [True, False, False]
    assert str(frame["OPTED_IN"].dtype) == "boolean"
    assert frame["OPTED_IN"].isna().tolist() == [True, False, False]
    assert frame["OPTED_IN"].iloc[1] == True and frame["OPTED_IN"].iloc[2] == False  # noqa: E712


def test_bad_values_are_reported_by_line():
    schema = schema_of([f("USER_ID", "string"), f("AGE", "int"), f("VISITS", ["null", "long"]),
                        f("SCORE", "double"), f("VIP", "boolean")])
    frame, bad = read_csv(csv_bytes("USER_ID,AGE,VISITS,SCORE,VIP",
                                    "a,1,2,3,true",            # 2
                                    "b,one,2,3,true",          # 3
                                    "",                        # 4: a blank line is skipped, but counted
                                    "c,2147483648,2,3,true",   # 5: past int
                                    "d,1,99999999999999999999,3,yes",  # 6: past long, not a boolean
                                    "e,1,1.0,x,true",          # 7
                                    ",1,,nan,true",            # 8: no USER_ID; nan is not a number
                                    "f,,2,3,true",             # 9: null in a non-nullable int
                                    "g,5,,4.5,false"),         # 10
                          schema, "Users")
    assert frame["USER_ID"].tolist() == ["a", "g"]
    assert [row.line for row in bad] == [3, 5, 6, 7, 8, 9]
    reasons = {row.line: row.reason for row in bad}
    assert reasons[3] == "AGE: 'one' is not a valid int"
    assert reasons[5] == "AGE: '2147483648' is not a valid int"
    assert reasons[6] == ("VISITS: '99999999999999999999' is not a valid long; "
                          "VIP: 'yes' is not a valid boolean (use true or false)")
    assert reasons[7] == "VISITS: '1.0' is not a valid long; SCORE: 'x' is not a valid double"
    assert "USER_ID is empty, and its schema type doesn't allow null" in reasons[8]
    assert "SCORE: 'nan' is not a valid double" in reasons[8]
    assert reasons[9] == "AGE is empty, and its schema type doesn't allow null"


def test_wrong_column_counts_are_bad_rows():
    schema = schema_of(INTERACTIONS)
    frame, bad = read_csv(csv_bytes("USER_ID,ITEM_ID,TIMESTAMP", "u1,i1,1", "u2,i2", "u3,i3,3,extra", "u4,i4,4"),
                          schema, "Interactions")
    assert frame["USER_ID"].tolist() == ["u1", "u4"]
    assert bad == [BadRow(3, "the row has 2 columns; the header has 3"),
                   BadRow(4, "the row has 4 columns; the header has 3")]


def test_every_row_with_an_extra_column_is_bad():
    # pandas would take the first column for an index: the exact read reports each row instead.
    schema = schema_of(INTERACTIONS)
    frame, bad = read_csv(csv_bytes("USER_ID,ITEM_ID,TIMESTAMP", "x,u1,i1,1", "x,u2,i2,2"), schema, "Interactions")
    assert frame.empty and [row.line for row in bad] == [2, 3]


def test_quoting_commas_quotes_and_newlines():
    schema = schema_of([f("ITEM_ID", "string"), f("GENRES", ["null", "string"], categorical=True),
                        f("CREATION_TIMESTAMP", "long"), f("DESCRIPTION", ["null", "string"], textual=True)])
    data = ('ITEM_ID,GENRES,CREATION_TIMESTAMP,DESCRIPTION\n'
            '1,Adventure|Animation,1570003267,"An animated movie: action, comedy, and ""fantasy""."\n'
            '2,Comedy,1571730101,"Two lines:\nthe second, with a comma."\n'
            '3,Drama,oops,"bad timestamp"\n'
            '"4",,1560515629,\n').encode()
    frame, bad = read_csv(data, schema, "Items")
    assert frame["ITEM_ID"].tolist() == ["1", "2", "4"]
    assert frame["DESCRIPTION"].tolist() == ['An animated movie: action, comedy, and "fantasy".',
                                             "Two lines:\nthe second, with a comma.", None]
    assert frame["GENRES"].tolist() == ["Adventure|Animation", "Comedy", None]
    assert bad == [BadRow(5, "CREATION_TIMESTAMP: 'oops' is not a valid long")]  # line 3 holds two lines


def test_broken_quoting_is_a_bad_row_and_reading_goes_on():
    schema = schema_of(INTERACTIONS)
    frame, bad = read_csv(csv_bytes('USER_ID,ITEM_ID,TIMESTAMP', 'u1,"i"1,1', 'u2,i2,2', 'u3,"i3,3'), schema,
                          "Interactions")
    assert frame["USER_ID"].tolist() == ["u2"]
    assert [row.line for row in bad] == [2, 4]
    assert all("not valid CSV" in row.reason for row in bad)


def test_nullable_handling():
    schema = schema_of([f("ITEM_ID", "string"), f("PRICE", ["null", "float"]), f("STOCK", ["null", "int"]),
                        f("COLOR", ["null", "string"], categorical=True), f("BRAND", "string", categorical=True)])
    frame, bad = read_csv(csv_bytes("ITEM_ID,PRICE,STOCK,COLOR,BRAND", 'i1,,,"",acme', "i2,2.5,3,red,",
                                    "i3,1,1,blue,zeta"), schema, "Items")
    assert frame["ITEM_ID"].tolist() == ["i1", "i3"]
    assert np.isnan(frame["PRICE"].iloc[0]) and frame["STOCK"].isna().iloc[0] and frame["COLOR"].iloc[0] is None
    assert bad == [BadRow(3, "BRAND is empty, and its schema type doesn't allow null")]


def test_missing_nullable_column_is_null_and_missing_required_column_fails():
    schema = schema_of([f("ITEM_ID", "string"), f("PRICE", ["null", "float"]), f("STOCK", ["null", "long"]),
                        f("COLOR", ["null", "string"], categorical=True), f("NEW", ["null", "boolean"])])
    frame, bad = read_csv(csv_bytes("ITEM_ID", "i1", "i2"), schema, "Items")
    assert bad == [] and list(frame.columns) == ["ITEM_ID", "PRICE", "STOCK", "COLOR", "NEW"]
    assert frame["PRICE"].isna().all() and frame["STOCK"].isna().all() and frame["COLOR"].isna().all()
    assert str(frame["STOCK"].dtype) == "Int64" and str(frame["NEW"].dtype) == "boolean"
    with pytest.raises(InvalidInput, match="it lacks the column\\(s\\) TIMESTAMP, which the schema has and doesn't "
                                           "allow to be null"):
        read_csv(csv_bytes("USER_ID,ITEM_ID", "u1,i1"), schema_of(INTERACTIONS), "Interactions")


@pytest.mark.parametrize("header, expected", [
    ("USER_ID,ITEM_ID,TIMESTAMP,RATING", "column(s) RATING aren't fields of the schema (its fields are USER_ID, "
                                         "ITEM_ID, TIMESTAMP)"),
    ("USER_ID,ITEM_ID,TIMESTAMP,user_id", "names the field USER_ID twice (columns 1 and 4)"),
    ("USER_ID,,TIMESTAMP", "Column 2 of the data file's header has no name"),
    ("USER,ITEM,TIME", "column(s) USER, ITEM, TIME aren't fields of the schema"),
])
def test_header_mismatch(header, expected):
    with pytest.raises(InvalidInput) as caught:
        read_csv(csv_bytes(header, "u1,i1,1,x"), schema_of(INTERACTIONS), "Interactions")
    assert "header" in caught.value.message and expected in caught.value.message


@pytest.mark.parametrize("data, expected", [
    (b"", "The data file is empty"),
    (b"\n\n  \n", "The data file is empty"),
    (b"\xef\xbb\xbf", "The data file is empty"),
    (b"USER_ID,ITEM_ID,TIMESTAMP\n", "has a header row but no records"),
    (b"USER_ID,ITEM_ID,TIMESTAMP\n\n\n", "has a header row but no records"),
    (b'"USER_ID","ITEM_ID","TIMESTAMP"\n', "has a header row but no records"),
])
def test_empty_and_header_only_files(data, expected):
    with pytest.raises(InvalidInput, match=expected):
        read_csv(data, schema_of(INTERACTIONS), "Interactions")


def test_non_utf8_is_rejected_with_its_line():
    data = "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\nJosé,i2,2\n".encode("latin-1")
    with pytest.raises(InvalidInput) as caught:
        read_csv(data, schema_of(INTERACTIONS), "Interactions")
    assert "not UTF-8: byte 0xe9 on line 3" in caught.value.message


def test_utf8_bom_and_crlf():
    data = b"\xef\xbb\xbfUSER_ID,ITEM_ID,TIMESTAMP\r\nJos\xc3\xa9,i1,1\r\n\r\nu2,i2,2\r\n"
    frame, bad = read_csv(data, schema_of(INTERACTIONS), "Interactions")
    assert bad == [] and frame["USER_ID"].tolist() == ["José", "u2"]


def test_sources_path_file_and_bytes(tmp_path):
    data = csv_bytes("USER_ID,ITEM_ID,TIMESTAMP", "u1,i1,1")
    path = tmp_path / "interactions.csv"
    path.write_bytes(data)
    schema = schema_of(INTERACTIONS)
    frames = [read_csv(source, schema, "Interactions")[0]
              for source in (data, str(path), path, io.BytesIO(data), io.StringIO(data.decode()))]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])


def test_length_limits():
    schema = schema_of([f("ITEM_ID", "string"), f("GENRES", "string", categorical=True),
                        f("DESCRIPTION", ["null", "string"], textual=True)])
    long_text = "word " * 5000
    data = csv_bytes("ITEM_ID,GENRES,DESCRIPTION", f"{'x' * 257},a,", f"i2,{'g' * 1001},",
                     f'i3,b,"{long_text}"', f"{'y' * 256},c,")
    frame, bad = read_csv(data, schema, "Items")
    assert bad == [BadRow(2, "ITEM_ID is longer than 256 characters"),
                   BadRow(3, "GENRES has a value longer than 1000 characters")]
    assert frame["ITEM_ID"].tolist() == ["i3", "y" * 256]
    assert frame["DESCRIPTION"].iloc[0] == long_text[:20_000]  # textual values are truncated, not refused


def test_max_rows():
    schema = schema_of(INTERACTIONS)
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"] + [f"u{index},i{index},{index}" for index in range(5)]
    assert len(read_csv(csv_bytes(*lines), schema, "Interactions", max_rows=5)[0]) == 5
    with pytest.raises(InvalidInput, match="more than 4 records"):
        read_csv(csv_bytes(*lines), schema, "Interactions", max_rows=4)
    quoted = [line.replace("u", '"u') .replace(",i", '",i') for line in lines]
    with pytest.raises(InvalidInput, match="more than 4 records"):
        read_csv(csv_bytes(*quoted), schema, "Interactions", max_rows=4)


def test_event_types_count_against_the_metadata_limit():
    schema = schema_of([*INTERACTIONS, f("EVENT_TYPE", "string"), f("EVENT_VALUE", ["null", "float"]),
                        f("DEVICE", ["null", "string"], categorical=True)])
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,DEVICE"]
    seven = lines + [f"u,i,{index},type{index},," for index in range(7)]
    assert len(read_csv(csv_bytes(*seven), schema, "Interactions")[0]) == 7  # 3 fields + 7 types = 10
    eight = lines + [f"u,i,{index},type{index},," for index in range(8)]
    with pytest.raises(InvalidInput, match="8 distinct event types; with the schema's 3 optional metadata fields "
                                           "\\(EVENT_TYPE, EVENT_VALUE, DEVICE\\) that is 11"):
        read_csv(csv_bytes(*eight), schema, "Interactions")
    # Only Item interactions datasets have the limit.
    action_schema = schema_of(ACTION_INTERACTIONS)
    rows = ["USER_ID,ACTION_ID,EVENT_TYPE,TIMESTAMP"] + [f"u,a,type{index},{index}" for index in range(12)]
    assert len(read_csv(csv_bytes(*rows), action_schema, "Action_Interactions")[0]) == 12


def test_round_trip():
    schema = schema_of([f("item_id", "string"), f("PRICE", ["null", "float"]), f("STOCK", ["null", "long"]),
                        f("GENRES", ["null", "string"], categorical=True), f("NEW", ["null", "boolean"]),
                        f("ON_SALE", "boolean"), f("CREATION_TIMESTAMP", "long"),
                        f("DESCRIPTION", ["null", "string"], textual=True)])
    data = ('item_id,PRICE,STOCK,GENRES,NEW,ON_SALE,CREATION_TIMESTAMP,DESCRIPTION\n'
            'i1,9.99,3,Action|Crime,true,false,1570003267,"Says ""hi"", then\nleaves."\n'
            'i2,,,,,true,1571730101,\n'
            'i3,0.1,-7,Drama,false,true,1560515629,plain\n').encode()
    frame, bad = read_csv(data, schema, "Items")
    assert bad == [] and list(frame.columns)[0] == "ITEM_ID"
    written = write_csv(frame, schema)
    assert written.decode().splitlines()[0] == "item_id,PRICE,STOCK,GENRES,NEW,ON_SALE,CREATION_TIMESTAMP,DESCRIPTION"
    assert written.decode().splitlines()[1].startswith("i1,9.99,3,Action|Crime,true,false,1570003267,")
    again, bad = read_csv(written, schema, "Items")
    assert bad == []
    pd.testing.assert_frame_equal(again, frame)


def test_write_csv_orders_by_schema_and_fills_missing_columns():
    schema = schema_of(INTERACTIONS_SCHEMA)
    frame = pd.DataFrame({"TIMESTAMP": [5, 6], "USER_ID": ["u1", "u2"], "ITEM_ID": ["i1", "i2"],
                          "EVENT_TYPE": ["click", "watch"]})
    assert write_csv(frame, schema).decode() == ("USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP\n"
                                                 "u1,i1,click,,,5\nu2,i2,watch,,,6\n")


def test_fast_and_exact_reads_agree():
    schema = schema_of(INTERACTIONS_SCHEMA)
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,DEVICE,TIMESTAMP"] + [
        f"u{index % 7},i{index % 11},{'click' if index % 2 else 'watch'},{'' if index % 3 else index / 4},"
        f"{'' if index % 5 else 'tv'},{1_600_000_000 + index}" for index in range(200)]
    fast, _ = read_csv(csv_bytes(*lines), schema, "Interactions")
    exact, _ = read_csv(csv_bytes(*lines).replace(b"click", b'"click"'), schema, "Interactions")
    pd.testing.assert_frame_equal(fast, exact)


def test_hundred_thousand_rows_read_quickly():
    rng = np.random.default_rng(7)
    users, items = rng.integers(1, 944, 100_000), rng.integers(1, 1683, 100_000)
    lines = ["USER_ID,ITEM_ID,EVENT_VALUE,TIMESTAMP"] + [
        f"{user},{item},{rating}.0,{874724710 + index}"
        for index, (user, item, rating) in enumerate(zip(users, items, rng.integers(1, 6, 100_000)))]
    data = csv_bytes(*lines)
    schema = schema_of([*INTERACTIONS, f("EVENT_VALUE", "float")])
    started = time.perf_counter()
    frame, bad = read_csv(data, schema, "Interactions")
    elapsed = time.perf_counter() - started
    assert bad == [] and len(frame) == 100_000
    assert frame["TIMESTAMP"].iloc[-1] == 874724710 + 99_999 and frame["USER_ID"].iloc[0] == str(users[0])
    assert elapsed < 5, f"100k rows took {elapsed:.2f}s"  # about 0.1 s; generous for loaded machines
