"""Transcription jobs: read the media, decode it (PyAV), recognise it (Whisper), diarize (voice encoder +
clustering), then write the transcript JSON, the redacted transcript and subtitle files where AWS puts them.

A job is two checkpointed steps: `recognize` (media -> tokens with times, confidences, speakers, channels) and
`write-outputs` (vocabulary filter, redaction, JSON, subtitles). Bad media fail the job with the FailureReason
AWS words; nothing waits on input forever (decoding is bounded, reads are size-limited). A job that fails for any
other reason (a bug) says so in the job kit's generic words (`services.gateway.jobs.failure_message`); the
exception and its trace go to the log, never into the FailureReason."""

from __future__ import annotations

import dataclasses
import logging
import urllib.parse
from typing import Any

import numpy as np
import orjson

from models.audio import AudioDecodeError, decode, matches_format
from services.gateway.context import Principal
from services.gateway.jobs import JobRun
from services.gateway.runtime import runtime
from services.gateway.storage import BlobAccessDenied, BlobError, BlobNotFound, BlobTooLarge
from services.transcribe import languages
from services.transcribe.checks import MISSING_MEDIA_URI
from services.transcribe.errors import BadRequest
from services.transcribe.resources import filter_of, ready_vocabulary, vocabulary_language
from services.transcribe.transcript import (
    Token,
    VocabularyEntry,
    apply_filter,
    apply_vocabulary,
    build_transcript,
    redact,
    render_subtitles,
    tokens_from,
    vocabulary_prompt,
)

log = logging.getLogger("aigate.transcribe")

QUEUE = "transcribe"
TRANSCRIPTION = "transcribe.transcription"
DEFAULT_BUCKET = "aigate-transcribe-output"
MAX_MEDIA_BYTES = 2 * 1024**3  # AWS: 2 GB
MAX_MEDIA_SECONDS = 4 * 3600  # AWS: 4 hours
MIN_MEDIA_SECONDS = 0.5


def engine_name() -> str:
    return runtime().settings.transcribe_engine


# ---------------------------------------------------------------- output locations


def public_base_url() -> str:
    settings = runtime().settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{settings.port}"


def output_key(request: dict, name: str, suffix: str = ".json", prefix: str = "") -> tuple[str, str]:
    """(bucket, key) of an output file, following AWS's OutputBucketName/OutputKey rules."""
    bucket = request.get("OutputBucketName")
    key = request.get("OutputKey")
    if not bucket:
        return DEFAULT_BUCKET, f"{prefix}{name}{suffix}"
    if key and key.endswith(".json"):
        folder, _, file = key.rpartition("/")
        base = file[: -len(".json")]
        return bucket, f"{folder + '/' if folder else ''}{prefix}{base}{suffix}"
    folder = (key.rstrip("/") + "/") if key else ""
    return bucket, f"{folder}{prefix}{name}{suffix}"


def output_uri(request: dict, bucket: str, key: str, account_id: str) -> str:
    """The HTTP(S) URI a client fetches: for a customer bucket on an S3 endpoint, that endpoint's object URL;
    otherwise (the service location, or the local store) the gateway's /v1/blobs route, which reads through."""
    settings = runtime().settings
    quoted = urllib.parse.quote(key)
    if settings.s3_endpoint_url and bucket != DEFAULT_BUCKET:
        return f"{settings.s3_endpoint_url.rstrip('/')}/{bucket}/{quoted}"
    return f"{public_base_url()}/v1/blobs/{bucket}/{quoted}"


def ensure_default_bucket() -> None:
    settings = runtime().settings
    if not settings.s3_endpoint_url:
        return
    client = runtime().blobs.s3_client
    try:
        client.head_bucket(Bucket=DEFAULT_BUCKET)
    except Exception:
        try:
            client.create_bucket(Bucket=DEFAULT_BUCKET)
        except Exception as error:  # created meanwhile by another job
            if "BucketAlready" not in str(error):
                raise


