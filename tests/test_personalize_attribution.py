"""Amazon Personalize metric attributions through boto3 against the running gateway: the operations' shapes against
botocore's output shapes, the errors AWS documents (field by field), and the S3 report of an Interactions import
with publishAttributionMetricsToS3, row by row against counts and sums worked out by hand. No training: every import
here takes seconds."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import botocore.session
import pytest

from tests.helpers import error_code_and_message, unique, wait_for_status

ROLE = "arn:aws:iam::000000000000:role/personalize"
TERMINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")
INTERACTIONS_SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": ["null", "float"]},
               {"name": "EVENT_ATTRIBUTION_SOURCE", "type": ["null", "string"]},
               {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}
ITEMS_SCHEMA = {
    "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "ITEM_ID", "type": "string"}, {"name": "PRICE", "type": "float"},
               {"name": "GENRES", "type": ["null", "string"], "categorical": True}], "version": "1.0"}
NO_EVENT_TYPE_SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}

W0 = 1_700_000_100  # a multiple of 900: the first 15-minute window starts here
W1, W2 = W0 + 900, W0 + 1800
ITEMS_CSV = "ITEM_ID,PRICE,GENRES\ni1,10.0,A\ni2,2.5,B\ni3,4.25,A|B\n"  # i4 has no Items row: it sums as 0
INTERACTIONS_CSV = "\n".join([
    "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP",
    f"u1,i1,click,,campaignA,{W0 + 10}",
    f"u2,i2,click,,campaignA,{W0 + 100}",
    f"u3,i1,click,,recommenderB,{W0 + 899}",
    f"u1,i1,purchase,3.0,campaignA,{W0 + 500}",
    f"u2,i4,purchase,1.0,recommenderB,{W0 + 600}",
    f"u3,i2,click,,,{W1}",  # no source: SOURCE_NAME_UNDEFINED
    f"u1,i3,purchase,2.0,campaignA,{W1 + 300}",
    f"u2,i3,purchase,,campaignA,{W1 + 899}",  # no EVENT_VALUE: adds 0 to the Interactions sum
    f"u3,i2,click,,recommenderB,{W2 + 5}",
    f"u1,i2,purchase,4.0,recommenderB,{W2 + 60}",
]) + "\n"
METRICS = [{"eventType": "click", "metricName": "CLICKS", "expression": "SAMPLECOUNT()"},
           {"eventType": "purchase", "metricName": "REVENUE", "expression": "SUM(Items.PRICE)"},
           {"eventType": "purchase", "metricName": "VALUE", "expression": "SUM(Interactions.EVENT_VALUE)"}]
# By hand: per metric, the newest window first, then the sources alphabetically.
EXPECTED_REPORT = [
    ["METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP"],
    ["CLICKS", "click", "1.0", "samplecount", "recommenderB", str(W2)],
    ["CLICKS", "click", "1.0", "samplecount", "SOURCE_NAME_UNDEFINED", str(W1)],
    ["CLICKS", "click", "2.0", "samplecount", "campaignA", str(W0)],
    ["CLICKS", "click", "1.0", "samplecount", "recommenderB", str(W0)],
    ["REVENUE", "purchase", "2.5", "sum", "recommenderB", str(W2)],  # i2
    ["REVENUE", "purchase", "8.5", "sum", "campaignA", str(W1)],  # i3 twice: 4.25 + 4.25
    ["REVENUE", "purchase", "10.0", "sum", "campaignA", str(W0)],  # i1
    ["REVENUE", "purchase", "0.0", "sum", "recommenderB", str(W0)],  # i4, not in Items
    ["VALUE", "purchase", "4.0", "sum", "recommenderB", str(W2)],
    ["VALUE", "purchase", "2.0", "sum", "campaignA", str(W1)],  # 2.0 + null
    ["VALUE", "purchase", "3.0", "sum", "campaignA", str(W0)],
    ["VALUE", "purchase", "1.0", "sum", "recommenderB", str(W0)],
]


@pytest.fixture(scope="module")
def personalize(gateway):
    return gateway.client("personalize")


@pytest.fixture(scope="module")
def schemas(personalize):
    return {name: personalize.create_schema(name=unique(name), schema=json.dumps(schema))["schemaArn"]
            for name, schema in (("interactions", INTERACTIONS_SCHEMA), ("items", ITEMS_SCHEMA),
                                 ("no-event-type", NO_EVENT_TYPE_SCHEMA))}


def new_group(personalize, schemas, *kinds: str) -> dict:
    """A dataset group with the datasets named: "interactions", "items", "no-event-type" (an Interactions dataset
    without EVENT_TYPE)."""
    group = personalize.create_dataset_group(name=unique("attr"))["datasetGroupArn"]
    out = {"arn": group}
    for kind in kinds:
        dataset_type = "Items" if kind == "items" else "Interactions"
        out[kind] = personalize.create_dataset(name=unique(kind), schemaArn=schemas[kind], datasetGroupArn=group,
                                               datasetType=dataset_type)["datasetArn"]
    return out


def output_config(bucket: str | None, prefix: str = "reports/") -> dict:
    config = {"roleArn": ROLE}
    if bucket is not None:
        config["s3DataDestination"] = {"path": f"s3://{bucket}/{prefix}"}
    return config


def imported(personalize, dataset: str, location: str, **extra) -> dict:
    job = personalize.create_dataset_import_job(jobName=unique("import"), datasetArn=dataset, roleArn=ROLE,
                                                dataSource={"dataLocation": location}, **extra)
    return wait_for_status(lambda: personalize.describe_dataset_import_job(
        datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"], "status", TERMINAL, timeout=120,
        interval=0.2)


def members(shape: str) -> set[str]:
    return set(botocore.session.get_session().get_service_model("personalize").shape_for(shape).members)


def test_the_report_of_an_import_in_s3(personalize, schemas, s3, bucket):
    group = new_group(personalize, schemas, "interactions", "items")
    s3.put_object(Bucket=bucket, Key="in/items.csv", Body=ITEMS_CSV.encode())
    s3.put_object(Bucket=bucket, Key="in/interactions.csv", Body=INTERACTIONS_CSV.encode())
    assert imported(personalize, group["items"], f"s3://{bucket}/in/items.csv")["status"] == "ACTIVE"
    personalize.create_metric_attribution(name=unique("ma"), datasetGroupArn=group["arn"], metrics=METRICS,
                                          metricsOutputConfig=output_config(bucket))
    done = imported(personalize, group["interactions"], f"s3://{bucket}/in/interactions.csv",
                    publishAttributionMetricsToS3=True)
    assert done["status"] == "ACTIVE", done.get("failureReason")
    assert done["publishAttributionMetricsToS3"] is True
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket, Prefix="reports/").get("Contents", [])]
    assert len(keys) == 1 and keys[0].startswith("reports/AggregatedAttributionMetrics-FULL-") \
        and keys[0].endswith(".csv"), keys
    stamp = int(keys[0].removeprefix("reports/AggregatedAttributionMetrics-FULL-").removesuffix(".csv"))
    assert abs(stamp - done["lastUpdatedDateTime"].timestamp()) < 120
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode()
    assert list(csv.reader(io.StringIO(body))) == EXPECTED_REPORT

    # an INCREMENTAL import reports on its own rows only, in a new object named by its import mode
    s3.put_object(Bucket=bucket, Key="in/more.csv", Body=(
        "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
        f"u9,i3,purchase,5.0,campaignA,{W2 + 1}\nu9,i1,view,,campaignA,{W2 + 2}\n").encode())
    done = imported(personalize, group["interactions"], f"s3://{bucket}/in/more.csv", importMode="INCREMENTAL",
                    publishAttributionMetricsToS3=True)
    assert done["status"] == "ACTIVE", done.get("failureReason")
    incremental = [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket, Prefix="reports/")["Contents"]
                   if "-INCREMENTAL-" in entry["Key"]]
    assert len(incremental) == 1
    body = s3.get_object(Bucket=bucket, Key=incremental[0])["Body"].read().decode()
    assert list(csv.reader(io.StringIO(body))) == [
        EXPECTED_REPORT[0],
        ["REVENUE", "purchase", "4.25", "sum", "campaignA", str(W2)],
        ["VALUE", "purchase", "5.0", "sum", "campaignA", str(W2)]]
    # without the flag, no report
    before = s3.list_objects_v2(Bucket=bucket, Prefix="reports/")["KeyCount"]
    assert imported(personalize, group["interactions"], f"s3://{bucket}/in/more.csv",
                    importMode="INCREMENTAL")["status"] == "ACTIVE"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="reports/")["KeyCount"] == before


def test_describe_list_update_delete(personalize, schemas, bucket):
    group = new_group(personalize, schemas, "interactions", "items")
    name = unique("ma")
    arn = personalize.create_metric_attribution(name=name, datasetGroupArn=group["arn"], metrics=METRICS,
                                                metricsOutputConfig=output_config(bucket))["metricAttributionArn"]
    region, account = arn.split(":")[3:5]
    assert arn == f"arn:aws:personalize:{region}:{account}:metric-attribution/{name}"

    described = personalize.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]
    assert set(described) == members("MetricAttribution") - {"failureReason"}
    assert described["name"] == name and described["metricAttributionArn"] == arn
    assert described["datasetGroupArn"] == group["arn"] and described["status"] == "ACTIVE"
    assert described["metricsOutputConfig"] == output_config(bucket)
    assert described["creationDateTime"] <= described["lastUpdatedDateTime"]

    listed = personalize.list_metric_attributions(datasetGroupArn=group["arn"])
    assert set(listed) - {"ResponseMetadata"} == {"metricAttributions"}
    assert [set(entry) for entry in listed["metricAttributions"]] == [members("MetricAttributionSummary")
                                                                      - {"failureReason"}]
    assert listed["metricAttributions"][0]["metricAttributionArn"] == arn
    other = new_group(personalize, schemas, "interactions")
    other_arn = personalize.create_metric_attribution(
        name=unique("ma"), datasetGroupArn=other["arn"], metrics=METRICS[:1],
        metricsOutputConfig=output_config(None))["metricAttributionArn"]
    first = personalize.list_metric_attributions(maxResults=1)
    assert len(first["metricAttributions"]) == 1 and first["nextToken"]
    seen = {entry["metricAttributionArn"] for page in personalize.get_paginator("list_metric_attributions").paginate(
        PaginationConfig={"PageSize": 1}) for entry in page["metricAttributions"]}
    assert {arn, other_arn} <= seen

    page = personalize.list_metric_attribution_metrics(metricAttributionArn=arn, maxResults=2)
    assert page["metrics"] == METRICS[:2] and page["nextToken"]
    rest = personalize.list_metric_attribution_metrics(metricAttributionArn=arn, maxResults=2,
                                                       nextToken=page["nextToken"])
    assert rest["metrics"] == METRICS[2:] and "nextToken" not in rest
    assert set(members("ListMetricAttributionMetricsResponse")) == {"metrics", "nextToken"}

    added = {"eventType": "click", "metricName": "CLICK_VALUE", "expression": "SUM(Interactions.EVENT_VALUE)"}
    answer = personalize.update_metric_attribution(metricAttributionArn=arn, removeMetrics=["REVENUE"],
                                                   addMetrics=[added],
                                                   metricsOutputConfig=output_config(bucket, "other/"))
    assert answer["metricAttributionArn"] == arn
    assert personalize.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"] == \
        [METRICS[0], METRICS[2], added]
    updated = personalize.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]
    assert updated["metricsOutputConfig"] == output_config(bucket, "other/")
    assert updated["lastUpdatedDateTime"] >= described["lastUpdatedDateTime"]

    # a dataset group with a metric attribution cannot be deleted, even once its datasets are gone
    personalize.delete_dataset(datasetArn=other["interactions"])
    code, message = error_code_and_message(lambda: personalize.delete_dataset_group(datasetGroupArn=other["arn"]))
    assert code == "ResourceInUseException" and other_arn in message
    personalize.delete_metric_attribution(metricAttributionArn=other_arn)
    personalize.delete_dataset_group(datasetGroupArn=other["arn"])
    assert personalize.delete_metric_attribution(metricAttributionArn=arn)["ResponseMetadata"]["HTTPStatusCode"] \
        == 200
    code, message = error_code_and_message(lambda: personalize.describe_metric_attribution(metricAttributionArn=arn))
    assert (code, message) == ("ResourceNotFoundException", f"Resource {arn} does not exist.")
    assert personalize.list_metric_attributions(datasetGroupArn=group["arn"])["metricAttributions"] == []


def test_create_errors(personalize, schemas, bucket):
    group = new_group(personalize, schemas, "interactions", "items")
    arn = group["arn"]

    def create(metrics, group_arn=arn, config=None, name=None):
        return lambda: personalize.create_metric_attribution(
            name=name or unique("ma"), datasetGroupArn=group_arn, metrics=metrics,
            metricsOutputConfig=config or output_config(bucket))

    missing = arn + "-absent"
    assert error_code_and_message(create(METRICS, missing)) == (
        "ResourceNotFoundException", f"Resource {missing} does not exist.")
    assert error_code_and_message(create([{**METRICS[1], "expression": "AVG(Items.PRICE)"}])) == (
        "InvalidInputException", "The expression AVG(Items.PRICE) of the metric REVENUE is not valid: use "
                                 "SUM(Interactions.COLUMN), SUM(Items.COLUMN) or SAMPLECOUNT().")
    assert error_code_and_message(create([{**METRICS[1], "expression": "SUM(Users.AGE)"}])) == (
        "InvalidInputException", "The expression SUM(Users.AGE) of the metric REVENUE sums a column of Users: SUM() "
                                 "takes a column of the Interactions or the Items dataset.")
    assert error_code_and_message(create([{**METRICS[1], "expression": "SUM(Items.COST)"}])) == (
        "InvalidInputException", "The expression SUM(Items.COST) of the metric REVENUE names the column COST, which "
                                 "the Items dataset's schema does not have.")
    assert error_code_and_message(create([{**METRICS[1], "expression": "SUM(Items.GENRES)"}])) == (
        "InvalidInputException", "The expression SUM(Items.GENRES) of the metric REVENUE sums the column GENRES, "
                                 "which is of type string: SUM() takes a numeric column (int, long, float or "
                                 "double).")
    assert error_code_and_message(create([METRICS[0], {**METRICS[1], "metricName": "CLICKS"}])) == (
        "InvalidInputException", "The metric name CLICKS is given more than once: metric names must be unique within "
                                 "a metric attribution.")
    code, message = error_code_and_message(create([{**METRICS[0], "metricName": f"M{index}"}
                                                   for index in range(11)]))
    assert code == "ValidationException"  # the model's list limit, checked before the operation
    assert "at 'metrics' failed to satisfy constraint: Member must have length less than or equal to 10" in message
    code, message = error_code_and_message(create(METRICS, config={
        "roleArn": ROLE, "s3DataDestination": {"path": f"s3://{bucket}/r/",
                                               "kmsKeyArn": "arn:aws:kms:us-east-1:000000000000:key/k"}}))
    assert code == "NotImplementedException" and "kmsKeyArn" in message

    items_only = new_group(personalize, schemas, "items")
    assert error_code_and_message(create(METRICS, items_only["arn"])) == (
        "InvalidInputException", f"The dataset group {items_only['arn']} has no Interactions dataset: a metric "
                                 f"attribution reports on interactions.")
    no_items = new_group(personalize, schemas, "interactions")
    assert error_code_and_message(create(METRICS[1:2], no_items["arn"])) == (
        "InvalidInputException", "The expression SUM(Items.PRICE) of the metric REVENUE sums a column of the Items "
                                 "dataset, which the dataset group does not have.")
    no_type = new_group(personalize, schemas, "no-event-type")
    assert error_code_and_message(create(METRICS[:1], no_type["arn"])) == (
        "InvalidInputException", f"The Interactions dataset {no_type['no-event-type']} has no EVENT_TYPE column, "
                                 f"which a metric attribution needs.")

    name = unique("ma")
    first = personalize.create_metric_attribution(name=name, datasetGroupArn=arn, metrics=METRICS,
                                                  metricsOutputConfig=output_config(bucket))["metricAttributionArn"]
    assert error_code_and_message(create(METRICS[:1])) == (
        "LimitExceededException", f"The dataset group {arn} already has the metric attribution {first}; a dataset "
                                  f"group can have at most 1.")
    assert error_code_and_message(create(METRICS[:1], no_items["arn"], name=name)) == (
        "ResourceAlreadyExistsException", f"Resource {first} already exists.")


def test_update_errors(personalize, schemas, bucket):
    group = new_group(personalize, schemas, "interactions", "items")
    arn = personalize.create_metric_attribution(name=unique("ma"), datasetGroupArn=group["arn"], metrics=METRICS,
                                                metricsOutputConfig=output_config(bucket))["metricAttributionArn"]
    assert error_code_and_message(lambda: personalize.update_metric_attribution(
        metricAttributionArn=arn, removeMetrics=["NOPE"])) == (
        "InvalidInputException", f"The metric attribution {arn} has no metric named NOPE to remove; its metrics are "
                                 f"CLICKS, REVENUE, VALUE.")
    assert error_code_and_message(lambda: personalize.update_metric_attribution(
        metricAttributionArn=arn, addMetrics=[METRICS[0]])) == (
        "ResourceAlreadyExistsException", f"The metric attribution {arn} already has a metric named CLICKS.")
    assert error_code_and_message(lambda: personalize.update_metric_attribution(
        metricAttributionArn=arn, addMetrics=[{**METRICS[0], "metricName": f"M{index}"} for index in range(8)])) == (
        "InvalidInputException", f"The update would give the metric attribution {arn} 11 metrics; it can have at most "
                                 f"10.")
    assert error_code_and_message(lambda: personalize.update_metric_attribution(
        metricAttributionArn=arn, addMetrics=[{**METRICS[0], "metricName": "X", "expression": "SUM(Items.NONE)"}])) \
        == ("InvalidInputException", "The expression SUM(Items.NONE) of the metric X names the column NONE, which the "
                                     "Items dataset's schema does not have.")
    missing = arn + "-absent"
    assert error_code_and_message(lambda: personalize.update_metric_attribution(
        metricAttributionArn=missing, removeMetrics=["CLICKS"])) == (
        "ResourceNotFoundException", f"Resource {missing} does not exist.")
    # nothing was changed by the refused updates
    assert personalize.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"] == METRICS


def test_publishing_needs_an_attribution_with_an_s3_path(personalize, schemas, bucket):
    group = new_group(personalize, schemas, "interactions", "items")

    def publish(dataset):
        return lambda: personalize.create_dataset_import_job(
            jobName=unique("import"), datasetArn=dataset, roleArn=ROLE, publishAttributionMetricsToS3=True,
            dataSource={"dataLocation": f"s3://{bucket}/in/interactions.csv"})

    assert error_code_and_message(publish(group["interactions"])) == (
        "InvalidInputException", f"publishAttributionMetricsToS3 needs a metric attribution, and the dataset group "
                                 f"{group['arn']} has none: create one with an s3DataDestination first.")
    arn = personalize.create_metric_attribution(name=unique("ma"), datasetGroupArn=group["arn"], metrics=METRICS,
                                                metricsOutputConfig=output_config(None))["metricAttributionArn"]
    assert error_code_and_message(publish(group["interactions"])) == (
        "InvalidInputException", f"publishAttributionMetricsToS3 needs an S3 path, and the metric attribution {arn} "
                                 f"has no metricsOutputConfig.s3DataDestination.")
    assert error_code_and_message(publish(group["items"])) == (
        "InvalidInputException", f"publishAttributionMetricsToS3 is for imports into an Interactions dataset; "
                                 f"{group['items']} is an Items dataset.")


def test_put_events_keeps_the_event_attribution_source(gateway, personalize, schemas):
    group = new_group(personalize, schemas, "interactions")
    tracking = personalize.create_event_tracker(name=unique("tracker"), datasetGroupArn=group["arn"])["trackingId"]
    gateway.client("personalize-events").put_events(trackingId=tracking, userId="u1", sessionId="s1", eventList=[
        {"eventType": "click", "itemId": "i1", "sentAt": W0, "metricAttribution": {"eventAttributionSource": "emailX"}},
        {"eventType": "click", "itemId": "i2", "sentAt": W0 + 1}])
    # PutEvents answers nothing to read it back by: the recorded interactions' row is where it lives
    with sqlite3.connect(gateway.data_dir / "aigate.sqlite") as db:
        rows = db.execute("SELECT item_id, properties FROM personalize_events WHERE dataset_group_arn = ? "
                          "ORDER BY id", (group["arn"],)).fetchall()
    assert [(item, json.loads(properties) if properties else None) for item, properties in rows] == [
        ("i1", {"EVENT_ATTRIBUTION_SOURCE": "emailX"}), ("i2", None)]
