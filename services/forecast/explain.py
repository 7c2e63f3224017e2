"""Forecast's explainability (predictor-explainability.html, forecast-explainability.html): impact scores of the
related time series, holidays and item metadata on an AutoPredictor's forecasts, and their exports. Durable jobs on
queue "forecast".

Method: occlusion against a baseline. The series are forecast through the predictor as they are, then once per
attribute with that attribute's future values (the forecast horizon) set to its mean over the series' history;
the raw impact score of the attribute at a time point is the p50 forecast less the occluded p50 forecast. The
history is left alone, so the fitted models are the same in every run and only the attribute's future values move
the forecast. For AutoPredictor's blend — a linear regression on the related series under the statistical models
(models/forecasting/auto.py) — this is exactly the attribute's Shapley value, beta * (x_t - mean x), which is what
AWS's raw impact scores are based on. A series where the regression finds no effect, and item metadata (the blend
does not use it), score 0: AWS documents zero scores for AutoPredictors that use non-ML algorithms.

Normalized scores are the raw ones divided by the largest absolute raw score of the explainability (so -1 to 1,
comparable across its series). With TimePointGranularity ALL a series' score is the mean over the horizon; a
predictor's explainability (ALL series, ALL time points) gives one aggregated score per attribute, the mean of the
absolute per-series scores, normalized to 0-1 as AWS's console shows them (the sign of the mean raw score kept in
`raw_impact_score`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

import models.forecasting as engines
from services.forecast import periods, selection, training
from services.forecast.errors import InvalidInput, TrainingFailed
from services.forecast.schema import DOMAINS, METADATA, RELATED
from services.forecast.store import ANY, BUSY, PREDICTOR, ForecastResource, data_path
from services.gateway.context import Principal
from services.gateway.jobs import JobRun, job_kind

EXPLAINABILITY_KIND = "forecast.explainability"
EXPLAINABILITY_EXPORT_KIND = "forecast.explainability-export"
MAX_SERIES = 50  # SPECIFIC series, as AWS limits them
MAX_TIME_POINTS = 500  # SPECIFIC time points
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # StartDateTime, EndDateTime


# ------------------------------------------------------------------------------------------------ checks


def check_request(request: dict, resource: ForecastResource, predictor: ForecastResource,
                  group: ForecastResource, principal: Principal) -> None:
    """AWS's rules for CreateExplainability (API_CreateExplainability.html)."""
    config = request["ExplainabilityConfig"]
    series, points = config["TimeSeriesGranularity"], config["TimePointGranularity"]
    if not predictor.details.get("auto"):
        raise InvalidInput("Explainability is only available for forecasts and predictors generated from an "
                           "AutoPredictor.")
    if not attributes(principal, group, predictor.spec):
        raise InvalidInput("To enable explainability, the predictor must include at least one of: a related time "
                           "series, item metadata, or an additional dataset such as holidays.")
    if resource.kind == PREDICTOR:
        if series != "ALL" or points != "ALL":
            raise InvalidInput("For a predictor's explainability, TimeSeriesGranularity and TimePointGranularity "
                               "must be ALL.")
        for member in ("DataSource", "Schema", "StartDateTime", "EndDateTime"):
            if request.get(member):
                raise InvalidInput(f"{member} must not be given for a predictor's explainability.")
        return
    if series == "SPECIFIC":
        if not request.get("DataSource") or not request.get("Schema"):
            raise InvalidInput("DataSource and Schema are required when TimeSeriesGranularity is SPECIFIC.")
        selection.check_data_path(request["DataSource"]["S3Config"]["Path"], None)
    elif request.get("DataSource") or request.get("Schema"):
        raise InvalidInput("DataSource and Schema are only valid when TimeSeriesGranularity is SPECIFIC.")
    if points == "SPECIFIC":
        if not request.get("StartDateTime") or not request.get("EndDateTime"):
            raise InvalidInput("StartDateTime and EndDateTime are required when TimePointGranularity is SPECIFIC.")
        start, end = (_time(request[member], member) for member in ("StartDateTime", "EndDateTime"))
        if end < start:
            raise InvalidInput("EndDateTime must not be before StartDateTime.")
    elif request.get("StartDateTime") or request.get("EndDateTime"):
        raise InvalidInput("StartDateTime and EndDateTime are only valid when TimePointGranularity is SPECIFIC.")


