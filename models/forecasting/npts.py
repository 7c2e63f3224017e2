"""NPTS, non-parametric time series, on GluonTS (Apache-2.0; Amazon's own implementation of the algorithm): future
values sampled from past ones, weighted by an exponential kernel of their distance (or uniformly: the climatological
forecaster), seasonally when asked. Hyperparameters as AWS documents them (aws-forecast-recipe-npts.html):
context_length (default: the whole history), kernel_type (exponential | uniform), exp_kernel_weights (default 0.01),
use_seasonal_model (default true), use_default_time_features (default true). Related time series are its
feat_dynamic_real, which the seasonal variants use. Missing values are left missing: NPTS never samples them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from models.forecasting.series import ForecastInputError, Series, SeriesForecast, count_observed, empty, from_samples

SAMPLES = 200
# Periods as GluonTS reads them.
PERIODS = {"Y": "Y", "M": "M", "W": "W", "D": "D", "H": "h", "30min": "30min", "15min": "15min", "10min": "10min",
           "5min": "5min", "1min": "1min"}


def _flag(hyperparameters: dict, name: str) -> bool:
    value = str(hyperparameters.get(name, "true")).lower()
    if value not in ("true", "false"):
        raise ForecastInputError(f"NPTS {name} must be true or false; it is {value!r}.")
    return value == "true"


def _unit(values: np.ndarray) -> np.ndarray:
    """A related series rescaled to [-0.5, 0.5], the range of GluonTS's own time features: NPTS's kernel compares
    feature distances, and raw prices or counts would swamp the calendar."""
    values = np.nan_to_num(np.asarray(values, dtype="float64"))
    spread = values.max() - values.min()
    return (values - values.min()) / spread - 0.5 if spread > 0 else np.zeros_like(values)


def npts(series: list[Series], horizon: int, frequency: str, forecast_types: list[str], hyperparameters: dict,
         seed: int) -> list[SeriesForecast]:
    from gluonts.model.npts import KernelType, NPTSPredictor

    kernel = str(hyperparameters.get("kernel_type", "exponential")).lower()
    if kernel not in ("exponential", "uniform"):
        raise ForecastInputError(f"NPTS kernel_type {kernel!r} is not valid; use exponential or uniform.")
    try:
        weights = float(hyperparameters.get("exp_kernel_weights", 0.01))
        context = int(hyperparameters.get("context_length", max(len(item.target) for item in series)))
    except ValueError:
        raise ForecastInputError("NPTS exp_kernel_weights must be a number and context_length an integer.") \
            from None
    if weights <= 0 or context < 1:
        raise ForecastInputError("NPTS exp_kernel_weights and context_length must be positive.")
    predictor = NPTSPredictor(
        prediction_length=horizon, context_length=context,
        kernel_type=KernelType.exponential if kernel == "exponential" else KernelType.uniform,
        exp_kernel_weights=weights, use_seasonal_model=_flag(hyperparameters, "use_seasonal_model"),
        use_default_time_features=_flag(hyperparameters, "use_default_time_features"))
    period = PERIODS[frequency]
    out = [empty(item, horizon, frequency, forecast_types) for item in series]
    # NPTS refuses a context without any observation (a series whose last context_length values are missing):
    # those keep the zero forecast.
    chosen = [index for index, item in enumerate(series)
              if count_observed(Series(item.key, item.start, item.target[-context:])) > 0]
    entries = []
    for index in chosen:
        item = series[index]
        entry = {"start": pd.Period(item.start, freq=period), "target": np.asarray(item.target, dtype="float64")}
        if item.related:
            entry["feat_dynamic_real"] = np.vstack([_unit(item.related[name]) for name in sorted(item.related)])
        entries.append(entry)
    state = np.random.get_state()
    np.random.seed(seed)  # NPTS samples with numpy's global generator
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # GluonTS's calendar features use pandas' old "M"
            forecasts = list(predictor.predict(entries, num_samples=SAMPLES))
    finally:
        np.random.set_state(state)
    for index, forecast in zip(chosen, forecasts):
        out[index] = from_samples(series[index], forecast.samples, frequency, forecast_types)
    return out
