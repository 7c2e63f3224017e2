"""Chains of real service calls through the orchestrator, and the shipped blueprints, on the embedded defaults.

Speech in these tests is made by the gateway itself (Polly's Piper/espeak voices) inside the state machine, so the
whole chain is real models end to end: speech synthesis → transcription → language analysis."""

from __future__ import annotations

import io
import json

import pytest
import requests

from orchestrator.blueprints import NAMES, definition
from tests.helpers import SFN_ROLE as ROLE
from tests.helpers import history, make_bucket, unique, wait_for_execution


def implemented(gateway, service: str, operation: str) -> bool:
    coverage = requests.get(f"{gateway.url}/v1/coverage", timeout=10).json()
    entry = coverage.get(service, {})
    return operation in entry.get("implemented", [])


def failures(described: dict, events: list[dict]) -> str:
    failed = [e for e in events if e["type"] in ("TaskFailed", "ExecutionFailed", "EvaluationFailed")]
    return json.dumps({"error": described.get("error"), "cause": described.get("cause"),
                       "failed": failed[:3]}, default=str)[:3000]


def run(sfn, text: str, value: dict, timeout: float = 300) -> tuple[dict, list[dict]]:
    arn = sfn.create_state_machine(name=unique("bp"), definition=text, roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(value))["executionArn"]
    return wait_for_execution(sfn, execution, timeout), history(sfn, execution)


def test_blueprints_are_valid(sfn):
    assert NAMES == ["call-analytics", "document-processing", "image-moderation", "media-localization"]
    for name in NAMES:
        assert sfn.validate_state_machine_definition(definition=definition(name))["result"] == "OK", name


def test_document_processing_blueprint(sfn, s3):
    bucket = make_bucket(s3, unique("bp-docs"))
    documents = {
        "docs/press.txt": "Angela Merkel met Emmanuel Macron in Paris on Monday to discuss the European budget.",
        "docs/memo.txt": "Microsoft will open a new office in Berlin next year, said Satya Nadella.",
        "docs/nota.txt": "El presidente Pedro Sánchez visitó Barcelona el martes con la ministra de Hacienda.",
    }
    for key, text in documents.items():
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
    # A PDF goes through Textract's DetectDocumentText before Comprehend.
    letter = "Barack Obama visited London on Friday with executives of Microsoft."
    s3.put_object(Bucket=bucket, Key="docs/letter.pdf", Body=rendered_pdf(letter))
    documents["docs/letter.pdf"] = letter
    described, events = run(sfn, definition("document-processing"),
                            {"bucket": bucket, "prefix": "docs/", "outputPrefix": "entities"})
    assert described["status"] == "SUCCEEDED", failures(described, events)
    manifest_key = json.loads(described["output"])["ResultWriterDetails"]["Key"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    results = json.loads(s3.get_object(Bucket=bucket, Key=manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])["Body"].read())
    by_key = {item["key"]: item for item in results}
    assert sorted(by_key) == sorted(documents)
    assert by_key["docs/nota.txt"]["language"] == "es" and by_key["docs/press.txt"]["language"] == "en"
    nota = by_key["docs/nota.txt"]  # entities where the gateway has a model for the language, else a reason
    assert nota["entities"] or "es" in nota["skipped"]
    press = {(e["type"], e["text"]) for e in by_key["docs/press.txt"]["entities"]}
    assert ("PERSON", "Emmanuel Macron") in press and ("LOCATION", "Paris") in press, press
    assert any(e["type"] == "ORGANIZATION" for e in by_key["docs/memo.txt"]["entities"])
    pdf = {(e["type"], e["text"]) for e in by_key["docs/letter.pdf"]["entities"]}
    assert by_key["docs/letter.pdf"]["language"] == "en"
    assert ("PERSON", "Barack Obama") in pdf and ("LOCATION", "London") in pdf, pdf


