"""Amazon Forecast Query (`forecastquery`): QueryForecast and QueryWhatIfForecast over stored predictions."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd

from services.forecast import training
from services.forecast.errors import QueryInvalidInput, QueryResourceInUse, QueryResourceNotFound
from services.forecast.store import ANY, FORECAST, FORECASTS, WHATIF_FORECAST, WHATIF_FORECASTS, ForecastResource
from services.gateway.context import RequestContext
from services.gateway.kit.arns import owned, parse_arn
from services.gateway.registry import ServiceProvider

provider = ServiceProvider("forecastquery")

QUERY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # StartDate, EndDate and each DataPoint's Timestamp


def _active(ctx: RequestContext, arn: str, kind: str) -> ForecastResource:
    """The caller's ACTIVE forecast (or what-if forecast) of that ARN."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "forecast":
        raise QueryInvalidInput(f"The ARN {arn} is not a valid Amazon Forecast ARN.")
    table = FORECASTS if kind == FORECAST else WHATIF_FORECASTS
    row = table.find(ctx, arn) if owned(parsed, "forecast", ctx.account_id, ctx.region) \
        and parsed.resource_type == kind else None
    word = "forecast" if kind == FORECAST else "what-if forecast"
    if row is None:
        raise QueryResourceNotFound(f"No {word} found with the arn: {arn}")
    status = row.state()[0]
    if status != "ACTIVE":
        raise QueryResourceInUse(f"The {word} {arn} is not ACTIVE; its status is {status}.")
    return row


@lru_cache(maxsize=16)
def _frame(account_id: str, arn: str, modified: dt.datetime) -> pd.DataFrame:
    """A forecast's predictions, read once per version of the row (`modified`) and kept for the next queries."""
    return training.forecast_frame(account_id, arn)


def _time(value: str | None, member: str) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        return pd.Timestamp(dt.datetime.strptime(value, QUERY_TIME_FORMAT))
    except ValueError:
        raise QueryInvalidInput(f"{member} {value} is not valid: use the format yyyy-MM-ddTHH:mm:ss.") from None


@provider.operation("QueryForecast")
def query_forecast(ctx: RequestContext, request: dict) -> dict:
    row = _active(ctx, request["ForecastArn"], FORECAST)
    return _query(row, row.spec["ForecastTypes"], request)


@provider.operation("QueryWhatIfForecast")
def query_what_if_forecast(ctx: RequestContext, request: dict) -> dict:
    row = _active(ctx, request["WhatIfForecastArn"], WHATIF_FORECAST)
    analysis = ANY.get(ctx, row.parent_arn)
    return _query(row, ANY.get(ctx, analysis.parent_arn).spec["ForecastTypes"], request)


def _query(row: ForecastResource, types: list[str], request: dict) -> dict:
    """One series' predictions, by forecast type, between StartDate and EndDate."""
    keys = row.state()[2]["keys"]
    filters = request["Filters"]
    unknown = [name for name in filters if name not in keys]
    if unknown or keys[0] not in filters:
        raise QueryInvalidInput(f"Filters must name the forecast's {keys[0]} and may name its dimensions "
                                f"({', '.join(keys[1:]) or 'none'}); {', '.join(unknown) or keys[0] + ' is missing'}.")
    frame = _frame(row.account_id, row.arn, row.modified_at)
    chosen = frame
    for name, value in filters.items():
        chosen = chosen[chosen[name] == value]
    start, end = _time(request.get("StartDate"), "StartDate"), _time(request.get("EndDate"), "EndDate")
    if start is not None:
        chosen = chosen[chosen["date"] >= start]
    if end is not None:
        chosen = chosen[chosen["date"] <= end]
    if chosen.empty:
        raise QueryResourceNotFound(f"No forecast was found for the filters {filters}.")
    chosen = chosen.sort_values("date")
    stamps = [stamp.strftime(QUERY_TIME_FORMAT) for stamp in pd.to_datetime(chosen["date"])]
    predictions = {}
    for forecast_type in types:
        predictions[training.type_column(forecast_type)] = [
            {"Timestamp": stamp, "Value": float(value)} for stamp, value in zip(stamps, chosen[forecast_type])]
    return {"Forecast": {"Predictions": predictions}}
