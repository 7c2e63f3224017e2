"""Custom classification and custom entity recognition through unmodified boto3: training from labelled CSVs in
S3 as a job, metrics in Describe*, endpoints for real-time ClassifyDocument / DetectEntities, classification and
entity jobs with the trained models, list/delete, and the errors for bad input."""

from __future__ import annotations

import csv
import io
import json
import random
import tarfile
import uuid

import pytest

from tests.helpers import COMPREHEND_ROLE as ROLE
from tests.helpers import wait_for_comprehend_job, wait_for_status

TOPICS = {
    "SPORTS": (["The striker", "Our goalkeeper", "The coach", "The home team", "The tennis champion", "The runner"],
               ["scored twice in the second half", "won the league final", "trained hard before the match",
                "broke the national record at the stadium", "was injured during the tournament"]),
    "FINANCE": (["The central bank", "Investors", "The stock market", "The company's shareholders", "Bond traders"],
                ["raised interest rates again", "worried about inflation and earnings",
                 "sold shares after the quarterly report", "expect higher dividends this year",
                 "moved money into government bonds"]),
    "COOKING": (["The chef", "My grandmother", "This recipe", "The bakery", "Our kitchen team"],
                ["baked fresh bread with garlic and butter", "simmered the tomato sauce for hours",
                 "roasted the vegetables in olive oil", "whisked eggs and sugar for the cake",
                 "seasoned the soup with pepper and herbs"]),
}


def documents(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice(sorted(TOPICS))
        subjects, predicates = TOPICS[label]
        rows.append((label, f"{rng.choice(subjects)} {rng.choice(predicates)}."))
    return rows


def to_csv(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture(scope="module")
def cp(gateway):
    return gateway.client("comprehend", read_timeout=600)


def wait_model(describe, key: str, timeout: float = 300) -> dict:
    """The model's properties (`describe()[key]`) once its training has ended."""
    return wait_for_status(lambda: describe()[key], "Status", ("TRAINED", "IN_ERROR", "STOPPED"), timeout, 0.3,
                           what="training to end")


def test_multi_class_classifier_endpoint_and_job(cp, s3, bucket):
    s3.put_object(Bucket=bucket, Key="train/data.csv", Body=to_csv(documents(1, 120)))
    name = f"topics-{uuid.uuid4().hex[:6]}"
    arn = cp.create_document_classifier(
        DocumentClassifierName=name, DataAccessRoleArn=ROLE, LanguageCode="en",
        InputDataConfig={"S3Uri": f"s3://{bucket}/train/data.csv"},
        OutputDataConfig={"S3Uri": f"s3://{bucket}/model-out/"})["DocumentClassifierArn"]
    assert arn.endswith(f":document-classifier/{name}")
    props = wait_model(lambda: cp.describe_document_classifier(DocumentClassifierArn=arn),
                       "DocumentClassifierProperties")
    assert props["Status"] == "TRAINED", props
    meta = props["ClassifierMetadata"]
    assert meta["NumberOfLabels"] == 3 and meta["NumberOfTestDocuments"] == 12
    assert meta["NumberOfTrainedDocuments"] == 108
    metrics = meta["EvaluationMetrics"]
    assert metrics["Accuracy"] >= 0.9 and metrics["F1Score"] >= 0.9
    assert props["TrainingEndTime"] >= props["TrainingStartTime"]
    # Per-label metrics and the confusion matrix go to the output folder, as AWS writes them.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="model-out/")["Contents"]
    archive = s3.get_object(Bucket=bucket, Key=listed[0]["Key"])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        confusion = json.loads(tar.extractfile("confusion_matrix.json").read())
    assert confusion["labels"] == ["COOKING", "FINANCE", "SPORTS"]
    assert set(confusion["per_label_metrics"]["SPORTS"]) >= {"Precision", "Recall", "F1Score"}

    endpoint = cp.create_endpoint(EndpointName=f"ep-{name}", ModelArn=arn, DesiredInferenceUnits=1)["EndpointArn"]
    assert cp.describe_endpoint(EndpointArn=endpoint)["EndpointProperties"]["Status"] == "IN_SERVICE"
    result = cp.classify_document(Text="The goalkeeper saved a penalty in the cup final.", EndpointArn=endpoint)
    assert result["Classes"][0]["Name"] == "SPORTS"
    assert abs(sum(c["Score"] for c in result["Classes"]) - 1) < 0.01
    result = cp.classify_document(Text="Shareholders fear that inflation will hurt earnings.", EndpointArn=endpoint)
    assert result["Classes"][0]["Name"] == "FINANCE"

    with pytest.raises(cp.exceptions.ResourceInUseException):
        cp.delete_document_classifier(DocumentClassifierArn=arn)

    s3.put_object(Bucket=bucket, Key="classify/docs.txt",
                  Body=b"The chef baked a lemon cake with butter.\nThe bank cut interest rates.\n")
    job = cp.start_document_classification_job(
        DocumentClassifierArn=arn, DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": f"s3://{bucket}/classify/", "InputFormat": "ONE_DOC_PER_LINE"},
        OutputDataConfig={"S3Uri": f"s3://{bucket}/cls-out/"})
    job_props = wait_for_comprehend_job(cp, "document_classification", job["JobId"], timeout=120,
                                        terminal=("COMPLETED", "FAILED"))
    assert job_props["JobStatus"] == "COMPLETED", job_props
    assert job_props["DocumentClassifierArn"] == arn
    key = job_props["OutputDataConfig"]["S3Uri"].split("/", 3)[3]
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()), mode="r:gz") as tar:
        lines = [json.loads(line) for line in tar.extractfile("output").read().decode().splitlines()]
    assert [line["Classes"][0]["Name"] for line in lines] == ["COOKING", "FINANCE"]

    cp.delete_endpoint(EndpointArn=endpoint)
    names = [c["DocumentClassifierArn"] for c in cp.list_document_classifiers()["DocumentClassifierPropertiesList"]]
    assert arn in names
    summaries = cp.list_document_classifier_summaries()["DocumentClassifierSummariesList"]
    assert any(s["DocumentClassifierName"] == name and s["LatestVersionStatus"] == "TRAINED" for s in summaries)
    cp.delete_document_classifier(DocumentClassifierArn=arn)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.describe_document_classifier(DocumentClassifierArn=arn)


