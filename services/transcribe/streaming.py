"""Streaming transcription over a WebSocket, shaped like Amazon Transcribe's
`wss://.../stream-transcription-websocket?language-code=en-US&media-encoding=pcm&sample-rate=16000`.

The client sends 16-bit little-endian mono PCM, either inside AWS event-stream messages (`:message-type` event,
`:event-type` AudioEvent, the audio as payload; an empty AudioEvent ends the stream) or as raw binary WebSocket
frames (an empty frame, or the text frame `{"end": true}`, ends it). The server answers `TranscriptEvent`s:
`{"Transcript": {"Results": [{"ResultId", "StartTime", "EndTime", "IsPartial", "Alternatives": [...]}]}}`,
event-stream framed when the client framed its audio, JSON text frames otherwise.

A partial result for the open utterance is sent about every `PARTIAL_EVERY` seconds of new audio (greedy
decoding, for latency); the utterance is finalised (beam search, IsPartial false) when the speaker pauses for
`END_SILENCE` seconds, when it grows past `MAX_UTTERANCE` seconds, or when the stream ends.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import struct
import time
import uuid
from typing import Any

import numpy as np
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from models.audio import SAMPLE_RATE, pcm16_to_float
from services.transcribe import languages
from services.transcribe.transcript import tokens_from

log = logging.getLogger("aigate.transcribe.streaming")

PARTIAL_EVERY = 1.0
END_SILENCE = 0.6
MAX_UTTERANCE = 15.0
MAX_SESSION_SECONDS = 4 * 3600
ENGINE = "whisper-base"
# English partials come from the small tiny.en model (about 4x faster); finals always from the default engine.
PARTIAL_ENGINE_EN = "whisper-tiny-en"


# ---------------------------------------------------------------- AWS event-stream framing


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + b"\x07" + struct.pack("!H", len(raw_value)) + raw_value


def encode_event(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (lengths + CRC), string headers, payload, message CRC."""
    head = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack("!II", total, len(head))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + head + payload
    return body + struct.pack("!I", binascii.crc32(body) & 0xFFFFFFFF)


def decode_event(data: bytes) -> tuple[dict[str, Any], bytes] | None:
    """(headers, payload) when `data` is one well-formed event-stream message, else None."""
    if len(data) < 16:
        return None
    total, head_length, crc = struct.unpack("!III", data[:12])
    if total != len(data) or binascii.crc32(data[:8]) & 0xFFFFFFFF != crc:
        return None
    if binascii.crc32(data[:-4]) & 0xFFFFFFFF != struct.unpack("!I", data[-4:])[0]:
        return None
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(data)
    message = next(iter(buffer))
    return message.headers, message.payload


def transcript_event(results: list[dict]) -> bytes:
    return orjson.dumps({"Transcript": {"Results": results}})


# ---------------------------------------------------------------- the session


class StreamSession:
    def __init__(self, language_code: str, sample_rate: int, vocabulary_prompt: str | None = None):
        self.language_code = language_code
        self.language = languages.to_whisper(language_code)
        self.sample_rate = sample_rate
        self.prompt = vocabulary_prompt
        self.audio = np.zeros(0, dtype=np.float32)  # 16 kHz, from the start of the open utterance
        self.offset = 0.0  # stream time of audio[0]
        self.since_partial = 0.0
        self.result_id = str(uuid.uuid4())
        self.total = 0.0

    def add(self, pcm: bytes) -> None:
        samples = pcm16_to_float(pcm)
        if self.sample_rate != SAMPLE_RATE and samples.size:
            length = int(round(samples.size * SAMPLE_RATE / self.sample_rate))
            samples = np.interp(np.linspace(0, samples.size - 1, length), np.arange(samples.size),
                                samples).astype(np.float32)
        self.audio = np.concatenate([self.audio, samples])
        self.since_partial += samples.size / SAMPLE_RATE
        self.total += samples.size / SAMPLE_RATE

    def _voiced(self) -> np.ndarray:
        hop = int(0.02 * SAMPLE_RATE)
        frames = self.audio[: self.audio.size // hop * hop].reshape(-1, hop)
        if not len(frames):
            return np.zeros(0, dtype=bool)
        energy = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10)
        return energy > max(float(np.max(energy)) - 35.0, -50.0)

    def utterance_end(self) -> int | None:
        """Sample index where the open utterance ends: after the first pause of END_SILENCE that follows speech
        (or at MAX_UTTERANCE); None while the speaker is still talking."""
        voiced = self._voiced()
        if not voiced.any():
            return None
        need = int(END_SILENCE / 0.02)
        run, seen = 0, False
        for index, flag in enumerate(voiced):
            if flag:
                seen, run = True, 0
            elif seen:
                run += 1
                if run >= need:
                    return (index + 1) * int(0.02 * SAMPLE_RATE)
        if self.audio.size / SAMPLE_RATE >= MAX_UTTERANCE:
            return self.audio.size
        return None

    def has_speech(self) -> bool:
        return bool(self._voiced().any())

    def recognise(self, engine, final: bool, audio: np.ndarray) -> dict | None:
        if audio.size < int(0.3 * SAMPLE_RATE):
            return None
        result = engine.transcribe(audio, language=self.language, initial_prompt=self.prompt,
                                   beam_size=5 if final else 1)
        tokens = tokens_from(result.to_dict())
        if not tokens:
            return None
        items = [{"Type": t.type, "Content": t.content, "VocabularyFilterMatch": False,
                  **({"StartTime": round(self.offset + t.start, 3), "EndTime": round(self.offset + t.end, 3),
                      "Confidence": round(t.confidence, 4), "Stable": final} if t.type == "pronunciation"
                     else {"StartTime": 0.0, "EndTime": 0.0})}
                 for t in tokens]
        words = [item for item in items if item["Type"] == "pronunciation"]
        return {"ResultId": self.result_id, "StartTime": words[0]["StartTime"], "EndTime": words[-1]["EndTime"],
                "IsPartial": not final, "ChannelId": "ch_0", "LanguageCode": self.language_code,
                "Alternatives": [{"Transcript": result.text, "Items": items}]}

    def close_utterance(self, cut: int) -> None:
        self.offset += cut / SAMPLE_RATE
        self.audio = self.audio[cut:]
        self.result_id = str(uuid.uuid4())
        self.since_partial = self.audio.size / SAMPLE_RATE


