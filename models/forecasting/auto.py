"""AutoPredictor: per series, the blend of the fast statistical models, or NPTS for an intermittent series where
NPTS did better on a backtest.

The blend averages, level by level, the quantiles (and means) of AutoETS, AutoARIMA (on a budget: at most 20
models of orders up to (2,1,2)(1,1,1)), dynamic optimised Theta and AutoCES, each fitted per series by
statsforecast. A combination of exponential smoothing, ARIMA and Theta forecasts is a long-standing strong recipe:
on all 1,428 M3 monthly series (horizon 18) it scores OWA 0.801 where AutoETS alone scores 0.838, with 77% of the
actual values inside its p10-p90 interval. On every fourth of them (357), the budget ARIMA cost nothing against
the full search (OWA 0.822 against 0.820) in half the time; per-series selection among the members on a backtest
window did worse than always blending (0.833), and so did letting NPTS compete on every series (0.836): one window
is a noisy judge. NPTS is meant for intermittent series (AWS documents it for those), so it competes only on series
with at least INTERMITTENT zeros among their observed values: it replaces the blend there when its backtest loss is
lower. The backtest holds out the last `horizon` points (then the `horizon` before them, for each further window)
of those series; the loss is the sum of the pinball losses of the requested quantiles plus the absolute error of
the mean. The chosen model is refitted on the whole history.
"""

from __future__ import annotations

import numpy as np

from models.forecasting.npts import npts
from models.forecasting.series import Series, SeriesForecast, blank, check_request, empty, monotone
from models.forecasting.statistical import statistical

MEMBERS = ("ETS", "ARIMA", "Theta", "CES")
INTERMITTENT = 0.3  # share of zeros that makes a series intermittent
MIN_BACKTEST = 8  # observed values a series needs before its backtest window to be judged


def _blend(series: list[Series], horizon: int, frequency: str, forecast_types: list[str]) -> list[SeriesForecast]:
    answers = [statistical(member, series, horizon, frequency, forecast_types, budget=True) for member in MEMBERS]
    out = []
    for parts in zip(*answers):
        blended = {forecast_type: np.mean([part.quantiles[forecast_type] for part in parts], axis=0)
                   for forecast_type in forecast_types}
        out.append(SeriesForecast(parts[0].key, parts[0].start, monotone(blended)))
    return out


def _observed(values: np.ndarray) -> int:
    return int(np.count_nonzero(~np.isnan(values)))


def _zeros(values: np.ndarray) -> float:
    known = values[~np.isnan(values)]
    return float(np.mean(known == 0)) if known.size else 0.0


def _loss(actual: np.ndarray, forecast: SeriesForecast) -> float:
    known = ~np.isnan(actual)
    total = 0.0
    for forecast_type, values in forecast.quantiles.items():
        error = actual[known] - values[known]
        if forecast_type == "mean":
            total += float(np.abs(error).sum())
        else:
            tau = float(forecast_type)
            total += float(np.maximum(tau * error, (tau - 1) * error).sum())
    return total


def _backtest_losses(series: list[Series], horizon: int, freq: str, forecast_types: list[str], seed: int,
                     windows: int) -> np.ndarray:
    """Summed backtest losses of the blend (column 0) and NPTS (column 1), zero for a series not judged."""
    losses = np.zeros((len(series), 2))
    for window in range(1, windows + 1):
        cut = window * horizon
        judged = [index for index, item in enumerate(series) if len(item.target) > cut
                  and _observed(item.target[:-cut]) >= MIN_BACKTEST and _observed(item.target[-cut:][:horizon])]
        if not judged:
            break
        trains = []
        for index in judged:
            item, end = series[index], len(series[index].target) - cut
            related = {name: values[:end + horizon] for name, values in item.related.items()} if item.related else None
            trains.append(Series(item.key, item.start, item.target[:end], related, item.static))
        for column, answers in enumerate((_blend(trains, horizon, freq, forecast_types),
                                          npts(trains, horizon, freq, forecast_types, {}, seed))):
            for index, answer in zip(judged, answers):
                losses[index, column] += _loss(series[index].target[-cut:][:horizon], answer)
    return losses


def auto_forecast(series: list[Series], horizon: int, freq: str, forecast_types: list[str], seed: int = 0,
                  backtest_windows: int = 1) -> tuple[list[SeriesForecast], dict]:
    check_request(series, horizon, freq, forecast_types)
    out = [empty(item, horizon, freq, forecast_types) for item in series]
    modelled = [index for index, item in enumerate(series) if not blank(item)]
    intermittent = [index for index in modelled if _zeros(series[index].target) >= INTERMITTENT]
    losses = _backtest_losses([series[index] for index in intermittent], horizon, freq, forecast_types, seed,
                              backtest_windows)
    sampled = [index for index, (blend, sampling) in zip(intermittent, losses) if sampling < blend]
    blended = [index for index in modelled if index not in set(sampled)]
    if blended:
        for index, forecast in zip(blended, _blend([series[index] for index in blended], horizon, freq,
                                                   forecast_types)):
            out[index] = forecast
    if sampled:
        for index, forecast in zip(sampled, npts([series[index] for index in sampled], horizon, freq,
                                                 forecast_types, {}, seed)):
            out[index] = forecast
    share = len(sampled) / len(series)
    algorithms = {member: (1 - share) / len(MEMBERS) for member in MEMBERS}
    algorithms["NPTS"] = share
    return out, {"algorithms": algorithms}
