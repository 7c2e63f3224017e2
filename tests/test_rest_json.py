"""The rest-json half of the wire protocol (Polly, Lex runtime, Personalize events), driven by boto3.

No rest-json service is implemented yet, so this test registers its own providers in an in-process gateway:
each handler returns what it was given, which shows that path labels, query strings, headers, JSON bodies,
streaming payloads in both directions and timestamps cross the wire intact. These are test fixtures, not
service behaviour."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import requests
import uvicorn

from services.gateway.app import create_app
from services.gateway.config import Settings
from services.gateway.registry import ServiceProvider
from services.gateway.runtime import Runtime
from tests.helpers import gateway_client, poll
from tests.s3server import free_port

received: dict[str, dict] = {}
in_process: dict[str, Runtime] = {}


def echo_providers() -> dict[str, ServiceProvider]:
    polly = ServiceProvider("polly")
    lex = ServiceProvider("lexv2-runtime")
    events = ServiceProvider("personalize-events")

    @polly.operation("SynthesizeSpeech")
    def synthesize(ctx, request):
        received["SynthesizeSpeech"] = request
        # A generator: the gateway streams it chunk by chunk.
        chunks = (word.encode() + b" " for word in request["Text"].split())
        return {"AudioStream": chunks, "ContentType": "audio/mpeg", "RequestCharacters": len(request["Text"])}

    @polly.operation("GetLexicon")
    async def get_lexicon(ctx, request):
        return {"Lexicon": {"Name": request["Name"], "Content": "<lexicon/>"},
                "LexiconAttributes": {"LastModified": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
                                      "LexemesCount": 3}}

    @polly.operation("ListSpeechSynthesisTasks")
    def list_tasks(ctx, request):
        received["ListSpeechSynthesisTasks"] = request
        return {"SynthesisTasks": [], "NextToken": f"after-{request.get('NextToken')}-{request.get('MaxResults')}"}

    @lex.operation("RecognizeUtterance")
    def recognize(ctx, request):
        received["RecognizeUtterance"] = {k: v for k, v in request.items() if k != "inputStream"}
        audio = request["inputStream"]
        return {"inputMode": "Speech", "contentType": "audio/pcm", "sessionId": request["sessionId"],
                "inputTranscript": f"{len(audio)} bytes", "audioStream": audio[::-1]}

    @events.operation("PutEvents")
    def put_events(ctx, request):
        received["PutEvents"] = request
        return {}

    return {"polly": polly, "lexv2-runtime": lex, "personalize-events": events}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("restjson"))
    runtime = Runtime.build(settings)
    runtime.providers.update(echo_providers())
    port = free_port()
    config = uvicorn.Config(create_app(settings, runtime=runtime, listen_queues=[]), host="127.0.0.1", port=port,
                            log_config=None, access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return requests.get(url + "/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    poll(ready, timeout=30, interval=0.1, raise_on_timeout=False)  # as before: the tests fail on a server not up
    in_process["runtime"] = runtime
    yield url
    uv.should_exit = True
    thread.join(15)


def client(url, service):
    return gateway_client(url, service, region="eu-west-1", access_key="k", secret_key="s")


def test_streaming_payload_and_headers(server):
    result = client(server, "polly").synthesize_speech(Text="one two three", OutputFormat="mp3", VoiceId="Joanna",
                                                       SpeechMarkTypes=["word", "sentence"])
    assert result["AudioStream"].read() == b"one two three "
    assert result["ContentType"] == "audio/mpeg"
    assert result["RequestCharacters"] == 13
    assert received["SynthesizeSpeech"]["SpeechMarkTypes"] == ["word", "sentence"]


def test_path_labels_and_timestamps(server):
    result = client(server, "polly").get_lexicon(Name="myLexicon1")
    assert result["Lexicon"] == {"Name": "myLexicon1", "Content": "<lexicon/>"}
    assert result["LexiconAttributes"]["LastModified"] == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def test_query_string_members(server):
    result = client(server, "polly").list_speech_synthesis_tasks(MaxResults=7, NextToken="abc", Status="completed")
    assert result["NextToken"] == "after-abc-7"
    assert received["ListSpeechSynthesisTasks"] == {"MaxResults": 7, "NextToken": "abc", "Status": "completed"}


def test_streaming_input_payload_and_header_members(server):
    audio = bytes(range(256)) * 40
    result = client(server, "lexv2-runtime").recognize_utterance(
        botId="BOTID12345", botAliasId="TSTALIASID", localeId="en_US", sessionId="session-42",
        requestContentType="audio/l16; rate=16000; channels=1", inputStream=audio)
    assert result["audioStream"].read() == audio[::-1]
    assert result["inputTranscript"] == f"{len(audio)} bytes" and result["sessionId"] == "session-42"
    assert received["RecognizeUtterance"]["requestContentType"] == "audio/l16; rate=16000; channels=1"
    assert received["RecognizeUtterance"]["botAliasId"] == "TSTALIASID"


def test_body_members_with_timestamps(server):
    client(server, "personalize-events").put_events(trackingId="tracking-1", sessionId="s-1", eventList=[
        {"eventType": "click", "sentAt": dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc), "itemId": "i-9"}])
    event = received["PutEvents"]["eventList"][0]
    assert event["sentAt"] == dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    assert event["itemId"] == "i-9"


def test_native_route_streams_blob_payloads(server):
    response = requests.post(f"{server}/v1/polly/SynthesizeSpeech", timeout=10,
                             json={"Text": "native call", "OutputFormat": "mp3", "VoiceId": "Joanna"})
    assert response.status_code == 200
    assert response.content == b"native call "
    assert response.headers["Content-Type"] == "audio/mpeg"


def test_in_process_calls_validate_like_http(server):
    """The orchestrator's path: wire-form input and output, no HTTP, sync and async handlers alike."""
    from services.gateway.context import Principal
    from services.gateway.errors import ServiceError

    dispatcher = in_process["runtime"].dispatcher
    principal = Principal("000000000000", "us-east-1")
    audio = dispatcher.call_wire("polly", "SynthesizeSpeech", principal,
                                 {"Text": "in process", "OutputFormat": "mp3", "VoiceId": "Joanna"}, "req-1")
    assert audio["AudioStream"] == "aW4gcHJvY2VzcyA="  # base64 of the streamed chunks
    languages = dispatcher.call_wire("comprehend", "DetectDominantLanguage", principal,
                                     {"Text": "Ceci est une phrase en français, sans aucun doute."}, "req-2")
    assert languages["Languages"][0]["LanguageCode"] == "fr"
    with pytest.raises(ServiceError) as caught:
        dispatcher.call_wire("comprehend", "DetectDominantLanguage", principal, {}, "req-3")
    assert caught.value.code == "ValidationException"
    with pytest.raises(ServiceError) as caught:
        dispatcher.call_wire("comprehend", "DescribeFlywheel", principal,
                             {"FlywheelArn": "arn:aws:comprehend:us-east-1:000000000000:flywheel/f1"}, "req-4")
    assert caught.value.code == "NotImplementedException"