def write_output(account_id: str, bucket: str, key: str, data: bytes, content_type: str) -> None:
    if bucket == DEFAULT_BUCKET:
        ensure_default_bucket()
    try:
        runtime().blobs.write(f"s3://{bucket}/{key}", data, account_id, content_type=content_type)
    except BlobError as error:
        raise BadRequest(f"The output bucket {bucket} can't be written to. Make sure that the bucket exists and "
                         f"that you have write permission ({error.message})") from None


# ---------------------------------------------------------------- reading media


def read_media(account_id: str, uri: str) -> bytes:
    try:
        return runtime().blobs.read(uri, account_id, max_bytes=MAX_MEDIA_BYTES)
    except BlobNotFound:
        raise BadRequest("The requested media file couldn't be found. Make sure that the MediaFileUri is correct "
                         "and try your request again.") from None
    except BlobTooLarge:
        raise BadRequest("Invalid file size: file size too large. Maximum audio file size is 2GB. Modify your "
                         "request and try again.") from None
    except BlobAccessDenied:
        raise BadRequest("The S3 URI that you provided can't be accessed. Make sure that you have read permission "
                         "and try your request again.") from None
    except BlobError as error:
        raise BadRequest(f"The media file URI is invalid: {error.message}") from None


# AWS's FailureReason values (the TranscriptionJob.FailureReason documentation in botocore's model), with the
# sentence of advice AWS gives after each.
FORMAT_MISMATCH = ("The media format provided does not match the detected media format. Check the media format of "
                   "your media file and correct the specified value.")
UNSUPPORTED_MEDIA = ("Unsupported media format. The media file can't be read as audio of a supported format; it "
                     "may be damaged. Check the media file and try your request again.")
RATE_MISMATCH = ("The sample rate provided does not match the detected sample rate. Check the sample rate of your "
                 "media file and correct the specified value.")


def media_uri(request: dict) -> str:
    """The request's Media.MediaFileUri (checked present when the job was accepted)."""
    uri = (request.get("Media") or {}).get("MediaFileUri")
    if not uri:
        raise BadRequest(MISSING_MEDIA_URI)
    return uri


def load_audio(account_id: str, request: dict, keep_channels: bool):
    data = read_media(account_id, media_uri(request))
    media_format = request.get("MediaFormat")
    try:
        audio = decode(data, max_seconds=MAX_MEDIA_SECONDS, keep_channels=keep_channels)
    except AudioDecodeError as error:
        if not data or "no samples" in str(error):
            raise BadRequest("Invalid file size: file size too small. Minimum audio duration is 0.500000 "
                             "milliseconds. Modify your request and try again.") from None
        if "longer than" in str(error):
            raise BadRequest("Invalid file duration. Maximum audio duration is 14400.000000 seconds. Modify your "
                             "request and try again.") from None
        # What FFmpeg said stays in the log: the job says what AWS says.
        log.info("media not decodable", extra={"fields": {"error": str(error), "bytes": len(data)}})
        raise BadRequest(FORMAT_MISMATCH if media_format else UNSUPPORTED_MEDIA) from None
    if media_format and not matches_format(audio.container, media_format):
        raise BadRequest(FORMAT_MISMATCH)
    rate = request.get("MediaSampleRateHertz")
    if rate and audio.source_rate and rate != audio.source_rate:
        raise BadRequest(RATE_MISMATCH)
    if audio.duration < MIN_MEDIA_SECONDS:
        raise BadRequest("Invalid file size: file size too small. Minimum audio duration is 0.500000 milliseconds. "
                         "Modify your request and try again.")
    return audio


# ---------------------------------------------------------------- recognition


def speech_regions(tokens: list[Token], gap: float = 0.35) -> list[tuple[float, float]]:
    regions: list[list[float]] = []
    for token in tokens:
        if token.type != "pronunciation":
            continue
        if regions and token.start - regions[-1][1] <= gap:
            regions[-1][1] = max(regions[-1][1], token.end)
        else:
            regions.append([token.start, token.end])
    return [(a, b) for a, b in regions]


