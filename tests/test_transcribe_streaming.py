"""Streaming transcription over the gateway's WebSocket (`/stream-transcription-websocket`): PCM chunks in, partial
and final TranscriptEvents out, in AWS event-stream framing and in plain JSON frames."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from botocore.eventstream import EventStreamBuffer
from websockets.sync.client import connect

from services.transcribe.streaming import encode_event
from tests.helpers import espeak, librivox, read_wav, wer

CHUNK = 1600  # 100 ms of 16 kHz audio


def ws_url(gateway, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in {"language-code": "en-US", "media-encoding": "pcm",
                                                          "sample-rate": "16000", **params}.items())
    return gateway.url.replace("http://", "ws://") + f"/stream-transcription-websocket?{query}"


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def audio_event(chunk: bytes) -> bytes:
    return encode_event({":message-type": "event", ":event-type": "AudioEvent",
                         ":content-type": "application/octet-stream"}, chunk)


def parse(frame: bytes) -> tuple[dict, dict]:
    buffer = EventStreamBuffer()
    buffer.add_data(frame)
    message = next(iter(buffer))
    return message.headers, json.loads(message.payload)


@pytest.mark.slow
def test_event_stream_partials_and_finals_with_latency(gateway):
    (first, ref_1), (second, ref_2) = librivox()[0], librivox()[3]
    silence = np.zeros(RATE_SECONDS(1.2), dtype=np.float32)
    stream = np.concatenate([read_wav(first), silence, read_wav(second), silence])
    end_of_first = len(read_wav(first)) + RATE_SECONDS(0.6)
    with connect(ws_url(gateway), open_timeout=30) as ws:  # warm-up: the first use loads the model
        ws.send(audio_event(pcm(espeak("warm up"))))
        ws.send(audio_event(b""))
        while True:
            try:
                ws.recv(timeout=120)
            except Exception:
                break
    events = []
    with connect(ws_url(gateway), max_size=None, open_timeout=30) as ws:
        sent_first_at = None
        for start in range(0, len(stream), CHUNK):
            ws.send(audio_event(pcm(stream[start:start + CHUNK])))
            if start <= end_of_first < start + CHUNK:
                sent_first_at = time.monotonic()
            time.sleep(0.1)  # real time
            while True:
                try:
                    frame = ws.recv(timeout=0)
                except TimeoutError:
                    break
                events.append((time.monotonic(), *parse(frame)))
        ws.send(audio_event(b""))
        while True:
            try:
                frame = ws.recv(timeout=120)
            except Exception:
                break
            events.append((time.monotonic(), *parse(frame)))
    assert all(headers[":event-type"] == "TranscriptEvent" for _, headers, _ in events), events[:2]
    results = [(at, body["Transcript"]["Results"][0]) for at, _, body in events]
    finals = [(at, r) for at, r in results if not r["IsPartial"]]
    partials = [r for _, r in results if r["IsPartial"]]
    assert len(finals) == 2, [r["Alternatives"][0]["Transcript"] for _, r in results]
    assert partials and partials[0]["ResultId"] == finals[0][1]["ResultId"]
    texts = [r["Alternatives"][0]["Transcript"] for _, r in finals]
    errors = wer(ref_1, texts[0])[0] + wer(ref_2, texts[1])[0]
    assert errors <= 2, texts
    second = finals[1][1]
    assert second["StartTime"] >= len(read_wav(first)) / 16000 + 0.3  # stream time, across utterances
    items = second["Alternatives"][0]["Items"]
    assert all(i["Stable"] for i in items if i["Type"] == "pronunciation")
    latency = finals[0][0] - sent_first_at
    print(f"streaming: final result {latency:.2f} s after the end of the utterance's trailing silence")
    assert latency < 10.0


def RATE_SECONDS(seconds: float) -> int:
    return int(16000 * seconds)


def test_raw_pcm_json_frames_and_bad_parameters(gateway):
    audio = espeak("Speech recognition works in real time.")
    with connect(ws_url(gateway, **{"sample-rate": "16000"}), open_timeout=30) as ws:
        for start in range(0, len(audio), CHUNK):
            ws.send(pcm(audio[start:start + CHUNK]))
        ws.send(json.dumps({"end": True}))
        messages = []
        while True:
            try:
                messages.append(json.loads(ws.recv(timeout=120)))
            except Exception:
                break
    finals = [m["Transcript"]["Results"][0] for m in messages if not m["Transcript"]["Results"][0]["IsPartial"]]
    assert len(finals) == 1
    text = finals[0]["Alternatives"][0]["Transcript"].lower()
    assert "recognition" in text and "real time" in text, text

    for params, expected in (({"media-encoding": "flac"}, "media-encoding"), ({"sample-rate": "1000"}, "sample-rate"),
                             ({"language-code": "xx-XX"}, "isn't supported")):
        with connect(ws_url(gateway, **params), open_timeout=30) as ws:
            body = json.loads(ws.recv(timeout=30))
            assert body["Exception"] == "BadRequestException" and expected in body["Message"]
    # A framed stream that sends garbage after its first event gets an exception event, not a hang.
    with connect(ws_url(gateway), open_timeout=30) as ws:
        ws.send(audio_event(pcm(audio[:CHUNK])))
        ws.send(b"\x00\x00\x00\x20not an event stream message")
        headers, body = parse(ws.recv(timeout=30))
        assert headers[":message-type"] == "exception" and "Malformed" in body["Message"]