def test_multi_label_classifier(cp, s3, bucket):
    rng = random.Random(7)
    rows = []
    for _ in range(150):
        labels = sorted(rng.sample(sorted(TOPICS), rng.choice([1, 2])))
        text = " ".join(f"{rng.choice(TOPICS[label][0])} {rng.choice(TOPICS[label][1])}." for label in labels)
        rows.append(("|".join(labels), text))
    s3.put_object(Bucket=bucket, Key="ml/data.csv", Body=to_csv(rows))
    name = f"multi-{uuid.uuid4().hex[:6]}"
    arn = cp.create_document_classifier(
        DocumentClassifierName=name, DataAccessRoleArn=ROLE, LanguageCode="en", Mode="MULTI_LABEL",
        InputDataConfig={"S3Uri": f"s3://{bucket}/ml/data.csv", "LabelDelimiter": "|"})["DocumentClassifierArn"]
    props = wait_model(lambda: cp.describe_document_classifier(DocumentClassifierArn=arn),
                       "DocumentClassifierProperties")
    assert props["Status"] == "TRAINED", props
    assert props["Mode"] == "MULTI_LABEL"
    metrics = props["ClassifierMetadata"]["EvaluationMetrics"]
    assert "HammingLoss" in metrics and metrics["MicroF1Score"] >= 0.8
    endpoint = cp.create_endpoint(EndpointName=f"ep-{name}", ModelArn=arn, DesiredInferenceUnits=1)["EndpointArn"]
    result = cp.classify_document(
        Text="The striker scored in the final. Investors worried about inflation and earnings.", EndpointArn=endpoint)
    top = {label["Name"] for label in result["Labels"] if label["Score"] >= 0.5}
    assert top == {"SPORTS", "FINANCE"}, result
    cp.delete_endpoint(EndpointArn=endpoint)


