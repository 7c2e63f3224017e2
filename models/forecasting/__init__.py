"""Forecasting engines for Amazon Forecast's algorithms (ETS, ARIMA, Prophet, NPTS, DeepAR+, CNN-QR), AutoPredictor's
blend, and the accuracy metrics as Forecast defines them. Each algorithm module says which library runs it and under
what licence (LICENCES sums them up).

This package imports only numpy and pandas; each algorithm imports its library when it first runs.
"""

from models.forecasting.algorithms import ALGORITHMS, AVAILABLE, LICENCES, fit_and_forecast
from models.forecasting.auto import auto_forecast
from models.forecasting.metrics import accuracy_metrics
from models.forecasting.series import (ForecastInputError, Series, SeriesForecast, season_length, step_count, steps,
                                      timeline)

__all__ = ["ALGORITHMS", "AVAILABLE", "LICENCES", "ForecastInputError", "Series", "SeriesForecast",
           "accuracy_metrics", "auto_forecast", "fit_and_forecast", "season_length", "step_count", "steps", "timeline"]
