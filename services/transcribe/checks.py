"""The checks of Transcribe's Start*/Create* requests beyond their botocore shapes, in AWS's words: the
language choice, job settings, subtitles, call channel definitions and call analytics category rules."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.kit.jobs import stored_form
from services.transcribe import languages
from services.transcribe.errors import BadRequest
from services.transcribe.resources import filter_of, ready_vocabulary


# AWS's validation wording for a required member left out.
MISSING_MEDIA_URI = ("1 validation error detected: Value null at 'media.mediaFileUri' failed to satisfy constraint: "
                     "Member must not be null")


def check_media(request: dict) -> None:
    """Media.MediaFileUri is required by the service though botocore's model leaves every Media member optional
    (RedactedMediaFileUri is an output of call analytics); AWS answers its absence at the call."""
    if not (request.get("Media") or {}).get("MediaFileUri"):
        raise BadRequest(MISSING_MEDIA_URI)


def check_language_request(request: dict) -> None:
    chosen = [key for key in ("LanguageCode", "IdentifyLanguage", "IdentifyMultipleLanguages") if request.get(key)]
    if not chosen:
        raise BadRequest("You must specify either LanguageCode, IdentifyLanguage or IdentifyMultipleLanguages.")
    if len(chosen) > 1:
        raise BadRequest(f"Specify only one of LanguageCode, IdentifyLanguage and IdentifyMultipleLanguages "
                         f"(got {', '.join(chosen)}).")
    codes = [request["LanguageCode"]] if request.get("LanguageCode") else list(request.get("LanguageOptions") or [])
    if request.get("LanguageOptions") and request.get("LanguageCode"):
        raise BadRequest("LanguageOptions can only be used with IdentifyLanguage or IdentifyMultipleLanguages.")
    if len(set(codes)) != len(codes):
        raise BadRequest("LanguageOptions must not repeat a language code.")
    for code in codes:
        languages.check_supported(code)
    if not request.get("LanguageCode") and request.get("LanguageOptions") is not None and \
            len(request["LanguageOptions"]) < 2:
        raise BadRequest("LanguageOptions must hold at least two language codes.")


def check_vocabulary_settings(ctx: RequestContext, settings: dict) -> None:
    """The vocabulary and filter a job's Settings name exist (and the vocabulary is ready)."""
    if settings.get("VocabularyName"):
        ready_vocabulary(ctx.principal, settings["VocabularyName"])
    if settings.get("VocabularyFilterName"):
        filter_of(ctx.principal, settings["VocabularyFilterName"])


def check_settings(ctx: RequestContext, request: dict) -> None:
    settings = request.get("Settings") or {}
    if settings.get("ShowSpeakerLabels") and settings.get("ChannelIdentification"):
        raise BadRequest("You can't use ShowSpeakerLabels and ChannelIdentification in the same request.")
    if settings.get("MaxSpeakerLabels") and not settings.get("ShowSpeakerLabels"):
        raise BadRequest("MaxSpeakerLabels requires ShowSpeakerLabels to be true.")
    if settings.get("ShowSpeakerLabels") and not settings.get("MaxSpeakerLabels"):
        raise BadRequest("When ShowSpeakerLabels is true, you must also specify MaxSpeakerLabels.")
    if settings.get("MaxAlternatives") and not settings.get("ShowAlternatives"):
        raise BadRequest("MaxAlternatives requires ShowAlternatives to be true.")
    if settings.get("ShowAlternatives"):
        raise BadRequest("ShowAlternatives is not supported by this gateway's speech model.")
    if (request.get("ModelSettings") or {}).get("LanguageModelName"):
        raise BadRequest(f"The requested language model {request['ModelSettings']['LanguageModelName']} couldn't "
                         f"be found (custom language models are not supported by this gateway).")
    if request.get("ToxicityDetection"):
        raise BadRequest("ToxicityDetection is not supported by this gateway.")
    if settings.get("VocabularyFilterMethod") and not settings.get("VocabularyFilterName"):
        raise BadRequest("VocabularyFilterMethod requires VocabularyFilterName.")
    check_vocabulary_settings(ctx, settings)
    redaction = request.get("ContentRedaction")
    if redaction:
        code = request.get("LanguageCode") or "en-US"
        if not code.startswith("en-") and not request.get("IdentifyLanguage"):
            raise BadRequest("Content redaction is only supported for English (en-US, en-GB, en-AU...).")
    if request.get("OutputKey") and not request.get("OutputBucketName"):
        raise BadRequest("OutputKey requires OutputBucketName.")


def check_subtitles(request: dict) -> None:
    subtitles = request.get("Subtitles")
    if subtitles and not subtitles.get("Formats"):
        raise BadRequest("Subtitles must name at least one format (srt or vtt).")


def check_call_analytics_request(ctx: RequestContext, request: dict) -> None:
    check_media(request)
    definitions = request.get("ChannelDefinitions") or []
    if definitions:
        if len(definitions) != 2 or {d["ChannelId"] for d in definitions} != {0, 1} or \
                {d["ParticipantRole"] for d in definitions} != {"AGENT", "CUSTOMER"}:
            raise BadRequest("ChannelDefinitions must name channel 0 and channel 1, one AGENT and one CUSTOMER.")
    location = request.get("OutputLocation")
    if location and not location.startswith("s3://"):
        raise BadRequest("OutputLocation must be an s3:// URI.")
    settings = request.get("Settings") or {}
    for code in settings.get("LanguageOptions") or []:
        languages.check_supported(code)
    check_vocabulary_settings(ctx, settings)


def checked_rules(rules: list[dict]) -> list[dict]:
    """A call analytics category's rules, checked, as stored (each rule holding its one filter)."""
    if not rules:
        raise BadRequest("A category needs at least one rule.")
    clean = []
    for rule in rules:
        present = {key: value for key, value in rule.items() if value is not None}
        if len(present) != 1:
            raise BadRequest("Each rule must hold exactly one of NonTalkTimeFilter, InterruptionFilter, "
                             "TranscriptFilter and SentimentFilter.")
        (kind, spec), = present.items()
        if spec.get("AbsoluteTimeRange") and spec.get("RelativeTimeRange"):
            raise BadRequest(f"{kind}: use AbsoluteTimeRange or RelativeTimeRange, not both.")
        if kind == "TranscriptFilter" and not spec.get("Targets"):
            raise BadRequest("TranscriptFilter needs Targets.")
        if kind == "SentimentFilter" and not spec.get("Sentiments"):
            raise BadRequest("SentimentFilter needs Sentiments.")
        clean.append(stored_form(present))
    return clean