def _time(value: str, member: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(pd.to_datetime(value, format=TIME_FORMAT))
    except ValueError:
        raise InvalidInput(f"{member} {value} is not valid: use the format yyyy-MM-ddTHH:mm:ss.") from None


def attributes(principal: Principal, group: ForecastResource, predictor_spec: dict) -> list[str]:
    """The attributes scored: the related series' numeric attributes, holiday_<country> per calendar, and the
    item metadata's attributes."""
    datasets = training.group_datasets(principal, group)
    names = []
    if RELATED in datasets:
        names += [attribute["AttributeName"] for attribute in datasets[RELATED].spec["Schema"]["Attributes"]
                  if attribute["AttributeType"] in ("integer", "float")]
    names += [f"holiday_{code}" for code in training.holiday_countries(predictor_spec)]
    if METADATA in datasets:
        item_field = DOMAINS[datasets[METADATA].spec["Domain"]].item_field
        names += [attribute["AttributeName"] for attribute in datasets[METADATA].spec["Schema"]["Attributes"]
                  if attribute["AttributeName"] != item_field]
    return names


# ------------------------------------------------------------------------------------------------ runners


@job_kind(EXPLAINABILITY_KIND, training.QUEUE)
def run_explainability(run: JobRun) -> dict:
    arn = run.details["arn"]
    run.step(_wait_for_predictor, run.principal, arn)
    return run.step(_explain, run.principal, arn)


def _wait_for_predictor(principal: Principal, arn: str) -> None:
    """An explainability asked for with CreateAutoPredictor's ExplainPredictor waits for its predictor's training
    (queued before it, so this never waits on work queued behind it)."""
    row = ANY.get(principal, arn)
    while True:
        resource = ANY.find(principal, row.parent_arn)
        if resource is None:
            raise TrainingFailed(f"The resource {row.parent_arn} was deleted.")
        status = resource.state()[0]
        if status == "ACTIVE":
            return
        if status not in BUSY:
            raise TrainingFailed(f"The predictor {resource.arn} is {status}: there is nothing to explain.")
        time.sleep(1.0)


def _explain(principal: Principal, arn: str) -> dict:
    row = ANY.get(principal, arn)
    resource = ANY.get(principal, row.parent_arn)
    predictor = resource if resource.kind == PREDICTOR else ANY.get(principal, resource.parent_arn)
    group = ANY.get(principal, predictor.parent_arn)
    settings = {**training.predictor_settings(predictor.spec), "types": ["0.5"]}
    result = resource.state()[2] or {}
    imports = result.get("imports") or predictor.details["imports"]
    series, keys = training.build_series(principal, group, imports, settings)
    series = selection.keep(series, result.get("selected"))
    config = row.spec["ExplainabilityConfig"]
    if config["TimeSeriesGranularity"] == "SPECIFIC":
        chosen = selection.selected_keys(principal, {"TimeSeriesIdentifiers": {
            "DataSource": row.spec["DataSource"], "Schema": row.spec["Schema"]}}, keys)
        if len(chosen) > MAX_SERIES:
            raise TrainingFailed(f"The DataSource names {len(chosen)} time series; at most {MAX_SERIES}.")
        series = selection.keep(series, chosen)
    names = attributes(principal, group, predictor.spec)
    full, _ = training.fit("auto", series, settings, auto=True)
    frames = []
    occluded = {name: _occluded(series, name) for name in names}
    for name in names:
        impact = ([np.zeros(settings["horizon"]) for _ in series] if occluded[name] is None else
                  [whole.quantiles["0.5"] - part.quantiles["0.5"] for whole, part in
                   zip(full, training.fit("auto", occluded[name], settings, auto=True)[0])])
        for item, forecast, values in zip(series, full, impact):
            frames.append(pd.DataFrame({
                **{key: item.key[position] for position, key in enumerate(keys)},
                "timestamp": periods.dates(forecast.start, settings["horizon"], settings),
                "attribute": name, "raw_impact_score": np.asarray(values, dtype="float64")}))
    table = pd.concat(frames, ignore_index=True)
    if config["TimePointGranularity"] == "SPECIFIC":
        start, end = (_time(row.spec[member], member) for member in ("StartDateTime", "EndDateTime"))
        table = table[(table["timestamp"] >= start) & (table["timestamp"] <= end)]
        if table.empty:
            raise TrainingFailed("No forecast time point lies between StartDateTime and EndDateTime.")
        if table["timestamp"].nunique() > MAX_TIME_POINTS:
            raise TrainingFailed(f"StartDateTime to EndDateTime covers more than {MAX_TIME_POINTS} time points.")
    table.to_parquet(data_path(principal.account_id, arn, "parquet"), index=False)
    return {"keys": keys, "attributes": names, "series": len(series)}


def _occluded(series: list[engines.Series], name: str) -> list[engines.Series] | None:
    """The series with the attribute's future values at its historical mean, or None where no series has it as a
    time series (item metadata)."""
    if not any(item.related and name in item.related for item in series):
        return None
    out = []
    for item in series:
        related = dict(item.related or {})
        if name in related:
            values = related[name].copy()
            history = values[:len(item.target)]
            known = history[~np.isnan(history)]
            values[len(item.target):] = known.mean() if known.size else 0.0
            related[name] = values
        out.append(engines.Series(item.key, item.start, item.target, related, item.static))
    return out


def scores(principal: Principal, row: ForecastResource) -> pd.DataFrame:
    """The explainability's scores as exported: per attribute for a predictor; per series (and time point, with
    SPECIFIC time points) for a forecast; raw and normalized."""
    result = row.state()[2]
    keys = result["keys"]
    table = pd.read_parquet(data_path(principal.account_id, row.arn, "parquet"))
    config = row.spec["ExplainabilityConfig"]
    if ANY.get(principal, row.parent_arn).kind == PREDICTOR:
        per_series = table.groupby([*keys, "attribute"], sort=False)["raw_impact_score"].mean().reset_index()
        grouped = per_series.groupby("attribute", sort=False)["raw_impact_score"]
        out = pd.DataFrame({"attribute": grouped.mean().index,
                            "aggregated_impact_score": grouped.apply(lambda values: values.abs().mean()).to_numpy(),
                            "raw_impact_score": grouped.mean().to_numpy()})
        top = out["aggregated_impact_score"].max()
        out["aggregated_impact_score"] = out["aggregated_impact_score"] / top if top > 0 else 0.0
        return out
    if config["TimePointGranularity"] == "ALL":
        table = table.groupby([*keys, "attribute"], sort=False)["raw_impact_score"].mean().reset_index()
    else:
        table = table.assign(timestamp=pd.to_datetime(table["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    top = table["raw_impact_score"].abs().max()
    table["normalized_impact_score"] = table["raw_impact_score"] / top if top > 0 else 0.0
    return table


@job_kind(EXPLAINABILITY_EXPORT_KIND, training.QUEUE)
def run_explainability_export(run: JobRun) -> dict:
    return run.step(_export, run.principal, run.details["arn"])


def _export(principal: Principal, arn: str) -> dict:
    row = ANY.get(principal, arn)
    explainability = ANY.get(principal, row.parent_arn)
    folder = row.spec["Destination"]["S3Config"]["Path"].rstrip("/")
    return {"files": [training.write_part(principal, row, folder, scores(principal, explainability))]}
