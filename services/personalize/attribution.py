"""Metric attributions: the metrics' expressions checked against the dataset group's schemas, and the report an
Interactions import publishes to Amazon S3.

An expression is `SUM(Interactions.COLUMN)`, `SUM(Items.COLUMN)` or `SAMPLECOUNT()` (CreateMetricAttribution's
`metrics`, "Measuring impact of recommendations" in the developer guide): SUM applies to a numeric column (int, long,
float, double) of the Interactions or the Items dataset; function and dataset names are matched without regard to
case, a column as the schema's field (reserved keywords in any case, other fields by their own name).

The report ("Publishing metric attribution reports to Amazon S3") is one CSV object per publishing import, header
`METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP`, one row per metric, event attribution
source and 15-minute window holding events of the metric's event type: VALUE the window's SAMPLECOUNT or SUM as a
float, MATH_FUNCTION `samplecount` or `sum`, TIMESTAMP the window's start in epoch seconds (windows are aligned on
multiples of 900 s). It counts the rows of that import only. SUM(Items.COLUMN) joins each interaction to the Items
dataset's row of its ITEM_ID; an item without one, or with a null value, adds 0. An interaction without an
EVENT_ATTRIBUTION_SOURCE is reported under SOURCE_NAME_UNDEFINED, as the "Guidelines and requirements" page says AWS
labels it. AWS also names the campaign or recommender behind an interaction's RECOMMENDATION_ID when it has no source;
this gateway does not keep which one issued a recommendation id, so such interactions are SOURCE_NAME_UNDEFINED too.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import pandas as pd

from services.personalize.errors import InvalidInput
from services.personalize.schemas import Schema

WINDOW_SECONDS = 15 * 60
UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
HEADER = ("METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP")
SUMMABLE = ("Interactions", "Items")  # the datasets whose columns SUM() takes

_SUM = re.compile(r"\s*SUM\s*\(\s*([A-Za-z_]+)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", re.IGNORECASE)
_SAMPLECOUNT = re.compile(r"\s*SAMPLECOUNT\s*\(\s*\)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Expression:
    function: str  # "sum" or "samplecount", as the report's MATH_FUNCTION writes it
    dataset: str | None = None  # "Interactions" or "Items" for sum
    column: str | None = None  # the frame's column (the schema field's key) for sum


def parse_expression(metric: dict, schemas: dict[str, Schema]) -> Expression:
    """A metric's expression against the group's schemas by dataset type; InvalidInput naming what is wrong."""
    text, name = metric["expression"], metric["metricName"]
    if _SAMPLECOUNT.fullmatch(text):
        return Expression("samplecount")
    matched = _SUM.fullmatch(text)
    if matched is None:
        raise InvalidInput(f"The expression {text} of the metric {name} is not valid: use SUM(Interactions.COLUMN), "
                           f"SUM(Items.COLUMN) or SAMPLECOUNT().")
    dataset = next((kind for kind in SUMMABLE if kind.lower() == matched.group(1).lower()), None)
    if dataset is None:
        raise InvalidInput(f"The expression {text} of the metric {name} sums a column of {matched.group(1)}: SUM() "
                           f"takes a column of the Interactions or the Items dataset.")
    schema = schemas.get(dataset)
    if schema is None:
        raise InvalidInput(f"The expression {text} of the metric {name} sums a column of the {dataset} dataset, "
                           f"which the dataset group does not have.")
    field = schema.field(matched.group(2))
    if field is None:
        raise InvalidInput(f"The expression {text} of the metric {name} names the column {matched.group(2)}, which "
                           f"the {dataset} dataset's schema does not have.")
    if not field.numeric:
        raise InvalidInput(f"The expression {text} of the metric {name} sums the column {field.name}, which is of "
                           f"type {field.type}: SUM() takes a numeric column (int, long, float or double).")
    return Expression("sum", dataset, field.key)


def report_name(import_mode: str, timestamp: int) -> str:
    """The report object's name. The developer guide writes it `AggregatedAttributionMetrics - ImportMethod -
    Timestamp.csv`, a template whose spaces around the dashes are typography: this is its literal reading with the
    placeholders filled (the import mode, FULL or INCREMENTAL, and the epoch seconds the report was made, the unit
    of the report's own TIMESTAMP column) and no spaces, which S3 keys would otherwise carry as `+` or `%20`."""
    return f"AggregatedAttributionMetrics-{import_mode}-{timestamp}.csv"


def report_csv(interactions: pd.DataFrame, items: pd.DataFrame | None, metrics: list[dict],
               expressions: list[Expression]) -> bytes:
    """The report of one import's interactions: metrics in the attribution's order, then the newest window first (as
    the guide's example), then the sources in alphabetical order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for metric, expression in zip(metrics, expressions):
        events = interactions[interactions["EVENT_TYPE"].astype(str) == metric["eventType"]] \
            if "EVENT_TYPE" in interactions else interactions.iloc[0:0]
        if events.empty:
            continue
        frame = pd.DataFrame({"window": (events["TIMESTAMP"].astype("int64") // WINDOW_SECONDS) * WINDOW_SECONDS,
                              "source": _sources(events), "value": _values(events, items, expression)})
        totals = frame.groupby(["window", "source"], sort=False)["value"].sum().reset_index()
        totals = totals.sort_values(["window", "source"], ascending=[False, True], kind="stable")
        for window, source, value in totals.itertuples(index=False):
            writer.writerow((metric["metricName"], metric["eventType"], _float(value), expression.function, source,
                             int(window)))
    return out.getvalue().encode("utf-8")


def _sources(events: pd.DataFrame) -> pd.Series:
    if "EVENT_ATTRIBUTION_SOURCE" not in events:
        return pd.Series(UNDEFINED_SOURCE, index=events.index, dtype=object)
    sources = events["EVENT_ATTRIBUTION_SOURCE"].astype(object).where(events["EVENT_ATTRIBUTION_SOURCE"].notna(), "")
    sources = sources.astype(str)
    return sources.where(sources.str.strip() != "", UNDEFINED_SOURCE)


def _values(events: pd.DataFrame, items: pd.DataFrame | None, expression: Expression) -> pd.Series:
    if expression.function == "samplecount":
        return pd.Series(1.0, index=events.index)
    if expression.dataset == "Interactions":
        column = events[expression.column] if expression.column in events else pd.Series(0.0, index=events.index)
        return pd.to_numeric(column, errors="coerce").astype("float64").fillna(0.0)
    if items is None or expression.column not in items or "ITEM_ID" not in items or "ITEM_ID" not in events:
        return pd.Series(0.0, index=events.index)
    table = items.drop_duplicates("ITEM_ID", keep="last")
    lookup = pd.Series(pd.to_numeric(table[expression.column], errors="coerce").astype("float64").to_numpy(),
                       index=table["ITEM_ID"].astype(str).to_numpy())
    return events["ITEM_ID"].astype(str).map(lookup).astype("float64").fillna(0.0)


def _float(value: float) -> str:
    """VALUE as the guide's example writes it (12.0): a float, rounded to 6 decimals against summing noise."""
    return repr(round(float(value), 6))