def _error_frame(framed: bool, code: str, message: str) -> tuple[bytes | None, str | None]:
    body = orjson.dumps({"Message": message})
    if framed:
        return encode_event({":message-type": "exception", ":exception-type": code,
                             ":content-type": "application/json"}, body), None
    return None, orjson.dumps({"Exception": code, "Message": message}).decode()


async def serve_websocket(websocket: WebSocket, rt) -> None:
    params = websocket.query_params
    await websocket.accept()
    framed = params.get("framing", "auto")
    language = params.get("language-code", "en-US")
    encoding = params.get("media-encoding", "pcm")
    try:
        rate = int(params.get("sample-rate", str(SAMPLE_RATE)))
    except ValueError:
        rate = -1
    problem = None
    if rt.settings.auth_mode != "none":
        problem = ("BadRequestException", "Streaming needs auth_mode none on this gateway (presigned WebSocket URLs "
                                          "are not verified yet).")
    elif encoding != "pcm":
        problem = ("BadRequestException", f"media-encoding {encoding} is not supported; send pcm.")
    elif not 8000 <= rate <= 48000:
        problem = ("BadRequestException", "sample-rate must be between 8000 and 48000.")
    elif not languages.whisper_supports(language):
        problem = ("BadRequestException", f"The language code {language} isn't supported.")
    if problem:
        binary, text = _error_frame(framed == "event-stream", *problem)
        await (websocket.send_bytes(binary) if binary else websocket.send_text(text))
        await websocket.close(code=1008)
        return

    session = StreamSession(language, rate)
    use_frames: bool | None = None if framed == "auto" else framed == "event-stream"
    wake = asyncio.Event()
    state: dict[str, Any] = {"ended": False, "partial_every": PARTIAL_EVERY}

    async def send(result: dict) -> None:
        payload = transcript_event([result])
        if use_frames:
            await websocket.send_bytes(encode_event({":message-type": "event", ":event-type": "TranscriptEvent",
                                                     ":content-type": "application/json"}, payload))
        else:
            await websocket.send_text(payload.decode())

    async def recognise(final: bool, cut: int) -> None:
        audio = session.audio[:cut].copy()
        result_id = session.result_id

        name = ENGINE if final or session.language != "en" else PARTIAL_ENGINE_EN

        def work():
            if not session.has_speech():
                return None
            with rt.models.use(name) as engine:
                return session.recognise(engine, final, audio)

        started = time.monotonic()
        result = await run_in_threadpool(work)
        if not final:
            # Falling behind: space partials out to at least twice what one costs.
            state["partial_every"] = max(PARTIAL_EVERY, 2 * (time.monotonic() - started))
        if result:
            result["ResultId"] = result_id
            await send(result)
        if final:
            session.close_utterance(cut)

    async def recogniser() -> None:
        # Runs beside the receiving loop: audio keeps arriving while a recognition runs, and partials are skipped
        # when recognition falls behind (the newest audio is what a partial shows).
        while True:
            await wake.wait()
            wake.clear()
            while True:
                cut = session.utterance_end()
                if cut is not None:
                    await recognise(final=True, cut=cut)
                    continue
                if state["ended"]:
                    if session.audio.size:
                        await recognise(final=True, cut=session.audio.size)
                    return
                if session.since_partial >= state["partial_every"]:
                    session.since_partial = 0.0
                    await recognise(final=False, cut=session.audio.size)
                    continue
                break

    worker = asyncio.create_task(recogniser())
    try:
        while not state["ended"]:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                worker.cancel()
                return
            data = message.get("bytes")
            if data is None:
                if '"end"' in (message.get("text") or ""):
                    data = b""
                else:
                    continue
            if data:
                event = decode_event(data)
                if use_frames is None:
                    use_frames = event is not None
                if use_frames:
                    if event is None:
                        worker.cancel()
                        binary, _ = _error_frame(True, "BadRequestException", "Malformed event-stream message.")
                        await websocket.send_bytes(binary)
                        await websocket.close(code=1007)
                        return
                    headers, data = event
                    if headers.get(":event-type") not in (None, "AudioEvent"):
                        continue
            if not data or session.total > MAX_SESSION_SECONDS:
                state["ended"] = True
            else:
                session.add(data)
            wake.set()
        await worker
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        worker.cancel()
        return
    except asyncio.CancelledError:
        worker.cancel()
        raise
    except Exception:  # never leave the client hanging on a server fault
        worker.cancel()
        log.exception("streaming session failed")  # the exception stays in the log; the client gets AWS's words
        binary, text = _error_frame(bool(use_frames), "InternalFailureException",
                                    "A problem occurred while processing the audio. Amazon Transcribe terminated "
                                    "processing.")
        try:
            await (websocket.send_bytes(binary) if binary else websocket.send_text(text))
            await websocket.close(code=1011)
        except Exception:
            pass