def test_classifier_errors(cp, s3, bucket):
    s3.put_object(Bucket=bucket, Key="one/data.csv", Body=to_csv([("ONLY", "a document"), ("ONLY", "another")]))
    arn = cp.create_document_classifier(
        DocumentClassifierName=f"bad-{uuid.uuid4().hex[:6]}", DataAccessRoleArn=ROLE, LanguageCode="en",
        InputDataConfig={"S3Uri": f"s3://{bucket}/one/data.csv"})["DocumentClassifierArn"]
    props = wait_model(lambda: cp.describe_document_classifier(DocumentClassifierArn=arn),
                       "DocumentClassifierProperties")
    assert props["Status"] == "IN_ERROR" and "at least 2 labels" in props["Message"]
    with pytest.raises(cp.exceptions.ResourceUnavailableException):
        cp.create_endpoint(EndpointName="never", ModelArn=arn, DesiredInferenceUnits=1)
    job_args = dict(DataAccessRoleArn=ROLE, InputDataConfig={"S3Uri": f"s3://{bucket}/one/"},
                    OutputDataConfig={"S3Uri": f"s3://{bucket}/out/"})
    with pytest.raises(cp.exceptions.ResourceUnavailableException):
        cp.start_document_classification_job(DocumentClassifierArn=arn, **job_args)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.start_document_classification_job(
            DocumentClassifierArn="arn:aws:comprehend:us-east-1:000000000000:document-classifier/nope", **job_args)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.start_entities_detection_job(
            EntityRecognizerArn="arn:aws:comprehend:us-east-1:000000000000:entity-recognizer/nope", LanguageCode="en",
            **job_args)
    with pytest.raises(cp.exceptions.UnsupportedLanguageException):
        cp.create_document_classifier(DocumentClassifierName="german", DataAccessRoleArn=ROLE, LanguageCode="de",
                                      InputDataConfig={"S3Uri": f"s3://{bucket}/one/data.csv"})
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.describe_document_classifier(
            DocumentClassifierArn="arn:aws:comprehend:us-east-1:000000000000:document-classifier/nope")
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.classify_document(
            Text="hello", EndpointArn="arn:aws:comprehend:us-east-1:000000000000:document-classifier-endpoint/nope")


def test_entity_recognizer_from_entity_list(cp, s3, bucket):
    s3.put_object(Bucket=bucket, Key="er/entities.csv",
                  Body=b"Text,Type\nAquaPure 3000,PRODUCT\nHydroMax,PRODUCT\nTurbo Filter X,PRODUCT\n")
    docs = ["I bought the AquaPure 3000 last week.", "The hydromax leaks after a month.",
            "Replace the Turbo Filter X every six months.", "Nothing to see here."] * 3
    s3.put_object(Bucket=bucket, Key="er/docs.txt", Body="\n".join(docs).encode())
    name = f"products-{uuid.uuid4().hex[:6]}"
    arn = cp.create_entity_recognizer(
        RecognizerName=name, DataAccessRoleArn=ROLE, LanguageCode="en",
        InputDataConfig={"EntityTypes": [{"Type": "PRODUCT"}], "Documents": {"S3Uri": f"s3://{bucket}/er/docs.txt"},
                         "EntityList": {"S3Uri": f"s3://{bucket}/er/entities.csv"}})["EntityRecognizerArn"]
    props = wait_model(lambda: cp.describe_entity_recognizer(EntityRecognizerArn=arn), "EntityRecognizerProperties")
    assert props["Status"] == "TRAINED", props
    assert props["RecognizerMetadata"]["EntityTypes"][0]["Type"] == "PRODUCT"
    endpoint = cp.create_endpoint(EndpointName=f"ep-{name}", ModelArn=arn, DesiredInferenceUnits=1)["EndpointArn"]
    assert ":entity-recognizer-endpoint/" in endpoint
    text = "Does the HYDROMAX fit the Turbo Filter X housing?"
    entities = cp.detect_entities(Text=text, EndpointArn=endpoint)["Entities"]
    assert [(e["Text"], e["Type"]) for e in entities] == [("HYDROMAX", "PRODUCT"), ("Turbo Filter X", "PRODUCT")]
    assert all(text[e["BeginOffset"]:e["EndOffset"]] == e["Text"] for e in entities)

    s3.put_object(Bucket=bucket, Key="erjob/a.txt", Body=b"My AquaPure 3000 broke.")
    job = cp.start_entities_detection_job(
        EntityRecognizerArn=arn, LanguageCode="en", DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": f"s3://{bucket}/erjob/"}, OutputDataConfig={"S3Uri": f"s3://{bucket}/erout/"})
    job_props = wait_for_comprehend_job(cp, "entities_detection", job["JobId"], timeout=120,
                                        terminal=("COMPLETED", "FAILED"))
    assert job_props["JobStatus"] == "COMPLETED", job_props
    assert job_props["EntityRecognizerArn"] == arn
    key = job_props["OutputDataConfig"]["S3Uri"].split("/", 3)[3]
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()), mode="r:gz") as tar:
        line = json.loads(tar.extractfile("output").read().decode().splitlines()[0])
    assert [(e["Text"], e["Type"]) for e in line["Entities"]] == [("AquaPure 3000", "PRODUCT")]
    cp.delete_endpoint(EndpointArn=endpoint)
    cp.delete_entity_recognizer(EntityRecognizerArn=arn)