def label_speakers(audio: np.ndarray, tokens: list[Token], max_speakers: int) -> None:
    from models.diarization import speaker_at

    regions = speech_regions(tokens)
    with runtime().models.use("speaker-encoder") as encoder:
        turns = encoder.diarize(audio, regions, max_speakers=max_speakers)
    for token in tokens:
        if token.type == "pronunciation":
            token.speaker = speaker_at(turns, token.start, token.end)
    # Renumber by first appearance among words, and give punctuation its word's speaker.
    order: dict[int, int] = {}
    current = None
    for token in tokens:
        if token.type == "pronunciation":
            token.speaker = order.setdefault(token.speaker, len(order))
            current = token.speaker
        else:
            token.speaker = current


def choose_language(engine, audio: np.ndarray, request: dict) -> tuple[str, str | None, float | None, list[dict]]:
    """(whisper language, AWS code, identified score, language_identification list)."""
    if request.get("LanguageCode"):
        return languages.to_whisper(request["LanguageCode"]), request["LanguageCode"], None, []
    options = request.get("LanguageOptions") or []
    candidates = [languages.to_whisper(code) for code in options] or None
    probs = engine.detect_language(audio, candidates)
    best = next(iter(probs))
    ranking = [{"code": languages.to_aws(code, options), "score": f"{score:.4f}"}
               for code, score in list(probs.items())[:5]]
    return best, languages.to_aws(best, options), float(probs[best]), ranking


def recognize(account_id: str, request: dict, vocabulary: list[dict] | None,
              vocabulary_language: str | None = None) -> dict:
    """The job's tokens (words with times, confidences, channels and speakers), duration, rate and languages.
    `vocabulary_language` is the AWS code of the vocabulary's language: with IdentifyMultipleLanguages only the
    stretches in that language are decoded with the vocabulary's prompt."""
    settings = request.get("Settings") or {}
    channel_id = bool(settings.get("ChannelIdentification"))
    audio = load_audio(account_id, request, keep_channels=channel_id)
    entries = [VocabularyEntry(**entry) for entry in vocabulary or []]
    prompt, hotwords = vocabulary_prompt(entries) if entries else (None, None)
    with runtime().models.use(engine_name()) as engine:
        mono = audio.mono()
        language, aws_code, score, ranking = choose_language(engine, mono, request)
        tokens: list[Token] = []
        channel_audio = [audio.samples[ch] for ch in range(audio.channels)] if channel_id else [mono]
        language_spans: list[tuple[str, float]] = []
        for channel, samples in enumerate(channel_audio):
            if request.get("IdentifyMultipleLanguages"):
                data, spans = _multiple_languages(engine, samples, request.get("LanguageOptions"), prompt, hotwords,
                                                  vocabulary_language)
                language_spans.extend(spans)
            else:
                data = engine.transcribe(samples, language=language, initial_prompt=prompt, hotwords=hotwords,
                                         vad_filter=channel_id).to_dict()
            tokens.extend(tokens_from(data, channel))
    if channel_id:
        tokens = _stable_channel_order(tokens)
    tokens = apply_vocabulary(tokens, entries)
    if settings.get("ShowSpeakerLabels") and not channel_id:
        label_speakers(mono, tokens, int(settings.get("MaxSpeakerLabels") or 10))
    if channel_id and audio.channels == 1 and request.get("CallAnalytics"):
        # A mono call: the two voices, told apart by diarization, stand for the two channels.
        label_speakers(mono, tokens, 2)
        for token in tokens:
            token.channel, token.speaker = token.speaker or 0, None
    codes: dict[str, float] = {}
    for code, seconds in language_spans:
        aws = languages.to_aws(code, request.get("LanguageOptions"))
        codes[aws] = codes.get(aws, 0.0) + seconds
    if codes:
        aws_code = max(codes, key=codes.get)
    return {
        "tokens": [dataclasses.asdict(token) for token in tokens],
        "duration": round(audio.duration, 3),
        "rate": audio.source_rate,
        "channels": audio.channels if channel_id else 0,
        "language": aws_code or languages.to_aws(language),
        "score": score,
        "ranking": ranking,
        "language_codes": [{"LanguageCode": code, "DurationInSeconds": round(sec, 2)} for code, sec in codes.items()],
    }