def test_image_moderation_blueprint(sfn, s3, gateway):
    from tests.photos import photo_bytes

    bucket = make_bucket(s3, unique("bp-images"))
    for name in ("obama", "coffee", "zidane"):
        s3.put_object(Bucket=bucket, Key=f"uploads/{name}.jpg" if name != "coffee" else "uploads/coffee.png",
                      Body=photo_bytes(name))
    rekognition = gateway.client("rekognition")
    collection = unique("bp-faces")
    rekognition.create_collection(CollectionId=collection)
    try:
        described, events = run(sfn, definition("image-moderation"),
                                {"bucket": bucket, "prefix": "uploads/", "collectionId": collection,
                                 "minConfidence": 80, "outputPrefix": "moderation"})
        assert described["status"] == "SUCCEEDED", failures(described, events)
        manifest_key = json.loads(described["output"])["ResultWriterDetails"]["Key"]
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
        results = json.loads(s3.get_object(Bucket=bucket, Key=manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
                             ["Body"].read())
        by_key = {item["key"]: item for item in results}
        assert sorted(by_key) == ["uploads/coffee.png", "uploads/obama.jpg", "uploads/zidane.jpg"]
        assert not any(item["flagged"] for item in by_key.values())  # safe photos
        assert len(by_key["uploads/obama.jpg"]["faceIds"]) == 1
        zidane_faces = len(by_key["uploads/zidane.jpg"]["faceIds"])
        assert zidane_faces >= 1  # two men; HOG finds the frontal face, Zidane's own is nearly in profile
        assert by_key["uploads/coffee.png"]["faceIds"] == []
        assert "Person" in by_key["uploads/zidane.jpg"]["labels"]
        faces = rekognition.list_faces(CollectionId=collection)["Faces"]
        assert sorted(face["ExternalImageId"] for face in faces) == ["obama.jpg"] + ["zidane.jpg"] * zidane_faces
    finally:
        rekognition.delete_collection(CollectionId=collection)


def rendered_pdf(text: str) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.setFont("Helvetica", 12)
    pdf.drawString(72, 720, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


SPEECH_TO_SENTIMENT = {
    "Comment": "A chain of real service calls: Polly speaks, Transcribe listens, Comprehend judges.",
    "QueryLanguage": "JSONata",
    "StartAt": "Speak",
    "States": {
        "Speak": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:polly:startSpeechSynthesisTask.sync",
            "Arguments": {"Text": "{% $states.input.text %}", "OutputFormat": "mp3", "VoiceId": "Joanna",
                          "OutputS3BucketName": "{% $states.input.bucket %}", "OutputS3KeyPrefix": "speech/"},
            "Assign": {"bucket": "{% $states.input.bucket %}", "job": "{% $states.input.job %}"},
            "Output": {"media": "{% 's3://' & $states.input.bucket & '/' & $substringAfter("
                                "$states.result.SynthesisTask.OutputUri, '/' & $states.input.bucket & '/') %}"},
            "Next": "Transcribe"},
        "Transcribe": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:transcribe:startTranscriptionJob.sync",
            "Arguments": {"TranscriptionJobName": "{% $job %}", "LanguageCode": "en-US",
                          "Media": {"MediaFileUri": "{% $states.input.media %}"}, "OutputBucketName": "{% $bucket %}",
                          "OutputKey": "{% 'transcripts/' & $job & '.json' %}"},
            "Output": {"key": "{% $substringAfter($states.result.TranscriptionJob.Transcript.TranscriptFileUri, "
                              "'/' & $bucket & '/') %}"},
            "Next": "Read"},
        "Read": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Arguments": {"Bucket": "{% $bucket %}", "Key": "{% $states.input.key %}"},
            "Output": {"text": "{% $parse($states.result.Body).results.transcripts[0].transcript %}"},
            "Next": "Sentiment"},
        "Sentiment": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:comprehend:detectSentiment",
            "Arguments": {"Text": "{% $states.input.text %}", "LanguageCode": "en"},
            "Output": {"text": "{% $states.input.text %}", "sentiment": "{% $states.result.Sentiment %}"},
            "End": True}}}