@pytest.mark.slow
def test_entity_recognizer_from_annotations(cp, s3, bucket):
    rng = random.Random(3)
    drugs = ["aspirin", "ibuprofen", "metformin", "lisinopril", "atorvastatin", "amoxicillin", "omeprazole"]
    templates = ["The patient was given {} twice a day.", "Stop taking {} if you feel dizzy.",
                 "Her doctor prescribed {} after the visit.", "{} should be taken with food.",
                 "He has been on {} for three years."]
    lines, annotations = [], [("File", "Line", "Begin Offset", "End Offset", "Type")]
    for number in range(80):
        drug = rng.choice(drugs)
        template = rng.choice(templates)
        text = template.format(drug.capitalize() if template.startswith("{}") else drug)
        begin = template.index("{}")
        lines.append(text)
        annotations.append(("docs.txt", number, begin, begin + len(drug), "DRUG"))
    s3.put_object(Bucket=bucket, Key="ann/docs/docs.txt", Body="\n".join(lines).encode())
    s3.put_object(Bucket=bucket, Key="ann/annotations.csv", Body=to_csv(annotations))
    arn = cp.create_entity_recognizer(
        RecognizerName=f"drugs-{uuid.uuid4().hex[:6]}", DataAccessRoleArn=ROLE, LanguageCode="en",
        InputDataConfig={"EntityTypes": [{"Type": "DRUG"}], "Documents": {"S3Uri": f"s3://{bucket}/ann/docs/"},
                         "Annotations": {"S3Uri": f"s3://{bucket}/ann/annotations.csv"}})["EntityRecognizerArn"]
    props = wait_model(lambda: cp.describe_entity_recognizer(EntityRecognizerArn=arn), "EntityRecognizerProperties",
                       timeout=400)
    assert props["Status"] == "TRAINED", props
    meta = props["RecognizerMetadata"]
    assert meta["NumberOfTrainedDocuments"] == 72 and meta["NumberOfTestDocuments"] == 8
    assert meta["EvaluationMetrics"]["F1Score"] >= 80
    endpoint = cp.create_endpoint(EndpointName=f"ep-{arn.rsplit('/', 1)[1]}", ModelArn=arn,
                                  DesiredInferenceUnits=1)["EndpointArn"]
    entities = cp.detect_entities(Text="The nurse said metformin must be taken daily.", EndpointArn=endpoint)
    assert ("metformin", "DRUG") in {(e["Text"], e["Type"]) for e in entities["Entities"]}
    cp.delete_endpoint(EndpointArn=endpoint)