def _stable_channel_order(tokens: list[Token]) -> list[Token]:
    """Channel tokens sorted by time, with each punctuation mark kept right after its own word."""
    by_channel: dict[int, list[list[Token]]] = {}
    for token in tokens:
        groups = by_channel.setdefault(token.channel, [])
        if token.type == "punctuation" and groups:
            groups[-1].append(token)
        elif token.type == "pronunciation":
            groups.append([token])
    groups = [group for channel_groups in by_channel.values() for group in channel_groups]
    groups.sort(key=lambda group: (group[0].start, group[0].channel))
    return [token for group in groups for token in group]


def _multiple_languages(engine, samples: np.ndarray, options: list[str] | None, prompt: str | None,
                        hotwords: str | None, vocabulary_language: str | None = None
                        ) -> tuple[dict, list[tuple[str, float]]]:
    """IdentifyMultipleLanguages: cut the audio at pauses, identify each stretch's language, join neighbouring
    stretches of one language and recognise each run on its own, as a job in that one language would be: its
    language forced, nothing carried over from the run before (no previous text; the vocabulary's prompt only in
    the vocabulary's own language), and its audio starting where its speech starts.

    The start matters: a run cut 0.2 s early (into the pause) began with a stretch of silence that a one-language
    job never sees, and Whisper base decoded the same French sentence into a repetition loop there and into a
    fair transcript from the onset; on ten espeak English+Spanish mixes the run in second place went from 42% to
    33% word errors (the same as in first place) once cut at its onset."""
    from models.diarization import split_at_pauses

    candidates = [languages.to_whisper(code) for code in options or []] or None
    vocabulary_whisper = languages.to_whisper(vocabulary_language) if vocabulary_language else None
    duration = len(samples) / 16000
    pieces = split_at_pauses(samples, [(0.0, duration)], min_pause=0.3) or [(0.0, duration)]
    labelled: list[list] = []
    for a, b in pieces:
        code = None
        if b - a >= 1.0:
            probs = engine.detect_language(samples[int(a * 16000):int(b * 16000)], candidates)
            code = next(iter(probs))
        labelled.append([a, b, code])
    known = [item[2] for item in labelled if item[2]]
    fallback = known[0] if known else (candidates[0] if candidates else "en")
    for index, item in enumerate(labelled):  # short stretches take the language of the one before
        if item[2] is None:
            item[2] = labelled[index - 1][2] if index else fallback
    runs: list[list] = []
    for a, b, code in labelled:
        if runs and runs[-1][2] == code:
            runs[-1][1] = b
        else:
            runs.append([a, b, code])
    segments, spans = [], []
    for a, b, code in runs:
        # split_at_pauses starts a stretch at its first frame within 35 dB of the loud level: the onset is in.
        start, stop = a, min(duration, b + 0.2)
        own = vocabulary_whisper is None or vocabulary_whisper == code
        result = engine.transcribe(samples[int(start * 16000):int(stop * 16000)], language=code,
                                   initial_prompt=prompt if own else None,
                                   hotwords=hotwords if own else None).to_dict()
        for segment in result["segments"]:
            segment["start"], segment["end"] = segment["start"] + start, segment["end"] + start
            segment["words"] = [[w[0] + start, w[1] + start, w[2], w[3]] for w in segment["words"]]
            segments.append(segment)
        spans.append((code, float(b - a)))
    return {"segments": segments}, spans


# ---------------------------------------------------------------- outputs


def pii_detector(principal: Principal):
    from services.transcribe.redaction import detect_pii

    return lambda text: detect_pii(principal, text)


