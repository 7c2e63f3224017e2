"""The series the engines forecast, what they answer, and the checks and helpers every algorithm shares."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Season lengths of Forecast's frequencies: the R `ts` frequency AWS documents for its ETS and ARIMA algorithms
# (aws-forecast-recipe-ets.html). Sub-hourly data gets the hour as its season (30min -> 2, 1min -> 60), not the day:
# that is what AWS does, and a daily season of 48 to 1440 steps makes seasonal ARIMA take minutes per series.
SEASONS = {"Y": 1, "M": 12, "W": 52, "D": 7, "H": 24, "30min": 2, "15min": 4, "10min": 6, "5min": 12, "1min": 60}
# Forecast's frequencies as pandas offsets (weeks start on Monday, months and years at their start).
OFFSETS = {"1min": "1min", "5min": "5min", "10min": "10min", "15min": "15min", "30min": "30min", "H": "h",
           "D": "D", "W": "W-MON", "M": "MS", "Y": "YS"}
MAX_HORIZON = 500
_FORECAST_TYPE = re.compile(r"^0?\.\d\d?$")  # ForecastTypes' pattern in Forecast's API, less "mean"


class ForecastInputError(ValueError):
    """Input an algorithm cannot forecast (too short, too long a horizon, an unknown quantile): the message says
    what, for the user."""


@dataclass
class Series:
    key: tuple[str, ...]
    start: pd.Timestamp  # the time of target[0]
    target: np.ndarray  # float64 at the series' frequency; NaN where a value is missing
    related: dict[str, np.ndarray] | None = None  # each len(target) + horizon long (future values known)
    static: dict[str, str] | None = None  # item metadata


@dataclass
class SeriesForecast:
    key: tuple[str, ...]
    start: pd.Timestamp  # the first forecast step
    quantiles: dict[str, np.ndarray]  # by forecast type as requested: "0.1", "0.5", "mean", ...


def season_length(frequency: str) -> int:
    if frequency not in SEASONS:
        raise ForecastInputError(f"Frequency {frequency!r} is not one of {', '.join(SEASONS)}.")
    return SEASONS[frequency]


def quantile_levels(forecast_types: list[str]) -> list[float]:
    """The numeric quantiles among the forecast types, checked (0.01 to 0.99, at most two decimals)."""
    if not forecast_types:
        raise ForecastInputError("At least one forecast type is needed.")
    levels = []
    for forecast_type in forecast_types:
        if forecast_type == "mean":
            continue
        if not _FORECAST_TYPE.match(forecast_type) or float(forecast_type) == 0:
            raise ForecastInputError(f"Forecast type {forecast_type!r} is not valid: use 'mean' or a quantile from "
                                     f"0.01 to 0.99 with at most two decimals.")
        levels.append(float(forecast_type))
    return levels


def check_request(series: list[Series], horizon: int, frequency: str, forecast_types: list[str]) -> None:
    """What every algorithm refuses alike: no series, a horizon out of range, an unknown frequency or type."""
    if not series:
        raise ForecastInputError("There are no time series to forecast.")
    if not 1 <= horizon <= MAX_HORIZON:
        raise ForecastInputError(f"The forecast horizon must be from 1 to {MAX_HORIZON}; it is {horizon}.")
    season_length(frequency)
    quantile_levels(forecast_types)
    for item in series:
        for name, values in (item.related or {}).items():
            if len(values) != len(item.target) + horizon:
                raise ForecastInputError(
                    f"Related time series {name!r} of item {'/'.join(item.key)} has {len(values)} points; it needs "
                    f"{len(item.target) + horizon} (the history and the forecast horizon).")


def count_observed(item: Series) -> int:
    return int(np.count_nonzero(~np.isnan(np.asarray(item.target, dtype="float64"))))


def check_minimum(algorithm: str, series: list[Series], minimum: int) -> None:
    """Series with some but fewer than `minimum` observations are an error (a series with none at all is
    forecast as zeros, see `blank`)."""
    short = sum(1 for item in series if 0 < count_observed(item) < minimum)
    if short:
        raise ForecastInputError(f"{short} of {len(series)} time series have fewer than {minimum} observed values; "
                                 f"the {algorithm} algorithm needs at least {minimum} per series.")


def observed(values: np.ndarray) -> np.ndarray:
    """Values with the missing ones filled for models that take none: linear between known points, the nearest
    known value at the ends, zeros when nothing is known."""
    values = np.asarray(values, dtype="float64")
    known = ~np.isnan(values)
    if not known.any():
        return np.zeros_like(values)
    if known.all():
        return values
    positions = np.arange(len(values))
    return np.interp(positions, positions[known], values[known])


# Steps of the calendar frequencies as numpy datetime arithmetic: pandas builds date ranges of anchored offsets
# (MS, YS, W-MON) one date at a time in Python, a cost paid per series.
_CALENDAR_UNITS = {"M": "M", "Y": "Y"}


def steps(start: pd.Timestamp, periods: int, frequency: str) -> pd.DatetimeIndex:
    """`periods` times, one per step of the frequency, from `start` (the start of a period)."""
    start = pd.Timestamp(start)
    unit = _CALENDAR_UNITS.get(frequency)
    if unit is not None:
        values = np.datetime64(start.to_datetime64(), unit) + np.arange(periods)
    else:  # every other step has a fixed length (a week from a Monday is 7 days)
        step = pd.Timedelta(pd.tseries.frequencies.to_offset("7D" if frequency == "W" else OFFSETS[frequency]))
        values = start.to_datetime64() + np.arange(periods) * step.to_timedelta64()
    return pd.DatetimeIndex(values.astype("datetime64[ns]"))


def step_count(start: pd.Timestamp, end: pd.Timestamp, frequency: str) -> int:
    """How many steps from the period starting at `start` to the one starting at `end`, both included."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if frequency == "M":
        return (end.year - start.year) * 12 + end.month - start.month + 1
    if frequency == "Y":
        return end.year - start.year + 1
    step = pd.Timedelta(pd.tseries.frequencies.to_offset("7D" if frequency == "W" else OFFSETS[frequency]))
    return (end - start) // step + 1


