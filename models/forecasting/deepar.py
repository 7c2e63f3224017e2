"""DeepAR+ on GluonTS's torch DeepAR (Apache-2.0; Amazon's open implementation of the DeepAR paper AWS cites): one
autoregressive LSTM trained across all the series, related time series as dynamic real features, item metadata as
static categorical features with learned embeddings, quantiles and mean from sample paths.

AWS's hyperparameters (aws-forecast-recipe-deeparplus.html) that map: context_length (default: the horizon),
epochs (default here 10, not AWS's 500, so small data trains in seconds), learning_rate (1e-3), likelihood
(student-T, gaussian, negative-binomial, beta, piecewise-linear, deterministic-L1: a Laplace likelihood whose
median is the forecast of every type), num_cells (40), num_layers (2). learning_rate_decay,
max_learning_rate_decays and num_averaged_models have no counterpart and are ignored. AWS requires at least 300
observations across all series; so does this.
"""

from __future__ import annotations

import logging
import random
import tempfile
import warnings

import numpy as np
import pandas as pd

from models.forecasting.npts import PERIODS
from models.forecasting.series import ForecastInputError, Series, SeriesForecast, count_observed, from_samples

MIN_TOTAL = 300
SAMPLES = 200
BATCHES_PER_EPOCH = 20
LIKELIHOODS = ("student-T", "gaussian", "negative-binomial", "beta", "piecewise-linear", "deterministic-L1")


def check_total(algorithm: str, series: list[Series]) -> None:
    total = sum(count_observed(item) for item in series)
    if total < MIN_TOTAL:
        raise ForecastInputError(f"The {len(series)} time series have {total} observed values in all; the "
                                 f"{algorithm} algorithm needs at least {MIN_TOTAL} across all series.")


def number(hyperparameters: dict, name: str, default: float, kind: type, low: float, high: float) -> float:
    """A numeric hyperparameter, checked against its range."""
    try:
        value = kind(hyperparameters.get(name, default))
    except ValueError:
        raise ForecastInputError(f"Hyperparameter {name} must be a number.") from None
    if not low <= value <= high:
        raise ForecastInputError(f"Hyperparameter {name} must be from {low} to {high}; it is {value}.")
    return value


def _distribution(name: str):
    from gluonts.torch.distributions import (
        BetaOutput, LaplaceOutput, NegativeBinomialOutput, NormalOutput, PiecewiseLinearOutput, StudentTOutput,
    )

    outputs = {"student-T": StudentTOutput, "gaussian": NormalOutput, "negative-binomial": NegativeBinomialOutput,
               "beta": BetaOutput, "deterministic-L1": LaplaceOutput}
    if name == "piecewise-linear":
        return PiecewiseLinearOutput(num_pieces=10)
    if name not in outputs:
        raise ForecastInputError(f"DeepAR+ likelihood {name!r} is not valid; use one of {', '.join(LIKELIHOODS)}.")
    return outputs[name]()


def static_codes(series: list[Series]) -> tuple[list[str], list[int], list[list[int]]]:
    """Item metadata fields every series has, their cardinalities, and each series' value codes."""
    fields = sorted(set.intersection(*(set(item.static or {}) for item in series)))
    vocabularies = [sorted({item.static[field] for item in series}) for field in fields]
    codes = [[vocabulary.index(item.static[field]) for field, vocabulary in zip(fields, vocabularies)]
             for item in series]
    return fields, [len(vocabulary) for vocabulary in vocabularies], codes


def deepar(series: list[Series], horizon: int, frequency: str, forecast_types: list[str], hyperparameters: dict,
           seed: int) -> list[SeriesForecast]:
    import torch
    from gluonts.torch.model.deepar import DeepAREstimator

    likelihood = str(hyperparameters.get("likelihood", "student-T"))
    distribution = _distribution(likelihood)
    context = int(number(hyperparameters, "context_length", horizon, int, 1, 500))
    epochs = int(number(hyperparameters, "epochs", 10, int, 1, 1000))
    rate = number(hyperparameters, "learning_rate", 1e-3, float, 1e-5, 1e-1)
    cells = int(number(hyperparameters, "num_cells", 40, int, 30, 200))
    layers = int(number(hyperparameters, "num_layers", 2, int, 1, 4))

    related = sorted(set.intersection(*(set(item.related or {}) for item in series)))
    fields, cardinality, codes = static_codes(series)
    period = PERIODS[frequency]

    def entry(item: Series, code: list[int], future: bool) -> dict:
        length = len(item.target) + (horizon if future else 0)
        data = {"start": pd.Period(item.start, freq=period), "target": np.asarray(item.target, dtype="float32")}
        if related:
            data["feat_dynamic_real"] = np.vstack([np.nan_to_num(np.asarray(item.related[name], dtype="float32"))
                                                   [:length] for name in related])
        if fields:
            data["feat_static_cat"] = np.asarray(code, dtype="int64")
        return data

    for name in ("lightning.pytorch", "lightning.fabric", "gluonts"):
        logging.getLogger(name).setLevel(logging.WARNING)  # "GPU available: False" ... at INFO, every fit
    threads = torch.get_num_threads()
    states = np.random.get_state(), random.getstate(), torch.get_rng_state()
    # One thread: with two under load, OpenMP spinning made training 18x slower (MODELS.md).
    torch.set_num_threads(1)
    np.random.seed(seed)  # GluonTS samples training windows with numpy's global generator
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():  # GluonTS checkpoints to disk
            warnings.simplefilter("ignore")  # Lightning's advice on workers and logging, pandas' old "M"
            estimator = DeepAREstimator(
                freq=period, prediction_length=horizon, context_length=context, num_layers=layers,
                hidden_size=cells, lr=rate, num_feat_dynamic_real=len(related),
                num_feat_static_cat=len(fields), cardinality=cardinality or None, distr_output=distribution,
                num_parallel_samples=SAMPLES, num_batches_per_epoch=BATCHES_PER_EPOCH,
                trainer_kwargs={"max_epochs": epochs, "accelerator": "cpu", "devices": 1, "logger": False,
                                "enable_progress_bar": False, "enable_model_summary": False,
                                "default_root_dir": folder})
            predictor = estimator.train([entry(item, code, False) for item, code in zip(series, codes)])
            forecasts = list(predictor.predict([entry(item, code, True) for item, code in zip(series, codes)]))
    finally:
        torch.set_num_threads(threads)
        np.random.set_state(states[0])
        random.setstate(states[1])
        torch.set_rng_state(states[2])
    out = []
    for item, forecast in zip(series, forecasts):
        samples = np.asarray(forecast.samples, dtype="float64")
        if likelihood == "deterministic-L1":
            samples = np.median(samples, axis=0, keepdims=True)  # a point forecast: every type is the median
        out.append(from_samples(item, samples, frequency, forecast_types))
    return out
