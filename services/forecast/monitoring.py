"""Predictor monitoring (predictor-monitoring.html): an AutoPredictor's accuracy measured again as new data comes.

A monitor evaluates when a forecast of its predictor is created (a forecast job): the predictor's previous forecast
is scored against the actual values the dataset group now holds for the time points it forecast — the new data
imported since. The evaluation is kept in the new forecast's result; ListMonitorEvaluations reads them back. The
metrics are the predictor's accuracy metrics as Forecast defines them (models/forecasting/metrics.py), on the
evaluated window; the Baseline is the predictor's backtest SUMMARY.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import models.forecasting as engines
from services.forecast import periods
from services.forecast.store import ACTIVE, FORECAST, MONITOR, ForecastResource, children, data_path
from services.gateway.context import Principal
from services.gateway.kit.times import utcnow

METRICS = ("AverageWeightedQuantileLoss", "WAPE", "RMSE", "MASE", "MAPE")
STOPPED = "ACTIVE_STOPPED"


def monitor_of(principal: Principal, predictor: ForecastResource) -> ForecastResource | None:
    return next((child for child in children(principal, predictor.arn) if child.kind == MONITOR), None)


def metric_values(metrics: dict) -> list[dict]:
    """Forecast's metrics as [{name, value}]: the average wQL, and the point forecast's WAPE, RMSE, MASE, MAPE
    (the mean forecast type if there is one, else the median's)."""
    out = []
    if "AverageWeightedQuantileLoss" in metrics:
        out.append(("AverageWeightedQuantileLoss", metrics["AverageWeightedQuantileLoss"]))
    entries = metrics.get("ErrorMetrics") or []
    point = next((entry for entry in entries if entry["ForecastType"] == "mean"), None) or next(
        (entry for entry in entries if entry["ForecastType"] == "0.5"), entries[0] if entries else {})
    out.extend((name, point[name]) for name in METRICS[1:] if name in point)
    return [{"Name": name, "Value": float(value)} for name, value in out]


def evaluate(principal: Principal, predictor: ForecastResource, forecast: ForecastResource,
             series: list[engines.Series], settings: dict, imports: list[str]) -> dict | None:
    """The predictor's monitor evaluation as of this new forecast, or None when it has no ACTIVE monitor or no
    earlier forecast to evaluate. Times are epoch seconds (the job's result is JSON)."""
    monitor = monitor_of(principal, predictor)
    if monitor is None or monitor.status != ACTIVE:
        return None
    earlier = [child for child in children(principal, predictor.arn) if child.kind == FORECAST
               and child.arn != forecast.arn and child.created_at <= forecast.created_at
               and child.state()[0] == ACTIVE]
    if not earlier:
        return None
    previous = earlier[-1]
    keys = (previous.state()[2] or {}).get("keys") or []
    frame = pd.read_parquet(data_path(principal.account_id, previous.arn, "parquet"))
    types = [forecast_type for forecast_type in previous.spec["ForecastTypes"] if forecast_type in frame.columns]
    actuals, forecasts, histories, times = [], [], [], []
    by_key = {tuple(str(part) for part in (key if isinstance(key, tuple) else (key,))): rows
              for key, rows in frame.groupby(keys, sort=False)} if keys else {}
    for item in series:
        part = by_key.get(item.key)
        if part is None:
            continue
        steps = periods.dates(item.start, len(item.target), settings)
        truth = pd.Series(item.target, index=steps)
        dates = pd.to_datetime(part["date"])
        known = dates.isin(steps[~np.isnan(item.target)])
        if not known.any():
            continue
        chosen = part[known.to_numpy()]
        when = pd.to_datetime(chosen["date"])
        actuals.append(truth.reindex(when).to_numpy(dtype="float64"))
        forecasts.append({forecast_type: chosen[forecast_type].to_numpy(dtype="float64") for forecast_type in types})
        histories.append(truth[truth.index < when.min()].to_numpy(dtype="float64"))
        times.extend(when)
    base = {"MonitorArn": monitor.arn, "ResourceArn": predictor.arn, "EvaluationTime": utcnow().timestamp(),
            "MonitorDataSource": {"DatasetImportJobArn": imports[-1], "ForecastArn": previous.arn,
                                  "PredictorArn": predictor.arn}}
    if not actuals:
        return {**base, "EvaluationState": "FAILURE", "NumItemsEvaluated": 0,
                "Message": f"No new data covers the time points of the forecast {previous.arn}."}
    metrics = engines.accuracy_metrics(actuals, forecasts, histories, types,
                                       engines.season_length(settings["frequency"]))
    start, last = min(times), max(times)
    return {**base, "EvaluationState": "SUCCESS", "NumItemsEvaluated": len(actuals),
            "WindowStartDatetime": start.tz_localize("UTC").timestamp(),
            "WindowEndDatetime": periods.dates(last - periods.alignment(settings), 2, settings)[-1]
            .tz_localize("UTC").timestamp(),
            "MetricResults": [{"MetricName": entry["Name"], "MetricValue": entry["Value"]}
                              for entry in metric_values(metrics)]}


def evaluations(principal: Principal, monitor: ForecastResource) -> list[dict]:
    """The monitor's evaluations, newest first."""
    out = []
    for child in reversed(children(principal, monitor.parent_arn)):
        if child.kind != FORECAST:
            continue
        status, _, result = child.state()
        evaluation = (result or {}).get("evaluation") if status == ACTIVE else None
        if evaluation and evaluation["MonitorArn"] == monitor.arn:
            out.append(evaluation)
    return out
