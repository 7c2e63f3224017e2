"""Predictor accuracy as Amazon Forecast defines it (https://docs.aws.amazon.com/forecast/latest/dg/metrics.html),
over every series and step of a backtest window; points whose actual value is missing are left out, as Forecast
leaves filled values out of backtests.

- wQL[tau] = 2 * sum(tau * max(y - q, 0) + (1 - tau) * max(q - y, 0)) / sum(|y|) for each quantile forecast type;
  when sum(|y|) is zero Forecast reports the unweighted loss, the numerator. AverageWeightedQuantileLoss is their
  mean. The mean forecast type has no wQL.
- ErrorMetrics: one entry per forecast type, mean and quantiles alike ("detailed error metrics for each forecast
  type"), with that type's values as the prediction yhat:
  WAPE = sum|y - yhat| / sum|y|;  RMSE = sqrt(mean((y - yhat)^2));  MAPE = mean(|y - yhat| / |y|) over y != 0;
  MASE = mean over series of mean|y - yhat| / mean|h_t - h_(t-m)| of the series' history h (m the season, 1 when
  the history is not longer than a season; series whose history never changes are left out).
- RMSE (deprecated in the API, still returned): the RMSE of the mean forecast type, else of the quantile nearest
  the median.
A metric that cannot be computed (a zero denominator, nothing observed) is left out: JSON has no NaN.
"""

from __future__ import annotations

import numpy as np


def _pooled(values: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(part, dtype="float64").ravel() for part in values]) if values else np.zeros(0)


def accuracy_metrics(actual: list[np.ndarray], forecasts: list[dict[str, np.ndarray]], history: list[np.ndarray],
                     forecast_types: list[str], season: int) -> dict:
    y = _pooled(actual)
    known = ~np.isnan(y)
    y_known = y[known]
    scale = float(np.abs(y_known).sum())
    out: dict = {}
    losses = []
    for forecast_type in forecast_types:
        if forecast_type == "mean" or not y_known.size:
            continue
        tau = float(forecast_type)
        q = _pooled([forecast[forecast_type] for forecast in forecasts])[known]
        loss = 2 * float((tau * np.maximum(y_known - q, 0) + (1 - tau) * np.maximum(q - y_known, 0)).sum())
        losses.append({"Quantile": tau, "LossValue": loss / scale if scale > 0 else loss})
    if losses:
        out["WeightedQuantileLosses"] = losses
        out["AverageWeightedQuantileLoss"] = float(np.mean([loss["LossValue"] for loss in losses]))
    entries = []
    for forecast_type in forecast_types if y_known.size else []:
        errors = y_known - _pooled([forecast[forecast_type] for forecast in forecasts])[known]
        entry: dict = {"ForecastType": forecast_type, "RMSE": float(np.sqrt(np.mean(errors ** 2)))}
        if scale > 0:
            entry["WAPE"] = float(np.abs(errors).sum() / scale)
        nonzero = y_known != 0
        if nonzero.any():
            entry["MAPE"] = float(np.mean(np.abs(errors[nonzero]) / np.abs(y_known[nonzero])))
        mase = _mase(actual, [forecast[forecast_type] for forecast in forecasts], history, season)
        if mase is not None:
            entry["MASE"] = mase
        entries.append(entry)
    if entries:
        out["ErrorMetrics"] = entries
        point = "mean" if "mean" in forecast_types else min(
            forecast_types, key=lambda forecast_type: abs(float(forecast_type) - 0.5))
        out["RMSE"] = next(entry["RMSE"] for entry in entries if entry["ForecastType"] == point)
    return out


def _mase(actual: list[np.ndarray], predictions: list[np.ndarray], history: list[np.ndarray],
          season: int) -> float | None:
    scores = []
    for truth, prediction, past in zip(actual, predictions, history):
        past = np.asarray(past, dtype="float64")
        past = past[~np.isnan(past)]
        lag = season if len(past) > season else 1
        if len(past) <= lag:
            continue
        scale = np.mean(np.abs(past[lag:] - past[:-lag]))
        truth = np.asarray(truth, dtype="float64")
        keep = ~np.isnan(truth)
        if scale == 0 or not keep.any():
            continue
        scores.append(np.mean(np.abs(truth[keep] - np.asarray(prediction, dtype="float64")[keep])) / scale)
    return float(np.mean(scores)) if scores else None
