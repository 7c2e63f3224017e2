"""CNN-QR in plain torch (BSD-3-Clause), after AWS's description (aws-forecast-algo-cnnqr.html; AWS's own model is
proprietary): one global model over all the series, a stack of dilated causal 1-D convolutions reading a context
window, and a quantile-regression decoder trained with the pinball loss for the requested quantiles.

Encoder inputs per step: the target scaled by the context's mean absolute value, its observed mask, the related
time series (standardised per series) and GluonTS's calendar features for the frequency (month-of-year for
monthly data, hour-of-day ... for hourly: the derived features AWS lists). The decoder also reads the related
series' and calendar features' values over the horizon ("forward-looking"), the log scale and an embedding of each
item metadata field. Like AWS's, it does not forecast a mean: "mean" is the median.

Hyperparameters as AWS names them: context_length (default four horizons, at least two seasons, at most 500),
epochs (default 30 of 20 batches), use_related_data (ALL | FORWARD_LOOKING | HISTORICAL | NONE),
use_item_metadata (ALL | NONE). AWS requires 300 observations across all series for DeepAR+; this global model
asks the same.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from models.forecasting.deepar import number, static_codes
from models.forecasting.npts import PERIODS
from models.forecasting.series import (
    ForecastInputError, Series, SeriesForecast, monotone, next_start, season_length,
)

BATCH = 64
BATCHES_PER_EPOCH = 20
HIDDEN = 32


def _network(inputs: int, decoder_inputs: int, cardinality: list[int], horizon: int, quantiles: int,
             context: int):
    import torch
    from torch import nn

    class CausalBlock(nn.Module):
        def __init__(self, dilation: int) -> None:
            super().__init__()
            self.dilation = dilation
            self.conv = nn.Conv1d(HIDDEN, HIDDEN, kernel_size=2, dilation=dilation)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Left padding only: step t sees steps <= t.
            return x + torch.relu(self.conv(nn.functional.pad(x, (self.dilation, 0))))

    class Network(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.project = nn.Conv1d(inputs, HIDDEN, kernel_size=1)
            # Dilations 1, 2, 4 ... until the receptive field covers the context.
            depth = max(1, int(np.ceil(np.log2(context))))
            self.blocks = nn.Sequential(*[CausalBlock(2 ** level) for level in range(depth)])
            self.embeddings = nn.ModuleList([nn.Embedding(size, min(8, size)) for size in cardinality])
            width = HIDDEN + decoder_inputs * horizon + 1 + sum(min(8, size) for size in cardinality)
            self.head = nn.Sequential(nn.Linear(width, 128), nn.ReLU(), nn.Linear(128, horizon * quantiles))
            self.shape = (horizon, quantiles)

        def forward(self, past: torch.Tensor, future: torch.Tensor, log_scale: torch.Tensor,
                    codes: torch.Tensor) -> torch.Tensor:
            encoded = self.blocks(self.project(past))[:, :, -1]
            parts = [encoded, future.flatten(1), log_scale[:, None]]
            parts += [embedding(codes[:, field]) for field, embedding in enumerate(self.embeddings)]
            return self.head(torch.cat(parts, dim=1)).view(-1, *self.shape)

    return Network()


class _Windows:
    """All series laid end to end, each padded on the left by a context of missing values, so that any batch of
    (series, cut) windows is one fancy index."""

    def __init__(self, series: list[Series], horizon: int, frequency: str, context: int, related: list[str],
                 forward: bool) -> None:
        from gluonts.time_feature import time_features_from_frequency_str

        period = PERIODS[frequency]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # GluonTS reads pandas' old "M"
            features = time_features_from_frequency_str(period)
        self.context, self.horizon = context, horizon
        self.lengths = np.array([len(item.target) for item in series])
        targets, channels, offsets, position = [], [], [], 0
        for item in series:
            length = len(item.target)
            times = pd.period_range(pd.Period(item.start, freq=period), periods=length + horizon, freq=period)
            columns = [np.asarray(feature(times), dtype="float64") for feature in features]
            for name in related:
                values = np.nan_to_num(np.asarray(item.related[name], dtype="float64"))
                spread = values[:length].std() or 1.0
                columns.append((values - values[:length].mean()) / spread)
            block = np.vstack(columns) if columns else np.zeros((0, length + horizon))
            targets.append(np.concatenate([np.full(context, np.nan), np.asarray(item.target, dtype="float64"),
                                           np.full(horizon, np.nan)]))
            channels.append(np.hstack([np.zeros((len(block), context)), block]))
            offsets.append(position)
            position += context + length + horizon
        self.target = np.concatenate(targets)
        self.channels = np.hstack(channels)
        self.offsets = np.array(offsets)
        # The decoder reads the calendar always, the related series when they are forward-looking.
        self.decoder_rows = len(features) + (len(related) if forward else 0)

    def batch(self, rows: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, ...]:
        """Windows ending at `cuts` (the first forecast step, in series positions): encoder inputs (batch x
        channels x context), decoder inputs (batch x horizon x features), scales, and the scaled truth with NaN
        where unobserved or beyond the history."""
        starts = self.offsets[rows] + cuts  # the padded array's index of the context's first step
        past = starts[:, None] + np.arange(self.context)
        ahead = starts[:, None] + self.context + np.arange(self.horizon)
        values = self.target[past]
        known = ~np.isnan(values)
        scale = np.where(known, np.abs(np.nan_to_num(values)), 0).sum(1) / np.maximum(known.sum(1), 1)
        scale = np.where(scale > 0, scale, 1.0)
        encoder = np.concatenate([(np.nan_to_num(values) / scale[:, None])[:, None], known[:, None],
                                  self.channels[:, past].transpose(1, 0, 2)], axis=1)
        decoder = self.channels[:self.decoder_rows][:, ahead].transpose(1, 2, 0)
        return encoder, decoder, scale, self.target[ahead] / scale[:, None]


def cnnqr(series: list[Series], horizon: int, frequency: str, forecast_types: list[str], hyperparameters: dict,
          seed: int) -> list[SeriesForecast]:
    import torch

    default_context = min(500, max(4 * horizon, 2 * season_length(frequency)))
    context = int(number(hyperparameters, "context_length", default_context, int, 1, 500))
    epochs = int(number(hyperparameters, "epochs", 30, int, 1, 1000))
    use_related = str(hyperparameters.get("use_related_data", "ALL")).upper()
    use_metadata = str(hyperparameters.get("use_item_metadata", "ALL")).upper()
    if use_related not in ("ALL", "FORWARD_LOOKING", "HISTORICAL", "NONE"):
        raise ForecastInputError("CNN-QR use_related_data must be ALL, FORWARD_LOOKING, HISTORICAL or NONE.")
    if use_metadata not in ("ALL", "NONE"):
        raise ForecastInputError("CNN-QR use_item_metadata must be ALL or NONE.")

    related = [] if use_related == "NONE" else sorted(set.intersection(*(set(item.related or {}) for item in series)))
    _, cardinality, codes = static_codes(series) if use_metadata == "ALL" else ([], [], [[] for _ in series])
    windows = _Windows(series, horizon, frequency, context, related, forward=use_related != "HISTORICAL")
    # Training windows: every cut whose horizon lies inside the history.
    trainable = np.flatnonzero(windows.lengths > horizon)
    if not len(trainable):
        raise ForecastInputError(f"No time series is longer than the forecast horizon ({horizon}); CNN-QR needs "
                                 f"some that are, to learn from.")
    levels = sorted({float(value) for value in forecast_types if value != "mean"} | {0.5})
    generator = np.random.default_rng(seed)
    threads, state = torch.get_num_threads(), torch.get_rng_state()
    torch.set_num_threads(1)  # see deepar.py
    try:
        torch.manual_seed(seed)  # the initial weights
        network = _network(windows.channels.shape[0] + 2, windows.decoder_rows, cardinality, horizon, len(levels),
                           context)
        optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)
        taus = torch.tensor(levels, dtype=torch.float32)
        code_array = np.asarray(codes, dtype="int64").reshape(len(series), -1)
        weights = (windows.lengths[trainable] - horizon) / (windows.lengths[trainable] - horizon).sum()
        for _ in range(epochs * BATCHES_PER_EPOCH):
            rows = generator.choice(trainable, size=BATCH, p=weights)
            cuts = generator.integers(1, windows.lengths[rows] - horizon + 1)
            encoder, decoder, scale, truth = windows.batch(rows, cuts)
            predicted = network(*_tensors(encoder, decoder, scale, code_array[rows]))
            truth = torch.tensor(truth, dtype=torch.float32)[:, :, None]
            known = ~torch.isnan(truth)
            error = torch.nan_to_num(truth) - predicted
            loss = (torch.maximum(taus * error, (taus - 1) * error) * known).sum() / known.sum().clamp(min=1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        rows = np.arange(len(series))
        encoder, decoder, scale, _ = windows.batch(rows, windows.lengths)
        with torch.no_grad():
            predicted = network(*_tensors(encoder, decoder, scale, code_array)).numpy().astype("float64")
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(state)
    predicted *= scale[:, None, None]
    out = []
    for position, item in enumerate(series):
        by_level = {level: predicted[position, :, column] for column, level in enumerate(levels)}
        quantiles = {forecast_type: by_level[0.5 if forecast_type == "mean" else float(forecast_type)].copy()
                     for forecast_type in forecast_types}
        out.append(SeriesForecast(item.key, next_start(item, frequency), monotone(quantiles)))
    return out


def _tensors(encoder: np.ndarray, decoder: np.ndarray, scale: np.ndarray, codes: np.ndarray) -> tuple:
    import torch

    return (torch.tensor(encoder, dtype=torch.float32), torch.tensor(decoder, dtype=torch.float32),
            torch.tensor(np.log(scale), dtype=torch.float32), torch.tensor(codes, dtype=torch.long))
