"""Forecast's algorithms (the names after arn:aws:forecast:::algorithm/) and what runs each here:

- ETS: statsforecast's AutoETS, the port of R's forecast::ets that AWS's ETS calls (statistical.py);
- ARIMA: statsforecast's AutoARIMA (R's auto.arima), related time series as regressors (statistical.py);
- Prophet: the prophet package, related time series as extra regressors (prophet_model.py);
- NPTS: GluonTS's NPTSPredictor with AWS's hyperparameters (npts.py);
- Deep_AR_Plus: GluonTS's torch DeepAR (deepar.py);
- CNN-QR: a dilated causal CNN quantile regressor in plain torch (cnnqr.py).

Each checks the request the same way first: a horizon from 1 to 500, known quantiles and frequency, and series
long enough for the algorithm (MIN_POINTS observed values each; the global models 300 in all). A series without
any observed value, or with only zeros, is forecast as zeros without a model. Quantiles never cross.
"""

from __future__ import annotations

from models.forecasting.series import (
    ForecastInputError, Series, SeriesForecast, blank, check_minimum, check_request, empty,
)

ALGORITHMS = ("ETS", "ARIMA", "Prophet", "NPTS", "Deep_AR_Plus", "CNN-QR")
AVAILABLE = ALGORITHMS
LICENCES = {"ETS": "statsforecast (Apache-2.0)", "ARIMA": "statsforecast (Apache-2.0)", "Prophet": "prophet (MIT)",
            "NPTS": "gluonts (Apache-2.0)", "Deep_AR_Plus": "gluonts (Apache-2.0) on torch (BSD-3-Clause)",
            "CNN-QR": "torch (BSD-3-Clause)", "Theta": "statsforecast (Apache-2.0)",
            "CES": "statsforecast (Apache-2.0)"}
# Observed values a series needs: AutoETS fits from 7 (shorter ones get the random walk, as R's ets falls back to
# simple exponential smoothing), the others need a few points to estimate anything; NPTS samples from one.
MIN_POINTS = {"ETS": 2, "ARIMA": 3, "Theta": 4, "CES": 4, "Prophet": 2, "NPTS": 1, "Deep_AR_Plus": 1,
              "CNN-QR": 1}


def fit_and_forecast(algorithm: str, series: list[Series], horizon: int, freq: str, forecast_types: list[str],
                     hyperparameters: dict | None = None, seed: int = 0) -> list[SeriesForecast]:
    """One forecast per series (in order), `horizon` steps past its end, for each forecast type. "Theta" and "CES",
    members of AutoPredictor's blend and no Forecast algorithms, are accepted too."""
    if algorithm not in MIN_POINTS:
        raise ForecastInputError(f"Algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}.")
    check_request(series, horizon, freq, forecast_types)
    check_minimum(algorithm, series, MIN_POINTS[algorithm])
    if algorithm in ("Deep_AR_Plus", "CNN-QR"):
        from models.forecasting.deepar import check_total

        check_total(algorithm, series)
    out = [empty(item, horizon, freq, forecast_types) for item in series]
    chosen = [index for index, item in enumerate(series) if not blank(item)]
    if chosen:
        answers = _run(algorithm, [series[index] for index in chosen], horizon, freq, forecast_types,
                       hyperparameters or {}, seed)
        for index, answer in zip(chosen, answers):
            out[index] = answer
    return out


def _run(algorithm: str, series: list[Series], horizon: int, freq: str, forecast_types: list[str],
         hyperparameters: dict, seed: int) -> list[SeriesForecast]:
    if algorithm in ("ETS", "ARIMA", "Theta", "CES"):
        from models.forecasting.statistical import statistical

        return statistical(algorithm, series, horizon, freq, forecast_types)
    if algorithm == "NPTS":
        from models.forecasting.npts import npts

        return npts(series, horizon, freq, forecast_types, hyperparameters, seed)
    if algorithm == "Prophet":
        from models.forecasting.prophet_model import prophet

        return prophet(series, horizon, freq, forecast_types, seed)
    if algorithm == "Deep_AR_Plus":
        from models.forecasting.deepar import deepar

        return deepar(series, horizon, freq, forecast_types, hyperparameters, seed)
    from models.forecasting.cnnqr import cnnqr

    return cnnqr(series, horizon, freq, forecast_types, hyperparameters, seed)