def timeline(item: Series, frequency: str, horizon: int) -> pd.DatetimeIndex:
    """The timestamps of the history and the forecast horizon."""
    return steps(item.start, len(item.target) + horizon, frequency)


def next_start(item: Series, frequency: str) -> pd.Timestamp:
    """The time of the step after the series' last point."""
    return pd.Timestamp(item.start) + len(item.target) * pd.tseries.frequencies.to_offset(OFFSETS[frequency])


def monotone(quantiles: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Quantile forecasts sorted across levels at each step (crossing quantiles are a model artefact)."""
    levels = sorted((float(name), name) for name in quantiles if name != "mean")
    if len(levels) > 1:
        stacked = np.sort(np.vstack([quantiles[name] for _, name in levels]), axis=0)
        for row, (_, name) in enumerate(levels):
            quantiles[name] = stacked[row]
    return quantiles


def from_samples(item: Series, samples: np.ndarray, frequency: str, forecast_types: list[str],
                 mean: np.ndarray | None = None) -> SeriesForecast:
    """A forecast from sample paths (samples x horizon): empirical quantiles, the sample mean unless given."""
    samples = np.nan_to_num(np.asarray(samples, dtype="float64"))
    quantiles = {}
    for forecast_type in forecast_types:
        if forecast_type == "mean":
            quantiles[forecast_type] = samples.mean(axis=0) if mean is None else np.asarray(mean, dtype="float64")
        else:
            quantiles[forecast_type] = np.quantile(samples, float(forecast_type), axis=0)
    return SeriesForecast(item.key, next_start(item, frequency), monotone(quantiles))


def blank(item: Series) -> bool:
    """Whether the series has nothing to learn from: no observed value, or only zeros."""
    values = np.asarray(item.target, dtype="float64")
    return not np.any(np.nan_to_num(values) != 0)


def empty(item: Series, horizon: int, frequency: str, forecast_types: list[str]) -> SeriesForecast:
    """The forecast of a blank series: zeros."""
    return SeriesForecast(item.key, next_start(item, frequency),
                          {forecast_type: np.zeros(horizon) for forecast_type in forecast_types})
