"""Personalize's automatic training (performAutoTraining, on by default as on AWS).

The schedule itself (services/personalize/autotrain.py) is checked on a clock given by the test: the first
automatic training an hour after the solution is ACTIVE, skipped when a version was trained by hand within that
hour, then one every `rate(N days)`. Through boto3, a gateway of its own whose first automatic training comes 2 s
after creation (AIGATE_PERSONALIZE_AUTO_TRAINING_DELAY_S, the hour on AWS) and whose periodic tick runs every second
trains an AUTOMATIC version by itself, leaves alone a solution trained by hand within that time and one with
automatic training off, and answers UpdateSolution with latestSolutionUpdate."""

from __future__ import annotations

import datetime as dt
import json
import random
import time

import pytest
import requests

from services.personalize import autotrain
from services.personalize.autotrain import AUTOMATIC, MANUAL
from services.personalize.errors import InvalidInput
from tests.conftest import GatewayProcess
from tests.helpers import error_code_and_message, poll, wait_for_status

ROLE = "arn:aws:iam::000000000000:role/personalize"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
TERMINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")
SCHEMA = {"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
          "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                     {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


def test_schedule_days_reads_rate_expressions():
    assert autotrain.schedule_days(None) == 7 and autotrain.schedule_days({}) == 7
    assert autotrain.schedule_days({"schedulingExpression": "rate(1 day)"}) == 1
    assert autotrain.schedule_days({"schedulingExpression": "rate(30 days)"}) == 30
    for bad in ("rate(0 days)", "rate(31 days)", "rate(5 hours)", "cron(0 0 * * ? *)"):
        with pytest.raises(InvalidInput, match="rate\\(value days\\) with a value from 1 to 30"):
            autotrain.schedule_days({"schedulingExpression": bad})


def test_due_slots_follow_awss_schedule():
    delay = 3600
    first = T0 + HOUR
    assert autotrain.due_slot(T0, 7, delay, [], T0 + 59 * dt.timedelta(minutes=1)) is None  # within the hour
    assert autotrain.due_slot(T0, 7, delay, [], T0 + HOUR) == first
    # A version by hand within the hour skips the first automatic training; the next slot is N days on.
    by_hand = [(T0 + dt.timedelta(minutes=10), MANUAL)]
    assert autotrain.due_slot(T0, 7, delay, by_hand, T0 + 2 * HOUR) is None
    assert autotrain.due_slot(T0, 7, delay, by_hand, first + 7 * DAY) == first + 7 * DAY
    # One automatic version per slot, however many ticks see it.
    served = [(first + dt.timedelta(seconds=5), AUTOMATIC)]
    assert autotrain.due_slot(T0, 7, delay, served, first + 3 * DAY) is None
    assert autotrain.due_slot(T0, 7, delay, served, first + 7 * DAY + HOUR) == first + 7 * DAY
    assert autotrain.due_slot(T0, 2, delay, served, first + 5 * DAY) == first + 4 * DAY
    # A manual version after the first hour does not move the schedule.
    later = served + [(first + 2 * DAY, MANUAL)]
    assert autotrain.due_slot(T0, 7, delay, later, first + 7 * DAY) == first + 7 * DAY


def interactions_csv() -> bytes:
    """1,500 interactions of 60 users with 40 items, more popular the lower their number: past AWS's minimums."""
    rng = random.Random(7)
    rows = ["USER_ID,ITEM_ID,TIMESTAMP"]
    for n in range(1500):
        item = min(int(rng.expovariate(0.1)), 39)
        rows.append(f"u{n % 60},i{item},{1_700_000_000 + n * 60}")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture(scope="module")
def autotraining_gateway(tmp_path_factory):
    data = tmp_path_factory.mktemp("autotrain") / "data"
    gateway = GatewayProcess(data, env={"AIGATE_PERIODIC_INTERVAL_S": "1",
                                        "AIGATE_PERSONALIZE_AUTO_TRAINING_DELAY_S": "2"}).start()
    yield gateway
    gateway.stop()


def test_solutions_train_themselves_as_scheduled(autotraining_gateway):
    gateway = autotraining_gateway
    personalize = gateway.client("personalize")
    response = requests.put(f"{gateway.url}/v1/blobs/auto/interactions.csv", data=interactions_csv(), timeout=60)
    assert response.status_code == 200, response.text
    group = personalize.create_dataset_group(name="auto")["datasetGroupArn"]
    schema = personalize.create_schema(name="auto", schema=json.dumps(SCHEMA))["schemaArn"]
    dataset = personalize.create_dataset(name="auto", schemaArn=schema, datasetGroupArn=group,
                                         datasetType="Interactions")["datasetArn"]
    job = personalize.create_dataset_import_job(jobName="auto", datasetArn=dataset, roleArn=ROLE,
                                                dataSource={"dataLocation": "s3://auto/interactions.csv"})
    done = wait_for_status(lambda: personalize.describe_dataset_import_job(
        datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"], "status", TERMINAL, timeout=120)
    assert done["status"] == "ACTIVE", done.get("failureReason")

    automatic = personalize.create_solution(
        name="automatic", datasetGroupArn=group, recipeArn=POPULARITY,
        solutionConfig={"autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}})["solutionArn"]
    by_hand = personalize.create_solution(name="by-hand", datasetGroupArn=group, recipeArn=POPULARITY)["solutionArn"]
    manual_version = personalize.create_solution_version(solutionArn=by_hand)["solutionVersionArn"]
    off = personalize.create_solution(name="off", datasetGroupArn=group, recipeArn=POPULARITY,
                                      performAutoTraining=False)["solutionArn"]
    solution = personalize.describe_solution(solutionArn=automatic)["solution"]
    assert solution["performAutoTraining"] is True  # AWS's default
    assert solution["solutionConfig"]["autoTrainingConfig"] == {"schedulingExpression": "rate(3 days)"}
    assert personalize.describe_solution(solutionArn=off)["solution"]["performAutoTraining"] is False
    assert personalize.list_solution_versions(solutionArn=automatic)["solutionVersions"] == []

    versions = poll(lambda: personalize.list_solution_versions(solutionArn=automatic)["solutionVersions"],
                    timeout=60, interval=0.5)
    assert len(versions) == 1
    summary = versions[0]
    assert summary["trainingType"] == "AUTOMATIC" and summary["trainingMode"] == "AUTOTRAIN"
    version = wait_for_status(lambda: personalize.describe_solution_version(
        solutionVersionArn=summary["solutionVersionArn"])["solutionVersion"], "status", TERMINAL, timeout=120)
    assert version["status"] == "ACTIVE", version.get("failureReason")
    assert version["trainingType"] == "AUTOMATIC" and version["recipeArn"] == POPULARITY
    assert personalize.describe_solution(solutionArn=automatic)["solution"]["latestSolutionVersion"][
        "solutionVersionArn"] == summary["solutionVersionArn"]

    time.sleep(3)  # further ticks: the slot is served, the next one is three days on
    assert len(personalize.list_solution_versions(solutionArn=automatic)["solutionVersions"]) == 1
    trained_by_hand = personalize.list_solution_versions(solutionArn=by_hand)["solutionVersions"]
    assert [(v["solutionVersionArn"], v["trainingType"]) for v in trained_by_hand] == [(manual_version, "MANUAL")]
    assert personalize.list_solution_versions(solutionArn=off)["solutionVersions"] == []

    # Turning it on counts the first automatic training from the update.
    personalize.update_solution(solutionArn=off, performAutoTraining=True,
                                solutionUpdateConfig={"autoTrainingConfig": {"schedulingExpression": "rate(1 day)"}})
    updated = personalize.describe_solution(solutionArn=off)["solution"]
    assert updated["performAutoTraining"] is True
    assert updated["latestSolutionUpdate"]["status"] == "ACTIVE"
    assert updated["latestSolutionUpdate"]["performAutoTraining"] is True
    assert updated["latestSolutionUpdate"]["solutionUpdateConfig"] == {
        "autoTrainingConfig": {"schedulingExpression": "rate(1 day)"}}
    assert {"creationDateTime", "lastUpdatedDateTime"} <= set(updated["latestSolutionUpdate"])
    started = poll(lambda: personalize.list_solution_versions(solutionArn=off)["solutionVersions"], timeout=60,
                   interval=0.5)
    assert [v["trainingType"] for v in started] == ["AUTOMATIC"]

    assert error_code_and_message(lambda: personalize.update_solution(
        solutionArn=automatic, solutionUpdateConfig={"autoTrainingConfig": {"schedulingExpression": "rate(31 days)"}}
    )) == ("InvalidInputException", "The schedulingExpression rate(31 days) is not valid: give rate(value days) with "
                                     "a value from 1 to 30.")
    assert error_code_and_message(lambda: personalize.create_solution(
        name="bad-rate", datasetGroupArn=group, recipeArn=POPULARITY,
        solutionConfig={"autoTrainingConfig": {"schedulingExpression": "rate(0 days)"}}))[0] == "InvalidInputException"
