"""ETS, ARIMA, Theta and CES on statsforecast (Apache-2.0): ports of R's forecast::ets / auto.arima, which AWS's own
ETS and ARIMA algorithms call, of the dynamic optimised Theta method and of complex exponential smoothing (the last
two are AutoPredictor's blend members only).

Many series go through one StatsForecast call per group (same season, same related series), single-process: the
service runs these in its own worker processes. A series shorter than two seasons plus two points is fitted
without a season. Quantiles come from the prediction intervals: the quantile tau is the lower or upper end of the
central interval of level |2 tau - 1|; "mean" and "0.5" are the point forecast.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from models.forecasting.series import (
    Series, SeriesForecast, monotone, next_start, observed, quantile_levels, season_length,
)

def _model(name: str, season: int, long: bool, budget: bool):
    from statsforecast.models import AutoARIMA, AutoCES, AutoETS, DynamicOptimizedTheta

    if name == "ETS":
        return AutoETS(season_length=season)
    if name == "ARIMA":
        # R's auto.arima approximates the likelihood (CSS) for long or long-season series; statsforecast does not
        # by default, and a season of 52 then takes ~40 s per series instead of ~1.5 s.
        limits = {"max_p": 2, "max_q": 2, "max_P": 1, "max_Q": 1, "nmodels": 20} if budget else {}
        return AutoARIMA(season_length=season, approximation=long or season > 12, **limits)
    if name == "CES":
        return AutoCES(season_length=season)
    return DynamicOptimizedTheta(season_length=season)


def statistical(name: str, series: list[Series], horizon: int, frequency: str, forecast_types: list[str],
                budget: bool = False) -> list[SeriesForecast]:
    """One forecast per series (none blank); ARIMA takes the related time series as regressors (all of a group
    must have the same ones, as the service provides them). `budget` narrows ARIMA's order search (AutoPredictor's
    blend)."""
    season = season_length(frequency)
    groups: dict[tuple, list[int]] = {}
    for index, item in enumerate(series):
        length = len(_history(item.target))
        related = tuple(sorted(item.related)) if name == "ARIMA" and item.related else ()
        groups.setdefault((season if length >= 2 * season + 2 else 1, length > 150, related), []).append(index)
    out: list[SeriesForecast] = [None] * len(series)  # type: ignore[list-item]
    for (used_season, long, related), indices in groups.items():
        chosen = [series[index] for index in indices]
        model = _model(name, used_season, long, budget)
        for index, answer in zip(indices, _statsforecast(model, chosen, horizon, related, frequency,
                                                         forecast_types)):
            out[index] = answer
    return out


def _history(target: np.ndarray) -> np.ndarray:
    """The target from its first observed value (leading gaps are a series that started later), gaps filled."""
    target = np.asarray(target, dtype="float64")
    first = int(np.argmax(~np.isnan(target)))
    return observed(target[first:])


def _statsforecast(model, series: list[Series], horizon: int, related: tuple, frequency: str,
                   forecast_types: list[str]) -> list[SeriesForecast]:
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    ids = [str(index) for index in range(len(series))]
    histories = [_history(item.target) for item in series]
    frame = pd.DataFrame({"unique_id": np.repeat(ids, [len(history) for history in histories]),
                          "ds": np.concatenate([np.arange(len(history)) for history in histories]),
                          "y": np.concatenate(histories)})
    future = None
    if related:
        # The regressors aligned with the trimmed history, then their horizon values.
        past, ahead = {column: [] for column in related}, {column: [] for column in related}
        for item, history in zip(series, histories):
            end = len(item.target)
            for column in related:
                values = observed(item.related[column])
                past[column].append(values[end - len(history):end])
                ahead[column].append(values[end:end + horizon])
        for column in related:
            frame[column] = np.concatenate(past[column])
        future = pd.DataFrame({"unique_id": np.repeat(ids, horizon),
                               "ds": np.concatenate([np.arange(len(history), len(history) + horizon)
                                                     for history in histories]),
                               **{column: np.concatenate(ahead[column]) for column in related}})
    widths = sorted({_width(level) for level in quantile_levels(forecast_types)} - {0})
    # A series the model cannot fit (AutoETS refuses under 7 points, which R's ets fits by simple exponential
    # smoothing) gets the random walk, ETS(A,N,N) with alpha = 1, with its prediction intervals.
    engine = StatsForecast(models=[model], freq=1, n_jobs=1, fallback_model=Naive())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsforecast warns about every short or constant series
        answer = engine.forecast(df=frame, h=horizon, level=widths or None, X_df=future)
    column = str(model)
    answer = answer.sort_values(["unique_id", "ds"], kind="stable")
    by_id = {key: part for key, part in answer.groupby("unique_id", sort=False)}
    out = []
    for identifier, item in zip(ids, series):
        part = by_id[identifier]
        point = part[column].to_numpy(dtype="float64")
        quantiles = {}
        for forecast_type in forecast_types:
            width = 0 if forecast_type == "mean" else _width(float(forecast_type))
            if width == 0:
                quantiles[forecast_type] = point
            else:
                side = "lo" if float(forecast_type) < 0.5 else "hi"
                quantiles[forecast_type] = part[f"{column}-{side}-{width}"].to_numpy(dtype="float64")
        # A degenerate fit (a constant series) can leave NaN intervals: the point forecast stands in for them.
        quantiles = {key: np.where(np.isfinite(values), values, point) for key, values in quantiles.items()}
        out.append(SeriesForecast(item.key, next_start(item, frequency), monotone(quantiles)))
    return out


def _width(level: float) -> int:
    """The central interval whose lower or upper end is the quantile `level` (0.1 -> 80)."""
    return round(abs(2 * level - 1) * 100)
