"""Comprehend's asynchronous analysis jobs (sentiment, targeted sentiment, entities, key phrases, PII, topics) over
an S3 folder through unmodified boto3, with outputs read back from S3 as AWS writes them."""

from __future__ import annotations

import csv
import io
import json
import tarfile

import pytest

from tests.helpers import COMPREHEND_ROLE as ROLE
from tests.helpers import wait_for_comprehend_job


@pytest.fixture(scope="module")
def cp(gateway):
    return gateway.client("comprehend", read_timeout=600)


def read_archive(s3, uri: str) -> dict[str, str]:
    bucket, key = uri[len("s3://"):].split("/", 1)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return {name: archive.extractfile(name).read().decode() for name in archive.getnames()}


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line]


def start_args(bucket: str, prefix: str, fmt: str = "ONE_DOC_PER_FILE") -> dict:
    return dict(InputDataConfig={"S3Uri": f"s3://{bucket}/{prefix}", "InputFormat": fmt},
                OutputDataConfig={"S3Uri": f"s3://{bucket}/out/"}, DataAccessRoleArn=ROLE)


REVIEWS = {
    "good.txt": "I love this hotel. The staff were wonderful and the room was spotless!",
    "bad.txt": "Terrible experience. The room was dirty and the manager was rude to us.",
    "fact.txt": "The hotel has 120 rooms and is located near the central station in Berlin.",
}


