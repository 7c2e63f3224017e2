"""Polly operations, keyed by AWS operation name."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Iterator

import orjson

from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.registry import ServiceProvider
from services.gateway.runtime import runtime
from services.polly import lexicons, tasks
from services.polly.encode import CONTENT_TYPES, Resampler, StreamEncoder
from services.polly.ssml import Sentence, billed_characters, parse
from services.polly.synth import NATIVE_RATE, Backend, render
from services.polly.voices import VOICES, VoiceInfo, language_name, supported_engines

log = logging.getLogger("aigate.polly")
provider = ServiceProvider("polly")

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
        raise ServiceError("ValidationException", f"Voice {request['VoiceId']} is not available on this gateway.")
    engine = request.get("Engine", "standard")
    if engine not in supported_engines(voice):
        raise ServiceError("EngineNotSupportedException",
                           f"This voice does not support the selected engine: {engine}. Voice {voice.id} supports "
                           f"{', '.join(supported_engines(voice))}.")
    language = request.get("LanguageCode")
    if language and language != voice.language and language not in voice.additional:
        raise ServiceError("LanguageNotSupportedException",
                           f"Language {language} is not supported by voice {voice.id} ({voice.language}).")
    output_format = request["OutputFormat"]
    mark_types = set(request.get("SpeechMarkTypes") or [])
    if output_format == "json":
        if not mark_types:
            raise ServiceError("ValidationException", "SpeechMarkTypes is required when OutputFormat is json.")
    elif mark_types:
        raise ServiceError("MarksNotSupportedForFormatException",
                           f"Speech marks are only returned with OutputFormat json, not {output_format}.")
    if "ssml" in mark_types and text_type != "ssml":
        raise ServiceError("SsmlMarksNotSupportedForTextTypeException",
                           "SSML speech marks require TextType ssml.")
    if output_format == "json":
        sample_rate = NATIVE_RATE
    elif "SampleRate" in request:
        if request["SampleRate"] not in SAMPLE_RATES[output_format]:
            raise ServiceError("InvalidSampleRateException",
                               f"Sample rate {request['SampleRate']} is not valid for {output_format}; valid: "
                               f"{', '.join(sorted(SAMPLE_RATES[output_format], key=int))}.")
        sample_rate = int(request["SampleRate"])
    else:
        sample_rate = default_sample_rate(output_format, engine)
    billed = billed_characters(text, text_type)
    if billed > max_billed or len(text) > max_total:
        raise ServiceError("TextLengthExceededException",
                           f"Maximum text length has been exceeded: {billed} billed characters (limit {max_billed}), "
                           f"{len(text)} characters in all (limit {max_total}).")
    if not text.strip():
        raise ServiceError("ValidationException", "Text must not be empty.")
    names = list(request.get("LexiconNames") or [])
    kind = "piper" if engine != "standard" else ("festival" if voice.festival else "espeak")
    return Plan(voice, engine, kind, output_format, sample_rate, mark_types, text, text_type, billed, names)


def prepare(plan_: Plan, account_id: str, region: str, lexicon_entries=None) -> list[Sentence]:
    sentences = parse(plan_.text, plan_.text_type)
    if lexicon_entries is None:
        lexicon_entries = lexicons.load_entries(account_id, region, plan_.lexicon_names)
    lexicons.apply(sentences, lexicon_entries)
    return sentences


def _engine(name: str):
    try:
        return runtime().models.get(name)
    except Exception as error:  # weights or library missing: the service cannot speak
        log.exception("loading TTS engine %s failed", name)
        raise ServiceError("ServiceFailureException", f"The {name} speech engine is unavailable: {error}",
                           500, sender_fault=False) from None


def backend(plan_: Plan) -> Backend:
    kind = plan_.backend_kind
    if kind == "festival":
        espeak = _engine("espeak")
        try:
            return Backend(kind, _engine(kind), plan_.voice.espeak, espeak)
        except ServiceError:  # Festival not installed: the voice's espeak-ng variant still speaks
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


@provider.operation("SynthesizeSpeech")
def synthesize_speech(ctx: RequestContext, request: dict) -> dict:
    plan_ = plan(request)
    sentences = prepare(plan_, ctx.account_id, ctx.region)
    backend_ = backend(plan_)
    stream = stream_audio(plan_, backend_, sentences)
    # Say the first sentence before answering: a failing engine is then an AWS error, not a cut-off 200 stream.
    try:
        first = next(stream)
    except StopIteration:
        first = b""
    except ServiceError:
        raise
    except Exception as error:
        log.exception("speech synthesis failed")
        raise ServiceError("ServiceFailureException", f"Speech synthesis failed: {type(error).__name__}: {error}",
                           500, sender_fault=False) from None
    return {"AudioStream": itertools.chain([first], stream),
            "ContentType": CONTENT_TYPES[plan_.output_format], "RequestCharacters": plan_.billed}


@provider.operation("DescribeVoices")
def describe_voices(ctx: RequestContext, request: dict) -> dict:
    if request.get("NextToken"):
        raise ServiceError("InvalidNextTokenException", "The NextToken is invalid: every voice fits in one page.")
    engine, language = request.get("Engine"), request.get("LanguageCode")
    include_additional = request.get("IncludeAdditionalLanguageCodes", False)
    voices = []
    for voice in VOICES.values():
        if engine and engine not in supported_engines(voice):
            continue
        if language and voice.language != language and not (include_additional and language in voice.additional):
            continue
        entry = {"Gender": voice.gender, "Id": voice.id, "LanguageCode": voice.language,
                 "LanguageName": language_name(voice.language), "Name": voice.id,
                 "SupportedEngines": supported_engines(voice)}
        if voice.additional:
            entry["AdditionalLanguageCodes"] = list(voice.additional)
        voices.append(entry)
    return {"Voices": voices}


@provider.operation("PutLexicon")
def put_lexicon(ctx: RequestContext, request: dict) -> dict:
    lexicons.put(ctx, request["Name"], request["Content"])
    return {}


@provider.operation("GetLexicon")
def get_lexicon(ctx: RequestContext, request: dict) -> dict:
    found = lexicons.get(ctx.account_id, ctx.region, request["Name"])
    return {"Lexicon": {"Content": found.content, "Name": found.name}, "LexiconAttributes": found.attributes(ctx.region)}


@provider.operation("ListLexicons")
def list_lexicons(ctx: RequestContext, request: dict) -> dict:
    if request.get("NextToken"):
        raise ServiceError("InvalidNextTokenException", "The NextToken is invalid: every lexicon fits in one page.")
    return {"Lexicons": [{"Name": found.name, "Attributes": found.attributes(ctx.region)}
                         for found in lexicons.list_all(ctx)]}


@provider.operation("DeleteLexicon")
def delete_lexicon(ctx: RequestContext, request: dict) -> dict:
    lexicons.delete(ctx, request["Name"])
    return {}


@provider.operation("StartSpeechSynthesisTask")
def start_speech_synthesis_task(ctx: RequestContext, request: dict) -> dict:
    plan_ = plan(request, tasks.MAX_BILLED_CHARS, tasks.MAX_TOTAL_CHARS)
    prepare(plan_, ctx.account_id, ctx.region)  # SSML and lexicon errors now, not in the task
    return {"SynthesisTask": tasks.start(ctx, request, plan_)}


@provider.operation("GetSpeechSynthesisTask")
def get_speech_synthesis_task(ctx: RequestContext, request: dict) -> dict:
    return {"SynthesisTask": tasks.describe(ctx, request["TaskId"])}


@provider.operation("ListSpeechSynthesisTasks")
def list_speech_synthesis_tasks(ctx: RequestContext, request: dict) -> dict:
    found, token = tasks.list_tasks(ctx, request.get("Status"), request.get("NextToken"), request.get("MaxResults", 100))
    result = {"SynthesisTasks": found}
    if token:
        result["NextToken"] = token
    return result
