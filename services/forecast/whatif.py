"""Forecast's what-if analyses (what-if.html): a baseline forecast of an AutoPredictor, what-if forecasts of it made
from a changed copy of its related time series, and their exports. Durable jobs on queue "forecast".

A what-if forecast re-forecasts the analysis' series through the baseline's predictor with the related series
changed over the forecast horizon: by TimeSeriesTransformations (an action on one related attribute, on the rows
where every condition holds; conditions on the item field, a forecast dimension, an item metadata attribute, a
related attribute or the timestamp; applied in order) and/or by TimeSeriesReplacementsDataSource (rows that replace
the related series' values at their item and time). The history stays as it was: the predictor's models are fitted
on the same history as the baseline's, with the same seeds, so only the changed future values move the forecast —
as AWS's what-if forecasts run the trained predictor on the changed inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import models.forecasting as engines
from services.forecast import periods, training
from services.forecast.data import ImportSpec, read_import
from services.forecast.errors import InvalidInput, TrainingFailed
from services.forecast import selection
from services.forecast.selection import keep
from services.forecast.schema import RELATED
from services.forecast.store import ANY, ForecastResource
from services.gateway.context import Principal
from services.gateway.jobs import JobRun, job_kind

ANALYSIS_KIND, WHATIF_FORECAST_KIND = "forecast.what-if-analysis", "forecast.what-if-forecast"
WHATIF_EXPORT_KIND = "forecast.what-if-forecast-export"
OPERATIONS = {"ADD": np.add, "SUBTRACT": np.subtract, "MULTIPLY": np.multiply, "DIVIDE": np.divide}


# ------------------------------------------------------------------------------------------------ checks


def check_changes(transformations: list[dict], replacements: dict | None, related_names: list[str]) -> None:
    """What CreateWhatIfForecast can be refused for at once: no change, or a change of an attribute that is not a
    numeric attribute of the related time series dataset."""
    if not transformations and not replacements:
        raise InvalidInput("A what-if forecast needs TimeSeriesTransformations or a "
                           "TimeSeriesReplacementsDataSource.")
    for transformation in transformations:
        action = transformation.get("Action")
        if action is None:
            raise InvalidInput("Each of TimeSeriesTransformations needs an Action.")
        if action["AttributeName"] not in related_names:
            raise InvalidInput(f"Action attribute {action['AttributeName']} is not a numeric attribute of the "
                               f"related time series ({', '.join(related_names)}).")
        if action["Operation"] == "DIVIDE" and action["Value"] == 0:
            raise InvalidInput("An Action cannot DIVIDE by 0.")
    if replacements:
        selection.check_data_path(replacements["S3Config"]["Path"], replacements.get("Format"))


def related_attributes(dataset: ForecastResource) -> list[str]:
    return [attribute["AttributeName"] for attribute in dataset.spec["Schema"]["Attributes"]
            if attribute["AttributeType"] in ("integer", "float")]


# ------------------------------------------------------------------------------------------------ runners


def _baseline(principal: Principal, forecast: ForecastResource) -> tuple[ForecastResource, ForecastResource]:
    predictor = ANY.get(principal, forecast.parent_arn)
    return predictor, ANY.get(principal, predictor.parent_arn)


@job_kind(ANALYSIS_KIND, training.QUEUE)
def run_analysis(run: JobRun) -> dict:
    return run.step(_analysis, run.principal, run.details["arn"])


def _analysis(principal: Principal, arn: str) -> dict:
    """The series the analysis covers, read once from its selector."""
    row = ANY.get(principal, arn)
    forecast = ANY.find(principal, row.parent_arn)
    if forecast is None:
        raise TrainingFailed(f"The forecast {row.parent_arn} was deleted.")
    keys = forecast.state()[2]["keys"]
    return {"keys": keys, "selected": selection.selected_keys(principal, row.spec.get("TimeSeriesSelector"), keys)}


@job_kind(WHATIF_FORECAST_KIND, training.QUEUE)
def run_whatif_forecast(run: JobRun) -> dict:
    return run.step(_whatif_forecast, run.principal, run.details["arn"])


def _whatif_forecast(principal: Principal, arn: str) -> dict:
    row = ANY.get(principal, arn)
    analysis = ANY.get(principal, row.parent_arn)
    forecast = ANY.get(principal, analysis.parent_arn)
    predictor, group = _baseline(principal, forecast)
    settings = training.predictor_settings(predictor.spec)
    settings["types"] = forecast.spec["ForecastTypes"]
    baseline = forecast.state()[2]
    imports = baseline.get("imports") or training.active_imports(principal, group)
    series, keys = training.build_series(principal, group, imports, settings)
    series = keep(keep(series, baseline.get("selected")), analysis.state()[2]["selected"])
    changed = _changed(principal, row.spec, series, keys, settings)
    forecasts, info = training.fit("auto", changed, settings, auto=True)
    training.forecast_table(forecasts, keys, settings).to_parquet(
        training.data_path(principal.account_id, arn, "parquet"), index=False)
    return {"keys": keys, "series": len(forecasts), "algorithms": info.get("algorithms")}


def _changed(principal: Principal, spec: dict, series: list[engines.Series], keys: list[str], settings: dict
             ) -> list[engines.Series]:
    """The series with their related values over the horizon replaced, then transformed."""
    horizon, frequency = settings["horizon"], settings["frequency"]
    replacements = _replacements(principal, spec.get("TimeSeriesReplacementsDataSource"), keys, settings)
    out = []
    for item in series:
        if not item.related:
            raise TrainingFailed("The dataset group has no related time series to change.")
        related = {name: values.copy() for name, values in item.related.items()}
        steps = engines.timeline(item, frequency, horizon)
        future = np.zeros(len(steps), dtype=bool)
        future[len(item.target):] = True
        if replacements is not None:
            _replace(related, replacements, item.key, steps, future)
        fields = {**(item.static or {}), **dict(zip(keys, item.key))}
        for transformation in spec.get("TimeSeriesTransformations") or []:
            mask = future & _where(transformation.get("TimeSeriesConditions") or [], fields, related,
                                   steps + periods.alignment(settings))
            action = transformation["Action"]
            name = action["AttributeName"]
            related[name][mask] = OPERATIONS[action["Operation"]](related[name][mask], action["Value"])
        out.append(engines.Series(item.key, item.start, item.target, related, item.static))
    return out


def _where(conditions: list[dict], fields: dict[str, str], related: dict[str, np.ndarray],
           steps: pd.DatetimeIndex) -> np.ndarray:
    """The steps where every condition holds (a condition on a series' field holds at all its steps or none)."""
    mask = np.ones(len(steps), dtype=bool)
    for condition in conditions:
        name, value, how = condition["AttributeName"], condition["AttributeValue"], condition["Condition"]
        if name == "timestamp":
            try:
                values, given = steps, pd.Timestamp(value)
            except ValueError:
                raise TrainingFailed(f"Condition value {value!r} of timestamp is not a time "
                                              f"(yyyy-MM-dd HH:mm:ss).") from None
        elif name in related:
            values, given = related[name], _number(value, name)
        elif name in fields:
            values, given = np.full(len(steps), fields[name], dtype=object), value
            if how in ("LESS_THAN", "GREATER_THAN"):
                values = np.asarray([_number(text, name) for text in values])
                given = _number(value, name)
        else:
            raise TrainingFailed(f"Condition attribute {name} is not the timestamp, a key, an item "
                                          f"metadata attribute or a related attribute.")
        compare = {"EQUALS": np.equal, "NOT_EQUALS": np.not_equal, "LESS_THAN": np.less,
                   "GREATER_THAN": np.greater}[how]
        mask &= np.asarray(compare(values, given), dtype=bool)
    return mask


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise TrainingFailed(f"Condition value {text!r} of {name} is not a number.") from None


def _replacements(principal: Principal, source: dict | None, keys: list[str], settings: dict
                  ) -> pd.DataFrame | None:
    """The replacement rows, at the forecast frequency (averaged), indexed by key fields and timestamp."""
    if not source:
        return None
    attributes = source["Schema"]["Attributes"]
    names = [attribute["AttributeName"] for attribute in attributes]
    if "timestamp" not in names or keys[0] not in names:
        raise TrainingFailed(f"The replacement schema needs {keys[0]} and timestamp.")
    frame = read_import(principal.account_id, ImportSpec(
        attributes=attributes, path=source["S3Config"]["Path"], file_format=source.get("Format") or "CSV",
        timestamp_format=source.get("TimestampFormat") or "yyyy-MM-dd HH:mm:ss", time_zone=None))
    join = [key for key in keys if key in names]
    numeric = [attribute["AttributeName"] for attribute in attributes if attribute["AttributeType"] in
               ("integer", "float")]
    frame = frame.assign(timestamp=periods.bucket(frame["timestamp"], settings["frequency"],
                                                     periods.alignment(settings)))
    for key in join:
        frame[key] = frame[key].fillna("").astype(str)
    return frame.groupby([*join, "timestamp"])[numeric].mean()


def _replace(related: dict[str, np.ndarray], replacements: pd.DataFrame, key: tuple[str, ...],
             steps: pd.DatetimeIndex, future: np.ndarray) -> None:
    join = replacements.index.names[:-1]
    lookup = key[:len(join)]
    try:
        rows = training.rows_of(replacements, lookup)
    except KeyError:
        return
    for name in replacements.columns:
        if name not in related:
            continue
        values = rows[name].reindex(steps).to_numpy(dtype="float64")
        given = future & ~np.isnan(values)
        related[name][given] = values[given]


@job_kind(WHATIF_EXPORT_KIND, training.QUEUE)
def run_whatif_export(run: JobRun) -> dict:
    return run.step(_whatif_export, run.principal, run.details["arn"])


def _whatif_export(principal: Principal, arn: str) -> dict:
    """One file for the export's what-if forecasts, one row per series, time and what-if forecast: the key
    fields, `date`, `what_if_forecast_name` and a column per forecast type (p10, p50, p90, mean)."""
    row = ANY.get(principal, arn)
    frames = []
    for forecast_arn in row.spec["WhatIfForecastArns"]:
        whatif = ANY.find(principal, forecast_arn)
        if whatif is None:
            raise TrainingFailed(f"The what-if forecast {forecast_arn} was deleted.")
        frame = training.forecast_frame(principal.account_id, forecast_arn)
        types = ANY.get(principal, ANY.get(principal, whatif.parent_arn).parent_arn).spec["ForecastTypes"]
        frame = frame.rename(columns={forecast_type: training.type_column(forecast_type) for forecast_type in types})
        frame.insert(frame.columns.get_loc("date") + 1, "what_if_forecast_name", whatif.name)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    folder = row.spec["Destination"]["S3Config"]["Path"].rstrip("/")
    return {"files": [training.write_part(principal, row, folder, frame)]}


def related_dataset(principal: Principal, group: ForecastResource) -> ForecastResource | None:
    return training.group_datasets(principal, group).get(RELATED)