@pytest.mark.slow
def test_speech_to_sentiment_chain(sfn, s3):
    bucket = make_bucket(s3, unique("bp-chain"))
    described, events = run(sfn, json.dumps(SPEECH_TO_SENTIMENT), {
        "bucket": bucket, "job": unique("chain"),
        "text": "I absolutely love this wonderful product. It works perfectly and the support team was fantastic."})
    assert described["status"] == "SUCCEEDED", failures(described, events)
    out = json.loads(described["output"])
    words = out["text"].lower()
    assert "love" in words and "support team" in words, out
    assert out["sentiment"] == "POSITIVE"
    submitted = [e for e in events if e["type"] == "TaskSubmitted"]
    assert len(submitted) == 2  # the two .sync tasks: started, then waited on inside the engine


@pytest.mark.slow
def test_media_localization_blueprint(sfn, s3, gateway):
    """Runs as far as the gateway's services go: with Translate served it speaks the translation; without it,
    the execution stops at Translate with the gateway's NotImplementedException, after a real transcription."""
    bucket = make_bucket(s3, unique("bp-media"))
    speak = {"QueryLanguage": "JSONata", "StartAt": "Speak", "States": {"Speak": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:polly:startSpeechSynthesisTask.sync",
        "Arguments": {"Text": "Good morning. The meeting starts at nine in the large room.", "OutputFormat": "mp3",
                      "VoiceId": "Joanna", "OutputS3BucketName": bucket, "OutputS3KeyPrefix": "in/"},
        "Output": "{% $substringAfter($states.result.SynthesisTask.OutputUri, '/" + bucket + "/') %}",
        "End": True}}}
    made, _ = run(sfn, json.dumps(speak), {})
    assert made["status"] == "SUCCEEDED", made
    key = json.loads(made["output"])
    described, events = run(sfn, definition("media-localization"), {
        "mediaUri": f"s3://{bucket}/{key}", "bucket": bucket, "jobName": unique("loc"), "sourceLanguage": "en-US",
        "targetLanguage": "es", "voiceId": "Lucia"})
    read = next(e for e in events if e["type"] == "TaskStateExited"
                and e["stateExitedEventDetails"]["name"] == "ReadTranscript")
    transcript = json.loads(read["stateExitedEventDetails"]["output"])["text"].lower()
    assert "morning" in transcript and "room" in transcript, transcript
    if implemented(gateway, "translate", "TranslateText"):
        assert described["status"] == "SUCCEEDED", described
        out = json.loads(described["output"])
        assert out["translation"] and out["audioUri"]
    else:
        assert described["status"] == "FAILED" and described["error"] == "Translate.NotImplementedException"


@pytest.mark.slow
def test_call_analytics_blueprint(sfn, s3):
    bucket = make_bucket(s3, unique("bp-call"))
    speak = {"QueryLanguage": "JSONata", "StartAt": "Speak", "States": {"Speak": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:polly:startSpeechSynthesisTask.sync",
        "Arguments": {"Text": "My name is John Smith and I am calling about my order. I am very angry, the delivery "
                              "was late again and the box was damaged.", "OutputFormat": "mp3",
                      "VoiceId": "Joanna", "OutputS3BucketName": bucket, "OutputS3KeyPrefix": "calls/"},
        "Output": "{% $substringAfter($states.result.SynthesisTask.OutputUri, '/" + bucket + "/') %}",
        "End": True}}}
    made, _ = run(sfn, json.dumps(speak), {})
    assert made["status"] == "SUCCEEDED", made
    described, events = run(sfn, definition("call-analytics"), {
        "mediaUri": f"s3://{bucket}/{json.loads(made['output'])}", "bucket": bucket, "jobName": unique("call"),
        "languageCode": "en-US"})
    assert described["status"] == "SUCCEEDED", failures(described, events)
    summary = json.loads(described["output"])
    assert summary["turns"] and all({"speaker", "text", "sentiment", "keyPhrases", "piiTypes"} <= set(turn)
                                    for turn in summary["turns"])
    assert "NEGATIVE" in [turn["sentiment"] for turn in summary["turns"]], summary
    assert summary["keyPhrases"] and summary["speakers"]
    assert "john smith" not in summary["redactedTranscript"].lower(), summary["redactedTranscript"]
    assert "delivery" in summary["redactedTranscript"].lower()
