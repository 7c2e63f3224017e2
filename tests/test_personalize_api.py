"""Amazon Personalize's API conventions through boto3, on small resources that need no training: tags, paging,
deletion rules, the errors of personalize-events, and validation of requests that AWS refuses."""

from __future__ import annotations

import json

import pytest
import requests

from tests.helpers import error_code_and_message, unique

ITEMS_SCHEMA = {"type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
                "fields": [{"name": "ITEM_ID", "type": "string"},
                           {"name": "GENRES", "type": ["null", "string"], "categorical": True}], "version": "1.0"}
ROLE = "arn:aws:iam::000000000000:role/personalize"
INTERACTIONS_SCHEMA = {"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
                       "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                                  {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}


@pytest.fixture(scope="module")
def personalize(gateway):
    return gateway.client("personalize")


@pytest.fixture(scope="module")
def events(gateway):
    return gateway.client("personalize-events")


@pytest.fixture(scope="module")
def group(personalize):
    """A dataset group with an Items and an Interactions dataset, and an event tracker."""
    arn = personalize.create_dataset_group(name=unique("api"))["datasetGroupArn"]
    items = personalize.create_schema(name=unique("items"), schema=json.dumps(ITEMS_SCHEMA))["schemaArn"]
    interactions = personalize.create_schema(name=unique("inter"), schema=json.dumps(INTERACTIONS_SCHEMA))["schemaArn"]
    items_dataset = personalize.create_dataset(name="items", schemaArn=items, datasetGroupArn=arn,
                                               datasetType="Items")["datasetArn"]
    personalize.create_dataset(name="interactions", schemaArn=interactions, datasetGroupArn=arn,
                               datasetType="Interactions")
    tracker = personalize.create_event_tracker(name=unique("tracker"), datasetGroupArn=arn)
    return {"arn": arn, "items": items_dataset, "items_schema": items, "tracker": tracker}


def test_tags_on_create_and_through_the_tag_operations(personalize):
    arn = personalize.create_dataset_group(name=unique("tagged"), tags=[
        {"tagKey": "team", "tagValue": "recs"}])["datasetGroupArn"]
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "team", "tagValue": "recs"}]
    personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "stage", "tagValue": "test"}])
    personalize.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "stage", "tagValue": "test"}]
    code, _ = error_code_and_message(lambda: personalize.tag_resource(resourceArn=arn, tags=[
        {"tagKey": f"k{index}", "tagValue": "v"} for index in range(50)]))
    assert code == "TooManyTagsException"
    missing = arn + "-absent"
    code, message = error_code_and_message(lambda: personalize.list_tags_for_resource(resourceArn=missing))
    assert code == "ResourceNotFoundException" and missing in message
    # botocore's model gives the ARN a pattern: a string that is not one fails the model's validation
    code, _ = error_code_and_message(lambda: personalize.list_tags_for_resource(resourceArn="not-an-arn"))
    assert code == "ValidationException"


def test_list_pages_with_next_tokens(personalize):
    made = [personalize.create_schema(name=unique("paged"), schema=json.dumps(ITEMS_SCHEMA))["schemaArn"]
            for _ in range(3)]
    first = personalize.list_schemas(maxResults=2)
    assert len(first["schemas"]) == 2 and first["nextToken"]
    seen = {entry["schemaArn"] for page in personalize.get_paginator("list_schemas").paginate(
        PaginationConfig={"PageSize": 2}) for entry in page["schemas"]}
    assert set(made) <= seen
    code, _ = error_code_and_message(lambda: personalize.list_schemas(nextToken="garbage"))
    assert code == "InvalidNextTokenException"


def test_deletion_follows_the_dependency_rules(personalize, group):
    code, message = error_code_and_message(lambda: personalize.delete_dataset_group(datasetGroupArn=group["arn"]))
    assert code == "ResourceInUseException" and group["arn"] in message
    code, _ = error_code_and_message(lambda: personalize.delete_schema(schemaArn=group["items_schema"]))
    assert code == "ResourceInUseException"
    lonely = personalize.create_dataset_group(name=unique("lonely"))["datasetGroupArn"]
    personalize.delete_dataset_group(datasetGroupArn=lonely)
    code, _ = error_code_and_message(lambda: personalize.describe_dataset_group(datasetGroupArn=lonely))
    assert code == "ResourceNotFoundException"


