"""Speech as Polly makes it: the request's checks (the plan), text or SSML -> sentences with the lexicons applied,
the engine that speaks the voice, and the encoded audio (or speech marks) sentence by sentence. SynthesizeSpeech
streams it; a synthesis task (tasks.py) writes it in checkpointed parts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import orjson

from services.gateway.context import Principal, RequestContext
from services.gateway.runtime import runtime
from services.polly import lexicons
from services.polly.encode import Resampler, StreamEncoder
from services.polly.errors import (EngineNotSupported, InvalidSampleRate, LanguageNotSupported,
                                   MarksNotSupportedForFormat, ServiceFailure, SsmlMarksNotSupportedForTextType,
                                   TextLengthExceeded, Validation)
from services.polly.lexicons import Entry
from services.polly.ssml import Sentence, billed_characters, parse
from services.polly.synth import NATIVE_RATE, Backend, render
from services.polly.voices import VOICES, VoiceInfo, supported_engines

log = logging.getLogger("aigate.polly")

MAX_BILLED_CHARS = 3000
MAX_TOTAL_CHARS = 6000
SAMPLE_RATES = {
    "mp3": {"8000", "16000", "22050", "24000"},
    "ogg_vorbis": {"8000", "16000", "22050", "24000"},
    "ogg_opus": {"8000", "12000", "16000", "24000", "48000"},
    "pcm": {"8000", "16000"},
    "mulaw": {"8000"},
    "alaw": {"8000"},
}


@dataclass
class Plan:
    voice: VoiceInfo
    engine: str  # Polly engine name as requested (defaulted)
    backend_kind: str  # piper / espeak
    output_format: str
    sample_rate: int
    mark_types: set[str]
    text: str
    text_type: str
    billed: int
    lexicon_names: list[str]


def default_sample_rate(output_format: str, engine: str) -> int:
    if output_format in ("pcm",):
        return 16000
    if output_format in ("mulaw", "alaw"):
        return 8000
    if output_format == "ogg_opus":
        return 48000
    return 22050 if engine == "standard" else 24000


def plan(request: dict, max_billed: int = MAX_BILLED_CHARS, max_total: int = MAX_TOTAL_CHARS) -> Plan:
    """Every check Polly makes before it speaks; raises the AWS error of the first problem."""
    text, text_type = request["Text"], request.get("TextType", "text")
    voice = VOICES.get(request["VoiceId"])
    if voice is None:
        raise Validation(f"Voice {request['VoiceId']} is not available on this gateway.")
    engine = request.get("Engine", "standard")
    if engine not in supported_engines(voice):
        raise EngineNotSupported(
            f"This voice does not support the selected engine: {engine}. Voice {voice.id} supports "
            f"{', '.join(supported_engines(voice))}.")
    language = request.get("LanguageCode")
    if language and language != voice.language and language not in voice.additional:
        raise LanguageNotSupported(f"Language {language} is not supported by voice {voice.id} ({voice.language}).")
    output_format = request["OutputFormat"]
    mark_types = set(request.get("SpeechMarkTypes") or [])
    if output_format == "json":
        if not mark_types:
            raise Validation("SpeechMarkTypes is required when OutputFormat is json.")
    elif mark_types:
        raise MarksNotSupportedForFormat(f"Speech marks are only returned with OutputFormat json, not {output_format}.")
    if "ssml" in mark_types and text_type != "ssml":
        raise SsmlMarksNotSupportedForTextType("SSML speech marks require TextType ssml.")
    if output_format == "json":
        sample_rate = NATIVE_RATE
    elif "SampleRate" in request:
        if request["SampleRate"] not in SAMPLE_RATES[output_format]:
            raise InvalidSampleRate(f"Sample rate {request['SampleRate']} is not valid for {output_format}; valid: "
                                    f"{', '.join(sorted(SAMPLE_RATES[output_format], key=int))}.")
        sample_rate = int(request["SampleRate"])
    else:
        sample_rate = default_sample_rate(output_format, engine)
    billed = billed_characters(text, text_type)
    if billed > max_billed or len(text) > max_total:
        raise TextLengthExceeded(
            f"Maximum text length has been exceeded: {billed} billed characters (limit {max_billed}), "
            f"{len(text)} characters in all (limit {max_total}).")
    if not text.strip():
        raise Validation("Text must not be empty.")
    names = list(request.get("LexiconNames") or [])
    kind = "piper" if engine != "standard" else ("festival" if voice.festival else "espeak")
    return Plan(voice, engine, kind, output_format, sample_rate, mark_types, text, text_type, billed, names)


def prepare(plan_: Plan, scope: Principal | RequestContext,
            lexicon_entries: list[dict[str, Entry]] | None = None) -> list[Sentence]:
    """The text's sentences (SSML errors first) with the lexicons applied: the entries given, else the caller's
    lexicons the request names."""
    sentences = parse(plan_.text, plan_.text_type)
    if lexicon_entries is None:
        lexicon_entries = lexicons.load_entries(scope, plan_.lexicon_names)
    lexicons.apply(sentences, lexicon_entries)
    return sentences


def _engine(name: str):
    try:
        return runtime().models.get(name)
    except Exception as error:  # weights or library missing: the service cannot speak
        log.exception("loading TTS engine %s failed", name)
        raise ServiceFailure(f"The {name} speech engine is unavailable: {error}") from None


def backend(plan_: Plan) -> Backend:
    kind = plan_.backend_kind
    if kind == "festival":
        espeak = _engine("espeak")
        try:
            return Backend(kind, _engine(kind), plan_.voice.espeak, espeak)
        except ServiceFailure:  # Festival not installed: the voice's espeak-ng variant still speaks
            return Backend("espeak", espeak, plan_.voice.espeak)
    return Backend(kind, _engine(kind), plan_.voice.espeak)


def stream_audio(plan_: Plan, backend_: Backend, sentences: list[Sentence]) -> Iterator[bytes]:
    """Encoded audio (or speech-mark JSON lines), one piece per sentence, as it is synthesized."""
    if plan_.output_format == "json":
        for part in render(backend_, sentences, plan_.mark_types):
            if part.marks:
                yield b"".join(orjson.dumps(mark) + b"\n" for mark in part.marks)
        return
    resampler = Resampler(NATIVE_RATE, plan_.sample_rate)
    encoder = StreamEncoder(plan_.output_format, plan_.sample_rate)
    try:
        for part in render(backend_, sentences, set()):
            data = encoder.feed(resampler.push(part.audio))
            if data:
                yield data
        tail = encoder.feed(resampler.push(None)) + encoder.finish()
        if tail:
            yield tail
    finally:
        encoder.close()