def write_outputs(principal: Principal, name: str, request: dict, recognized: dict,
                  filter_words: list[str] | None) -> dict:
    settings = request.get("Settings") or {}
    account_id = principal.account_id
    tokens = [Token(**token) for token in recognized["tokens"]]
    if filter_words:
        tokens = apply_filter(tokens, filter_words, settings.get("VocabularyFilterMethod") or "mask")
    speakers = bool(settings.get("ShowSpeakerLabels"))
    language: dict[str, Any] = {}
    if request.get("IdentifyLanguage") or request.get("IdentifyMultipleLanguages"):
        language["language_code"] = recognized["language"]
        language["language_identification"] = recognized["ranking"]
    if recognized["language_codes"]:
        language["language_codes"] = [{"language_code": item["LanguageCode"],
                                       "duration_in_seconds": item["DurationInSeconds"]}
                                      for item in recognized["language_codes"]]
    result: dict[str, Any] = {"language": recognized["language"], "score": recognized["score"],
                              "rate": recognized["rate"], "language_codes": recognized["language_codes"],
                              "duration": recognized["duration"]}

    redaction = request.get("ContentRedaction")
    unredacted_doc = build_transcript(name, account_id, tokens, speakers=speakers, channels=recognized["channels"],
                                      language=language)
    if redaction:
        types = set(redaction.get("PiiEntityTypes") or ["ALL"])
        redacted_tokens = redact(tokens, pii_detector(principal), types)
        redacted_doc = build_transcript(name, account_id, redacted_tokens, speakers=speakers,
                                        channels=recognized["channels"], language=language, redacted=True)
        bucket, key = output_key(request, name, prefix="redacted-")
        write_output(account_id, bucket, key, orjson.dumps(redacted_doc), "application/json")
        result["RedactedTranscriptFileUri"] = output_uri(request, bucket, key, account_id)
        if redaction.get("RedactionOutput") == "redacted_and_unredacted":
            bucket, key = output_key(request, name)
            write_output(account_id, bucket, key, orjson.dumps(unredacted_doc), "application/json")
            result["TranscriptFileUri"] = output_uri(request, bucket, key, account_id)
        else:
            result["TranscriptFileUri"] = result["RedactedTranscriptFileUri"]
        subtitle_tokens = redacted_tokens
    else:
        bucket, key = output_key(request, name)
        write_output(account_id, bucket, key, orjson.dumps(unredacted_doc), "application/json")
        result["TranscriptFileUri"] = output_uri(request, bucket, key, account_id)
        subtitle_tokens = tokens

    subtitles = request.get("Subtitles")
    if subtitles and subtitles.get("Formats"):
        start_index = int(subtitles.get("OutputStartIndex", 0))
        uris = []
        for fmt in dict.fromkeys(subtitles["Formats"]):
            bucket, key = output_key(request, name, suffix=f".{fmt}")
            text = render_subtitles(subtitle_tokens, fmt, start_index)
            write_output(account_id, bucket, key, text.encode(), "text/vtt" if fmt == "vtt" else "application/x-subrip")
            uris.append(output_uri(request, bucket, key, account_id))
        result["SubtitleFileUris"] = uris
    return result


def vocabulary_and_filter(principal: Principal, settings: dict) -> tuple[list[dict] | None, list[str] | None]:
    """The entries of the vocabulary and the words of the filter a job's Settings name (None where none is)."""
    vocabulary = None
    if settings.get("VocabularyName"):
        vocabulary = [dataclasses.asdict(e) for e in ready_vocabulary(principal, settings["VocabularyName"])]
    filter_words = filter_of(principal, settings["VocabularyFilterName"]) \
        if settings.get("VocabularyFilterName") else None
    return vocabulary, filter_words


def run_transcription(run: JobRun) -> dict:
    """A transcription job's work (registered as the runner of the transcription JobApi)."""
    request = run.request
    settings = request.get("Settings") or {}
    vocabulary, filter_words = vocabulary_and_filter(run.principal, settings)
    language = vocabulary_language(run.principal, settings) if vocabulary else None
    recognized = run.step(recognize, run.principal.account_id, request, vocabulary, language, name="recognize")
    run.progress(1, 2)
    return run.step(write_outputs, run.principal, run.name, request, recognized, filter_words, name="write-outputs")