def test_requests_aws_refuses(personalize, group):
    checks = [
        (lambda: personalize.create_dataset(name="again", schemaArn=group["items_schema"], datasetGroupArn=group["arn"],
                                            datasetType="Items"), "ResourceAlreadyExistsException"),
        (lambda: personalize.create_dataset(name="x", schemaArn=group["items_schema"], datasetGroupArn=group["arn"],
                                            datasetType="Things"), "InvalidInputException"),
        (lambda: personalize.create_solution(name=unique("s"), datasetGroupArn=group["arn"],
                                             recipeArn="arn:aws:personalize:::recipe/aws-no-such-recipe"),
         "ResourceNotFoundException"),
        (lambda: personalize.create_solution(name=unique("s"), datasetGroupArn=group["arn"],
                                             recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
                                             solutionConfig={"algorithmHyperParameters": {"no_such": "1"}}),
         "InvalidInputException"),
        (lambda: personalize.create_solution(name=unique("s"), datasetGroupArn=group["arn"],
                                             recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
                                             solutionConfig={"algorithmHyperParameters": {"algorithm": "magic"}}),
         "InvalidInputException"),
        (lambda: personalize.create_solution(name=unique("s"), datasetGroupArn=group["arn"], performHPO=True,
                                             recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
                                             solutionConfig={"hpoConfig": {"hpoResourceConfig": {
                                                 "maxNumberOfTrainingJobs": "many"}}}),
         "InvalidInputException"),
        (lambda: personalize.create_solution(name=unique("s"), datasetGroupArn=group["arn"],
                                             recipeArn="arn:aws:personalize:::recipe/aws-vod-top-picks"),
         "InvalidInputException"),
        (lambda: personalize.create_dataset_group(name=unique("g"), domain="GROCERY"), "ValidationException"),
        (lambda: personalize.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-none"),
         "ResourceNotFoundException"),
        (lambda: personalize.create_filter(name=unique("f"), datasetGroupArn=group["arn"],
                                           filterExpression='EXCLUDE ItemID WHERE Users.AGE IN ("1")'),
         "InvalidInputException"),
        (lambda: personalize.create_dataset_import_job(jobName=unique("j"), datasetArn=group["items"], roleArn=ROLE,
                                                       dataSource={"dataLocation": "https://example.com/x.csv"}),
         "InvalidInputException"),  # no fetching of arbitrary URLs
        (lambda: personalize.create_dataset_import_job(jobName=unique("j"), datasetArn=group["items"], roleArn=ROLE,
                                                       dataSource={"dataLocation": "/etc/passwd"}),
         "ValidationException"),
        (lambda: personalize.create_recommender(name=unique("r"), datasetGroupArn=group["arn"],
                                                recipeArn="arn:aws:personalize:::recipe/aws-vod-top-picks"),
         "InvalidInputException"),
    ]
    for call, expected in checks:
        code, message = error_code_and_message(call)
        assert code == expected, message
    als = personalize.create_solution(name=unique("als"), datasetGroupArn=group["arn"],
                                      recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
                                      solutionConfig={"algorithmHyperParameters": {"algorithm": "als"}})
    described = personalize.describe_solution(solutionArn=als["solutionArn"])["solution"]
    assert described["solutionConfig"]["algorithmHyperParameters"] == {"algorithm": "als"}
    code, message = error_code_and_message(lambda: personalize.create_schema(name=unique("bad"), schema=json.dumps(
        {**ITEMS_SCHEMA, "fields": [{"name": "ITEM_ID", "type": "bytes"}]})))
    assert code == "InvalidInputException" and "ITEM_ID" in message


def test_events_errors(events, group):
    tracking = group["tracker"]["trackingId"]
    code, _ = error_code_and_message(lambda: events.put_events(
        trackingId="00000000-0000-0000-0000-000000000000", sessionId="s",
        eventList=[{"eventType": "click", "itemId": "1", "sentAt": 1_700_000_000}]))
    assert code == "ResourceNotFoundException"
    code, message = error_code_and_message(lambda: events.put_events(
        trackingId=tracking, sessionId="s", userId="u",
        eventList=[{"eventType": "click", "itemId": "1", "sentAt": 1_700_000_000, "properties": "{not json"}]))
    assert code == "InvalidInputException" and "JSON" in message
    code, message = error_code_and_message(lambda: events.put_items(datasetArn=group["items"], items=[
        {"itemId": "1", "properties": json.dumps({"noSuchField": "x"})}]))
    assert code == "InvalidInputException" and "noSuchField" in message
    events.put_items(datasetArn=group["items"], items=[{"itemId": "1", "properties": json.dumps({"genres": "A|B"})}])
    code, _ = error_code_and_message(lambda: events.put_users(datasetArn=group["items"], users=[{"userId": "1"}]))
    assert code == "InvalidInputException"


def test_malformed_json_is_refused_as_aws_does(gateway):
    response = requests.post(f"{gateway.url}/", data=b"{not json", timeout=10, headers={
        "X-Amz-Target": "AmazonPersonalize.ListDatasetGroups", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/personalize/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    assert response.status_code == 400
    assert response.json()["__type"].endswith("SerializationException")
