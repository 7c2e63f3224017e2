"""Prophet on the `prophet` package (MIT; its wheel bundles cmdstan and the compiled Stan model, so it fits offline),
as AWS's Prophet algorithm runs the Prophet class of the Python implementation: one fit per series (MAP, no MCMC),
related time series as extra regressors, quantiles and mean from its predictive samples.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from models.forecasting.series import Series, SeriesForecast, from_samples, observed, timeline

SAMPLES = 300  # predictive samples per series (Prophet's default 1000 triples the predict time for little gain)


def _quiet() -> None:
    """cmdstanpy logs two INFO lines per fit, through a handler of its own that it adds (and sets its logger to
    DEBUG) whenever the logger has none: give it one, and keep warnings only."""
    logger = logging.getLogger("cmdstanpy")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.WARNING)


def prophet(series: list[Series], horizon: int, frequency: str, forecast_types: list[str],
            seed: int) -> list[SeriesForecast]:
    _quiet()
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "Importing plotly failed", at import
    from prophet import Prophet

    out = []
    state = np.random.get_state()
    try:
        for item in series:
            times = timeline(item, frequency, horizon)
            history = pd.DataFrame({"ds": times[:len(item.target)], "y": np.asarray(item.target, dtype="float64")})
            future = pd.DataFrame({"ds": times[len(item.target):]})
            model = Prophet(mcmc_samples=0, uncertainty_samples=SAMPLES)
            for name in sorted(item.related or {}):
                values = observed(item.related[name])
                model.add_regressor(name)
                history[name] = values[:len(item.target)]
                future[name] = values[len(item.target):]
            np.random.seed(seed)  # Prophet samples trend changes and noise with numpy's global generator
            model.fit(history, seed=seed)
            samples = model.predictive_samples(future)["yhat"]  # steps x samples
            out.append(from_samples(item, samples.T, frequency, forecast_types))
    finally:
        np.random.set_state(state)
    return out
