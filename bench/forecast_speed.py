"""Forecast speed: wall time of training and forecasting M3 monthly series through a running gateway for each
algorithm, next to the same library call made directly in this process on the same series; and QueryForecast
latency (p50 / p99) and requests per second at concurrency 16.

    .venv/bin/python bench/forecast_speed.py [--series 200] [--algorithms ETS,NPTS,auto] [--queries 2000]

The gateway does more than the library call (it backtests a window, then fits again on the whole history to
forecast, and reads and writes Parquet), so its time is compared with the same two fits done directly: the
overhead figure is gateway seconds / direct seconds - 1. Fits are spread over the gateway's model worker
processes (AIGATE_MODEL_WORKERS), so on 2 cores the gateway can be faster than one direct process. Those processes
start on a gateway's first fit: one untimed NPTS predictor runs first, and its time is printed apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from forecast_quality import HORIZON, monthly, start_gateway, through_gateway  # noqa: E402

GOAL_OVERHEAD = 0.10


def direct_seconds(series: list, algorithm: str) -> float:
    """The library work the gateway does for one predictor and its forecast: a backtest fit and a full fit."""
    import models.forecasting as engines

    def as_series(values: np.ndarray, key: str) -> engines.Series:
        return engines.Series((key,), pd.Timestamp("1980-01-01"), np.asarray(values, float))

    started = time.perf_counter()
    for cut in (HORIZON, 0):
        items = [as_series(s["x"][:len(s["x"]) - cut], s["sn"]) for s in series]
        if algorithm == "auto":
            engines.auto_forecast(items, HORIZON, "M", ["0.1", "0.5", "0.9"])
        else:
            engines.fit_and_forecast(algorithm, items, HORIZON, "M", ["0.1", "0.5", "0.9"])
    return time.perf_counter() - started


def query_latency(url: str, forecast_arn: str, items: list[str], count: int, concurrency: int = 16
                  ) -> tuple[list[float], float]:
    import boto3
    from botocore.config import Config

    latencies: list[float] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        client = boto3.client("forecastquery", endpoint_url=url, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench",
                              config=Config(retries={"total_max_attempts": 1}))
        for call in range(index, count, concurrency):
            started = time.perf_counter()
            client.query_forecast(ForecastArn=forecast_arn, Filters={"item_id": items[call % len(items)]})
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--algorithms", default="ETS,NPTS,auto")
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    import boto3

    series = monthly(args.series)
    algorithms = args.algorithms.split(",")
    with tempfile.TemporaryDirectory() as data_dir:
        process, url = start_gateway(data_dir)
        try:
            timed = through_gateway(url, series, algorithms, warm_up=True)
            client = boto3.client("forecast", endpoint_url=url, region_name="us-east-1",
                                  aws_access_key_id="bench", aws_secret_access_key="bench")
            made = client.list_forecasts()["Forecasts"][0]["ForecastArn"]
            latencies, wall = query_latency(url, made, [s["sn"] for s in series], args.queries)
        finally:
            process.terminate()
            process.wait(30)
    print(f"M3 monthly, {len(series)} series, horizon {HORIZON}: predictor + forecast + queries")
    print(f"first predictor + forecast of the fresh gateway (NPTS, starts the model worker processes): "
          f"{timed['warm-up'][1]:.1f} s, not counted below")
    print(f"{'algorithm':<16}{'gateway s':>11}{'direct s':>10}{'ratio':>8}")
    ratios = []
    for algorithm in algorithms:
        gateway_seconds = timed[algorithm][1]
        direct_seconds(series[:4], algorithm)  # the library's imports, paid once as the gateway's workers did
        direct = direct_seconds(series, algorithm)
        ratios.append(gateway_seconds / direct)
        print(f"{algorithm:<16}{gateway_seconds:>11.1f}{direct:>10.1f}{gateway_seconds / direct:>8.2f}")
    ordered = sorted(latencies)
    p50, p99 = statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))]
    print(f"QueryForecast at concurrency 16: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"{len(latencies) / wall:.0f} requests/s")
    print(f"forecast_speed: overhead {max(ratios) - 1:+.2f} of the slowest algorithm (goal <= {GOAL_OVERHEAD:+.2f})")


if __name__ == "__main__":
    main()
