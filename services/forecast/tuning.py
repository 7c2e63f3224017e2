"""CreatePredictor's PerformHPO: which hyperparameters each algorithm tunes, HPOConfig checked, and the trials.

The tuning is a random search: the algorithm's defaults (with TrainingParameters) are the first trial, then
HPO_TRIALS - 1 draws from the ranges (HPOConfig's, else the defaults below), seeded by the predictor's ARN so a
restarted job draws the same ones. Each trial is backtested on the first (most recent) backtest window and scored
by the predictor's OptimizationMetric; the best is then evaluated on every window and forecasts with. Tunable
hyperparameters are those AWS documents for DeepAR+ (context_length, learning_rate, plus num_cells, num_layers,
likelihood) and CNN-QR (context_length, use_related_data, use_item_metadata).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from services.forecast.errors import InvalidInput

HPO_TRIALS = 4  # the defaults and three draws: each costs one training on the tuning window
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
TUNABLE = {
    "Deep_AR_Plus": {"context_length": "integer", "learning_rate": "continuous", "num_cells": "integer",
                     "num_layers": "integer", "likelihood": "categorical"},
    "CNN-QR": {"context_length": "integer", "use_related_data": "categorical", "use_item_metadata": "categorical"},
}


def default_ranges(algorithm: str, horizon: int) -> dict:
    """The ranges searched when HPOConfig gives none (AWS's documented tuning ranges, bounded by the engines')."""
    if algorithm == "Deep_AR_Plus":
        return {"IntegerParameterRanges": [{"Name": "context_length", "MinValue": max(1, horizon),
                                            "MaxValue": min(500, 4 * horizon), "ScalingType": "Linear"}],
                "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": 1e-4, "MaxValue": 0.05,
                                               "ScalingType": "Logarithmic"}]}
    return {"IntegerParameterRanges": [{"Name": "context_length", "MinValue": max(1, horizon),
                                        "MaxValue": min(500, 5 * horizon), "ScalingType": "Linear"}]}


def check_hpo(algorithm: str | None, request: dict) -> None:
    if request.get("HPOConfig") and not request.get("PerformHPO"):
        raise InvalidInput("HPOConfig can only be given when PerformHPO is true.")
    if not request.get("PerformHPO"):
        return
    if request.get("PerformAutoML"):
        raise InvalidInput("PerformHPO requires an AlgorithmArn and PerformAutoML false.")
    if algorithm not in TUNABLE:
        raise InvalidInput(f"PerformHPO is supported for Deep_AR_Plus and CNN-QR, not {algorithm}.")
    ranges = (request.get("HPOConfig") or {}).get("ParameterRanges") or {}
    kinds = {"CategoricalParameterRanges": "categorical", "ContinuousParameterRanges": "continuous",
             "IntegerParameterRanges": "integer"}
    for member, kind in kinds.items():
        for entry in ranges.get(member) or []:
            name = entry["Name"]
            if TUNABLE[algorithm].get(name) != kind:
                raise InvalidInput(f"{name} is not a tunable {kind} hyperparameter of {algorithm}; tunable are "
                                   f"{', '.join(f'{key} ({value})' for key, value in TUNABLE[algorithm].items())}.")
            if kind == "categorical":
                continue
            low, high, scaling = entry["MinValue"], entry["MaxValue"], entry.get("ScalingType", "Auto")
            if low > high:
                raise InvalidInput(f"The range of {name} has MinValue {low} above MaxValue {high}.")
            if scaling == "Logarithmic" and low <= 0:
                raise InvalidInput(f"Logarithmic scaling of {name} needs a range above 0.")
            if scaling == "ReverseLogarithmic" and not (0 <= low and high < 1):
                raise InvalidInput(f"ReverseLogarithmic scaling of {name} needs a range within 0 <= x < 1.")


def trials(algorithm: str, request: dict, arn: str) -> list[dict]:
    """The hyperparameters of each trial (strings, as TrainingParameters are), the defaults first."""
    base = dict(request.get("TrainingParameters") or {})
    ranges = (request.get("HPOConfig") or {}).get("ParameterRanges") or default_ranges(
        algorithm, request["ForecastHorizon"])
    rng = np.random.default_rng(int(hashlib.sha256(arn.encode()).hexdigest()[:8], 16))
    out = [base]
    for _ in range(HPO_TRIALS - 1):
        trial = dict(base)
        for entry in ranges.get("CategoricalParameterRanges") or []:
            trial[entry["Name"]] = str(entry["Values"][rng.integers(len(entry["Values"]))])
        for member, integer in (("ContinuousParameterRanges", False), ("IntegerParameterRanges", True)):
            for entry in ranges.get(member) or []:
                value = _draw(rng, entry["MinValue"], entry["MaxValue"], entry.get("ScalingType", "Auto"))
                trial[entry["Name"]] = str(int(round(value))) if integer else f"{value:.6g}"
        out.append(trial)
    return out


def _draw(rng: np.random.Generator, low: float, high: float, scaling: str) -> float:
    if scaling == "Auto":  # log where the range spans orders of magnitude, as SageMaker's Auto does
        scaling = "Logarithmic" if low > 0 and high / low >= 100 else "Linear"
    if scaling == "Logarithmic":
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if scaling == "ReverseLogarithmic":
        return 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
    return rng.uniform(low, high)