def test_sentiment_job(cp, s3, bucket):
    for name, text in REVIEWS.items():
        s3.put_object(Bucket=bucket, Key=f"reviews/{name}", Body=text.encode())
    s3.put_object(Bucket=bucket, Key="reviews/huge.txt", Body=("word " * 1200).encode())
    started = cp.start_sentiment_detection_job(**start_args(bucket, "reviews/"), LanguageCode="en", JobName="sent")
    assert started["JobArn"].endswith(f":sentiment-detection-job/{started['JobId']}")
    props = wait_for_comprehend_job(cp, "sentiment_detection", started["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    assert props["LanguageCode"] == "en" and props["JobName"] == "sent"
    assert props["OutputDataConfig"]["S3Uri"].endswith(f"-SENTIMENT-{started['JobId']}/output/output.tar.gz")
    lines = {line["File"]: line for line in json_lines(read_archive(s3, props["OutputDataConfig"]["S3Uri"])["output"])}
    assert lines["good.txt"]["Sentiment"] == "POSITIVE"
    assert lines["bad.txt"]["Sentiment"] == "NEGATIVE"
    assert abs(sum(lines["fact.txt"]["SentimentScore"].values()) - 1) < 1e-6
    assert lines["huge.txt"]["ErrorCode"] == "DOCUMENT_SIZE_EXCEEDED"
    listed = cp.list_sentiment_detection_jobs(Filter={"JobName": "sent"})["SentimentDetectionJobPropertiesList"]
    assert started["JobId"] in [job["JobId"] for job in listed]
    with pytest.raises(cp.exceptions.InvalidRequestException):
        cp.stop_sentiment_detection_job(JobId=started["JobId"])


def test_sentiment_job_refuses_unsupported_language(cp, bucket):
    with pytest.raises(cp.exceptions.InvalidRequestException):
        cp.start_sentiment_detection_job(**start_args(bucket, "x/"), LanguageCode="ja")
    with pytest.raises(cp.exceptions.JobNotFoundException):
        cp.describe_sentiment_detection_job(JobId="f" * 32)


def test_entities_job_one_doc_per_line(cp, s3, bucket):
    body = ("Barack Obama was born in Hawaii.\n\nSatya Nadella runs Microsoft from Redmond.\n"
            "Zoë moved to Zürich in 2019.\n")
    s3.put_object(Bucket=bucket, Key="ents/lines.txt", Body=body.encode())
    started = cp.start_entities_detection_job(**start_args(bucket, "ents/", "ONE_DOC_PER_LINE"), LanguageCode="en")
    props = wait_for_comprehend_job(cp, "entities_detection", started["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    assert "-NER-" in props["OutputDataConfig"]["S3Uri"]
    lines = json_lines(read_archive(s3, props["OutputDataConfig"]["S3Uri"])["output"])
    assert [(line["File"], line["Line"]) for line in lines] == [("lines.txt", 0), ("lines.txt", 2), ("lines.txt", 3)]
    first = {(e["Text"], e["Type"]) for e in lines[0]["Entities"]}
    assert ("Barack Obama", "PERSON") in first and ("Hawaii", "LOCATION") in first
    source = body.splitlines()
    for line in lines:
        for entity in line["Entities"]:
            assert source[line["Line"]][entity["BeginOffset"]:entity["EndOffset"]] == entity["Text"]


def test_key_phrases_and_targeted_sentiment_jobs(cp, s3, bucket):
    s3.put_object(Bucket=bucket, Key="kp/a.txt", Body=b"The battery life of the new laptop is impressive.")
    started = cp.start_key_phrases_detection_job(**start_args(bucket, "kp/"), LanguageCode="en")
    targeted = cp.start_targeted_sentiment_detection_job(**start_args(bucket, "kp/"), LanguageCode="en")
    props = wait_for_comprehend_job(cp, "key_phrases_detection", started["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    assert "-KP-" in props["OutputDataConfig"]["S3Uri"]
    phrases = json_lines(read_archive(s3, props["OutputDataConfig"]["S3Uri"])["output"])[0]["KeyPhrases"]
    assert any("battery life" in phrase["Text"] for phrase in phrases)
    props = wait_for_comprehend_job(cp, "targeted_sentiment_detection", targeted["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    entities = json_lines(read_archive(s3, props["OutputDataConfig"]["S3Uri"])["output"])[0]["Entities"]
    assert any(m["Text"] == "battery life" for entity in entities for m in entity["Mentions"])


PII_DOC = "Contact Jane Doe at jane.doe@example.com or 206-555-0143. SSN 536-22-8457."


def test_pii_job_offsets_and_redaction(cp, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pii/doc.txt", Body=PII_DOC.encode())
    offsets = cp.start_pii_entities_detection_job(**start_args(bucket, "pii/"), Mode="ONLY_OFFSETS",
                                                  LanguageCode="en")
    redaction = cp.start_pii_entities_detection_job(
        **start_args(bucket, "pii/"), Mode="ONLY_REDACTION", LanguageCode="en",
        RedactionConfig={"PiiEntityTypes": ["EMAIL", "SSN"], "MaskMode": "REPLACE_WITH_PII_ENTITY_TYPE"})
    props = wait_for_comprehend_job(cp, "pii_entities_detection", offsets["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    assert props["Mode"] == "ONLY_OFFSETS"
    folder = props["OutputDataConfig"]["S3Uri"]
    assert folder.endswith(f"-PII-{offsets['JobId']}/output/")
    bucket_name, key = folder[len("s3://"):].split("/", 1)
    line = json.loads(s3.get_object(Bucket=bucket_name, Key=key + "doc.txt.out")["Body"].read())
    found = {(PII_DOC[e["BeginOffset"]:e["EndOffset"]], e["Type"]) for e in line["Entities"]}
    assert {("jane.doe@example.com", "EMAIL"), ("206-555-0143", "PHONE"), ("536-22-8457", "SSN")} <= found

    props = wait_for_comprehend_job(cp, "pii_entities_detection", redaction["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    assert props["RedactionConfig"]["MaskMode"] == "REPLACE_WITH_PII_ENTITY_TYPE"
    bucket_name, key = props["OutputDataConfig"]["S3Uri"][len("s3://"):].split("/", 1)
    redacted = s3.get_object(Bucket=bucket_name, Key=key + "doc.txt.out")["Body"].read().decode()
    assert redacted == "Contact Jane Doe at [EMAIL] or 206-555-0143. SSN [SSN]."

    with pytest.raises(cp.exceptions.InvalidRequestException):
        cp.start_pii_entities_detection_job(**start_args(bucket, "pii/"), Mode="ONLY_REDACTION", LanguageCode="en")


TOPIC_DOCS = [
    "The football team won the match after the striker scored two goals in the final minutes.",
    "The coach praised the players and the goalkeeper after the league match.",
    "Fans celebrated the championship as the team lifted the trophy in the stadium.",
    "The central bank raised interest rates to fight inflation and stabilise the currency.",
    "Markets fell as investors worried about inflation, bonds and bank interest rates.",
    "The stock market rallied after the bank reported strong earnings and lower inflation.",
    "The striker and the goalkeeper trained with the team before the cup match.",
    "Investors bought bonds as the central bank signalled lower interest rates.",
]


def test_topics_job(cp, s3, bucket):
    s3.put_object(Bucket=bucket, Key="topics/corpus.txt", Body="\n".join(TOPIC_DOCS).encode())
    started = cp.start_topics_detection_job(**start_args(bucket, "topics/", "ONE_DOC_PER_LINE"), NumberOfTopics=2)
    props = wait_for_comprehend_job(cp, "topics_detection", started["JobId"])
    assert props["JobStatus"] == "COMPLETED", props
    assert props["NumberOfTopics"] == 2
    files = read_archive(s3, props["OutputDataConfig"]["S3Uri"])
    assert set(files) == {"topic-terms.csv", "doc-topics.csv"}
    terms = list(csv.DictReader(io.StringIO(files["topic-terms.csv"])))
    assert {row["topic"] for row in terms} == {"000", "001"}
    by_topic = {topic: {row["term"] for row in terms if row["topic"] == topic} for topic in ("000", "001")}
    sport, money = {"team", "match", "goalkeeper", "striker"}, {"bank", "inflation", "rates", "interest"}
    # The two topics separate the two themes of the corpus.
    assert any(by_topic["000"] & sport and by_topic["001"] & money or by_topic["000"] & money and
               by_topic["001"] & sport for _ in [0])
    docs = list(csv.DictReader(io.StringIO(files["doc-topics.csv"])))
    assert {row["docname"] for row in docs} == {f"corpus.txt:{i}" for i in range(len(TOPIC_DOCS))}
    assert all(0 < float(row["proportion"]) <= 1 for row in docs)
    best = {}
    for row in docs:
        if float(row["proportion"]) > best.get(row["docname"], ("", 0))[1]:
            best[row["docname"]] = (row["topic"], float(row["proportion"]))
    assert best["corpus.txt:0"][0] == best["corpus.txt:1"][0] != best["corpus.txt:3"][0] == best["corpus.txt:4"][0]


def test_tags_on_jobs(cp, s3, bucket):
    s3.put_object(Bucket=bucket, Key="tags/a.txt", Body=b"Great service.")
    started = cp.start_key_phrases_detection_job(**start_args(bucket, "tags/"), LanguageCode="en",
                                                 Tags=[{"Key": "team", "Value": "support"}])
    arn = started["JobArn"]
    assert cp.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "support"}]
    cp.tag_resource(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "prod"}, {"Key": "team", "Value": "ops"}])
    assert cp.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "prod"},
                                                                  {"Key": "team", "Value": "ops"}]
    cp.untag_resource(ResourceArn=arn, TagKeys=["stage"])
    assert cp.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    missing = arn.rsplit("/", 1)[0] + "/" + "0" * 32
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.list_tags_for_resource(ResourceArn=missing)
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.tag_resource(ResourceArn=missing, Tags=[{"Key": "a", "Value": "b"}])
