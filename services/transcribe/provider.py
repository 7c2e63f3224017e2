"""Amazon Transcribe operations, keyed by AWS operation name (botocore service `transcribe`, JSON 1.1)."""

from __future__ import annotations

import orjson
from sqlalchemy import delete, select

from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.jobs import Job
from services.gateway.registry import ServiceProvider
from services.gateway.runtime import runtime
from services.transcribe import languages
from services.transcribe.jobs import TRANSCRIPTION
from services.transcribe.streaming import serve_websocket
from services.transcribe.resources import (
    Vocabulary,
    VocabularyFilter,
    aware,
    bad_request,
    filter_of,
    filter_words,
    get_row,
    list_rows,
    not_found,
    ready_vocabulary,
    utcnow,
    vocabulary_entries,
)

provider = ServiceProvider("transcribe")
provider.websocket("/stream-transcription-websocket")(serve_websocket)

STATUS = {"SUBMITTED": "QUEUED", "IN_PROGRESS": "IN_PROGRESS", "STOP_REQUESTED": "IN_PROGRESS",
          "COMPLETED": "COMPLETED", "FAILED": "FAILED", "STOPPED": "FAILED"}
STATUS_BACK = {"QUEUED": ["SUBMITTED"], "IN_PROGRESS": ["IN_PROGRESS", "STOP_REQUESTED"],
               "COMPLETED": ["COMPLETED"], "FAILED": ["FAILED", "STOPPED"]}


# ---------------------------------------------------------------- shared job helpers


def find_job(ctx: RequestContext, kind: str, name: str) -> Job | None:
    with runtime().db.session() as session:
        return session.scalar(select(Job).where(Job.account_id == ctx.account_id, Job.region == ctx.region,
                                                Job.kind == kind, Job.name == name))


def check_language_request(request: dict) -> None:
    chosen = [key for key in ("LanguageCode", "IdentifyLanguage", "IdentifyMultipleLanguages") if request.get(key)]
    if not chosen:
        raise bad_request("You must specify either LanguageCode, IdentifyLanguage or IdentifyMultipleLanguages.")
    if len(chosen) > 1:
        raise bad_request(f"Specify only one of LanguageCode, IdentifyLanguage and IdentifyMultipleLanguages "
                          f"(got {', '.join(chosen)}).")
    codes = [request["LanguageCode"]] if request.get("LanguageCode") else list(request.get("LanguageOptions") or [])
    if request.get("LanguageOptions") and request.get("LanguageCode"):
        raise bad_request("LanguageOptions can only be used with IdentifyLanguage or IdentifyMultipleLanguages.")
    if len(set(codes)) != len(codes):
        raise bad_request("LanguageOptions must not repeat a language code.")
    for code in codes:
        if not languages.whisper_supports(code):
            raise languages.unsupported(code)
    if not request.get("LanguageCode") and request.get("LanguageOptions") is not None and \
            len(request["LanguageOptions"]) < 2:
        raise bad_request("LanguageOptions must hold at least two language codes.")


def check_settings(ctx: RequestContext, request: dict) -> None:
    settings = request.get("Settings") or {}
    if settings.get("ShowSpeakerLabels") and settings.get("ChannelIdentification"):
        raise bad_request("You can't use ShowSpeakerLabels and ChannelIdentification in the same request.")
    if settings.get("MaxSpeakerLabels") and not settings.get("ShowSpeakerLabels"):
        raise bad_request("MaxSpeakerLabels requires ShowSpeakerLabels to be true.")
    if settings.get("ShowSpeakerLabels") and not settings.get("MaxSpeakerLabels"):
        raise bad_request("When ShowSpeakerLabels is true, you must also specify MaxSpeakerLabels.")
    if settings.get("MaxAlternatives") and not settings.get("ShowAlternatives"):
        raise bad_request("MaxAlternatives requires ShowAlternatives to be true.")
    if settings.get("ShowAlternatives"):
        raise bad_request("ShowAlternatives is not supported by this gateway's speech model.")
    if (request.get("ModelSettings") or {}).get("LanguageModelName"):
        raise bad_request(f"The requested language model {request['ModelSettings']['LanguageModelName']} couldn't "
                          f"be found (custom language models are not supported by this gateway).")
    if request.get("ToxicityDetection"):
        raise bad_request("ToxicityDetection is not supported by this gateway.")
    if settings.get("VocabularyFilterMethod") and not settings.get("VocabularyFilterName"):
        raise bad_request("VocabularyFilterMethod requires VocabularyFilterName.")
    if settings.get("VocabularyName"):
        ready_vocabulary(ctx.principal, settings["VocabularyName"])
    if settings.get("VocabularyFilterName"):
        filter_of(ctx.principal, settings["VocabularyFilterName"])
    redaction = request.get("ContentRedaction")
    if redaction:
        code = request.get("LanguageCode") or "en-US"
        if not code.startswith("en-") and not request.get("IdentifyLanguage"):
            raise bad_request("Content redaction is only supported for English (en-US, en-GB, en-AU...).")
    if request.get("OutputKey") and not request.get("OutputBucketName"):
        raise bad_request("OutputKey requires OutputBucketName.")


def stored_request(request: dict) -> dict:
    return orjson.loads(orjson.dumps(request, default=str))


# ---------------------------------------------------------------- transcription jobs


def transcription_job(job: Job, summary: bool = False) -> dict:
    request, result = job.request, job.result or {}
    status = STATUS[job.status]
    out: dict = {
        "TranscriptionJobName": job.name,
        "TranscriptionJobStatus": status,
        "LanguageCode": request.get("LanguageCode") or result.get("language"),
        "CreationTime": job.time("created_at"),
        "StartTime": job.time("started_at"),
        "CompletionTime": job.time("ended_at") if status in ("COMPLETED", "FAILED") else None,
        "FailureReason": job.message if status == "FAILED" else None,
        "IdentifyLanguage": request.get("IdentifyLanguage"),
        "IdentifyMultipleLanguages": request.get("IdentifyMultipleLanguages"),
        "IdentifiedLanguageScore": result.get("score") if (request.get("IdentifyLanguage")
                                                           or request.get("IdentifyMultipleLanguages")) else None,
        "LanguageCodes": result.get("language_codes") or None,
        "ContentRedaction": request.get("ContentRedaction"),
    }
    if summary:
        out["OutputLocationType"] = "CUSTOMER_BUCKET" if request.get("OutputBucketName") else "SERVICE_BUCKET"
        return {key: value for key, value in out.items() if value is not None}
    out.update({
        "MediaSampleRateHertz": request.get("MediaSampleRateHertz") or result.get("rate") or None,
        "MediaFormat": request.get("MediaFormat"),
        "Media": request["Media"],
        "Settings": request.get("Settings"),
        "LanguageOptions": request.get("LanguageOptions"),
        "Tags": request.get("Tags"),
        "JobExecutionSettings": request.get("JobExecutionSettings"),
    })
    if status == "COMPLETED":
        transcript = {"TranscriptFileUri": result.get("TranscriptFileUri")}
        if result.get("RedactedTranscriptFileUri"):
            transcript["RedactedTranscriptFileUri"] = result["RedactedTranscriptFileUri"]
        out["Transcript"] = transcript
    else:
        out["Transcript"] = {}
    if request.get("Subtitles"):
        out["Subtitles"] = {"Formats": request["Subtitles"].get("Formats", []),
                            "SubtitleFileUris": result.get("SubtitleFileUris", []),
                            "OutputStartIndex": request["Subtitles"].get("OutputStartIndex", 0)}
    return {key: value for key, value in out.items() if value is not None}


@provider.operation("StartTranscriptionJob")
def start_transcription_job(ctx: RequestContext, request: dict) -> dict:
    check_language_request(request)
    check_settings(ctx, request)
    name = request["TranscriptionJobName"]
    if find_job(ctx, TRANSCRIPTION, name) is not None:
        raise ServiceError("ConflictException",
                           "The requested job name already exists. Use a different job name.")
    subtitles = request.get("Subtitles")
    if subtitles and not subtitles.get("Formats"):
        raise bad_request("Subtitles must name at least one format (srt or vtt).")
    job = runtime().jobs.submit(ctx.principal, TRANSCRIPTION, stored_request(request), name=name)
    return {"TranscriptionJob": transcription_job(job)}


@provider.operation("GetTranscriptionJob")
def get_transcription_job(ctx: RequestContext, request: dict) -> dict:
    job = find_job(ctx, TRANSCRIPTION, request["TranscriptionJobName"])
    if job is None:
        raise not_found("The requested job couldn't be found. Check the job name and try your request again.")
    return {"TranscriptionJob": transcription_job(job)}


def list_jobs(ctx: RequestContext, kind: str, request: dict) -> tuple[list[Job], str | None]:
    status = request.get("Status")
    contains = request.get("JobNameContains")
    limit = request.get("MaxResults", 100)
    query = select(Job).where(Job.account_id == ctx.account_id, Job.region == ctx.region, Job.kind == kind)
    if status:
        query = query.where(Job.status.in_(STATUS_BACK[status]))
    with runtime().db.session() as session:
        jobs = list(session.scalars(query.order_by(Job.created_at.desc(), Job.job_id.desc())))
    if contains:
        jobs = [job for job in jobs if contains.lower() in (job.name or "").lower()]
    start = 0
    if request.get("NextToken"):
        try:
            start = int(request["NextToken"])
        except ValueError:
            raise bad_request("The NextToken is not valid.") from None
    page = jobs[start:start + limit]
    token = str(start + limit) if start + limit < len(jobs) else None
    return page, token


@provider.operation("ListTranscriptionJobs")
def list_transcription_jobs(ctx: RequestContext, request: dict) -> dict:
    page, token = list_jobs(ctx, TRANSCRIPTION, request)
    out = {"TranscriptionJobSummaries": [transcription_job(job, summary=True) for job in page]}
    if request.get("Status"):
        out["Status"] = request["Status"]
    if token:
        out["NextToken"] = token
    return out


def delete_job(ctx: RequestContext, kind: str, name: str) -> None:
    job = find_job(ctx, kind, name)
    if job is None:
        raise not_found("The requested job couldn't be found. Check the job name and try your request again.")
    if job.status in ("SUBMITTED", "IN_PROGRESS"):
        runtime().jobs.store.request_stop(ctx.principal, kind, job.job_id)
    with runtime().db.session() as session:
        session.execute(delete(Job).where(Job.job_id == job.job_id))


@provider.operation("DeleteTranscriptionJob")
def delete_transcription_job(ctx: RequestContext, request: dict) -> dict:
    delete_job(ctx, TRANSCRIPTION, request["TranscriptionJobName"])
    return {}


# ---------------------------------------------------------------- custom vocabularies


def _check_language(code: str) -> None:
    if not languages.whisper_supports(code):
        raise languages.unsupported(code)


@provider.operation("CreateVocabulary")
def create_vocabulary(ctx: RequestContext, request: dict) -> dict:
    _check_language(request["LanguageCode"])
    name = request["VocabularyName"]
    if get_row(Vocabulary, ctx.principal, name) is not None:
        raise ServiceError("ConflictException", "The requested vocabulary name already exists. "
                           "Use a different vocabulary name.")
    entries, uri = vocabulary_entries(ctx.principal, request)
    now = utcnow()
    with runtime().db.session() as session:
        session.add(Vocabulary(account_id=ctx.account_id, region=ctx.region, name=name,
                               language_code=request["LanguageCode"], entries=[e.__dict__ for e in entries],
                               state="READY", failure_reason=None, source_uri=uri, modified_at=now))
    return {"VocabularyName": name, "LanguageCode": request["LanguageCode"], "VocabularyState": "READY",
            "LastModifiedTime": now}


@provider.operation("UpdateVocabulary")
def update_vocabulary(ctx: RequestContext, request: dict) -> dict:
    _check_language(request["LanguageCode"])
    name = request["VocabularyName"]
    entries, uri = vocabulary_entries(ctx.principal, request)
    now = utcnow()
    with runtime().db.session() as session:
        row = session.get(Vocabulary, (ctx.account_id, ctx.region, name))
        if row is None:
            raise bad_request("The requested vocabulary couldn't be found. Check the vocabulary name and try your "
                              "request again.")
        row.language_code, row.entries, row.source_uri = request["LanguageCode"], [e.__dict__ for e in entries], uri
        row.state, row.modified_at = "READY", now
    return {"VocabularyName": name, "LanguageCode": request["LanguageCode"], "VocabularyState": "READY",
            "LastModifiedTime": now}


def _vocabulary_download(ctx: RequestContext, row: Vocabulary) -> str:
    from services.transcribe.jobs import DEFAULT_BUCKET, output_uri, write_output

    lines = ["Phrase\tSoundsLike\tIPA\tDisplayAs"] + [
        "\t".join(entry.get(key) or "" for key in ("phrase", "sounds_like", "ipa", "display_as"))
        for entry in row.entries]
    key = f"vocabularies/{ctx.region}/{row.name}.txt"
    write_output(ctx.account_id, DEFAULT_BUCKET, key, ("\n".join(lines) + "\n").encode(), "text/plain")
    return output_uri({}, DEFAULT_BUCKET, key, ctx.account_id)


@provider.operation("GetVocabulary")
def get_vocabulary(ctx: RequestContext, request: dict) -> dict:
    row = get_row(Vocabulary, ctx.principal, request["VocabularyName"])
    if row is None:
        raise not_found("The requested vocabulary couldn't be found. Check the vocabulary name and try your "
                        "request again.")
    return {"VocabularyName": row.name, "LanguageCode": row.language_code, "VocabularyState": row.state,
            "LastModifiedTime": aware(row.modified_at), "FailureReason": row.failure_reason,
            "DownloadUri": _vocabulary_download(ctx, row)}


def _page(rows: list, request: dict) -> tuple[list, str | None]:
    limit = request.get("MaxResults", 100)
    start = 0
    if request.get("NextToken"):
        try:
            start = int(request["NextToken"])
        except ValueError:
            raise bad_request("The NextToken is not valid.") from None
    return rows[start:start + limit], (str(start + limit) if start + limit < len(rows) else None)


@provider.operation("ListVocabularies")
def list_vocabularies(ctx: RequestContext, request: dict) -> dict:
    rows = list_rows(Vocabulary, ctx.principal, request.get("NameContains"), request.get("StateEquals"))
    page, token = _page(rows, request)
    out = {"Vocabularies": [{"VocabularyName": r.name, "LanguageCode": r.language_code,
                             "LastModifiedTime": aware(r.modified_at), "VocabularyState": r.state} for r in page]}
    if request.get("StateEquals"):
        out["Status"] = request["StateEquals"]
    if token:
        out["NextToken"] = token
    return out


@provider.operation("DeleteVocabulary")
def delete_vocabulary(ctx: RequestContext, request: dict) -> dict:
    with runtime().db.session() as session:
        row = session.get(Vocabulary, (ctx.account_id, ctx.region, request["VocabularyName"]))
        if row is None:
            raise not_found("The requested vocabulary couldn't be found. Check the vocabulary name and try your "
                            "request again.")
        session.delete(row)
    return {}


# ---------------------------------------------------------------- vocabulary filters


@provider.operation("CreateVocabularyFilter")
def create_vocabulary_filter(ctx: RequestContext, request: dict) -> dict:
    _check_language(request["LanguageCode"])
    name = request["VocabularyFilterName"]
    if get_row(VocabularyFilter, ctx.principal, name) is not None:
        raise ServiceError("ConflictException", "The requested vocabulary filter name already exists. "
                           "Use a different name.")
    words, uri = filter_words(ctx.principal, request)
    now = utcnow()
    with runtime().db.session() as session:
        session.add(VocabularyFilter(account_id=ctx.account_id, region=ctx.region, name=name,
                                     language_code=request["LanguageCode"], words=words, source_uri=uri,
                                     modified_at=now))
    return {"VocabularyFilterName": name, "LanguageCode": request["LanguageCode"], "LastModifiedTime": now}


@provider.operation("UpdateVocabularyFilter")
def update_vocabulary_filter(ctx: RequestContext, request: dict) -> dict:
    name = request["VocabularyFilterName"]
    words, uri = filter_words(ctx.principal, request)
    now = utcnow()
    with runtime().db.session() as session:
        row = session.get(VocabularyFilter, (ctx.account_id, ctx.region, name))
        if row is None:
            raise not_found("The requested vocabulary filter couldn't be found.")
        row.words, row.source_uri, row.modified_at = words, uri, now
        code = row.language_code
    return {"VocabularyFilterName": name, "LanguageCode": code, "LastModifiedTime": now}


@provider.operation("GetVocabularyFilter")
def get_vocabulary_filter(ctx: RequestContext, request: dict) -> dict:
    from services.transcribe.jobs import DEFAULT_BUCKET, output_uri, write_output

    row = get_row(VocabularyFilter, ctx.principal, request["VocabularyFilterName"])
    if row is None:
        raise not_found("The requested vocabulary filter couldn't be found.")
    key = f"vocabulary-filters/{ctx.region}/{row.name}.txt"
    write_output(ctx.account_id, DEFAULT_BUCKET, key, ("\n".join(row.words) + "\n").encode(), "text/plain")
    return {"VocabularyFilterName": row.name, "LanguageCode": row.language_code,
            "LastModifiedTime": aware(row.modified_at), "DownloadUri": output_uri({}, DEFAULT_BUCKET, key,
                                                                                  ctx.account_id)}


@provider.operation("ListVocabularyFilters")
def list_vocabulary_filters(ctx: RequestContext, request: dict) -> dict:
    rows = list_rows(VocabularyFilter, ctx.principal, request.get("NameContains"))
    page, token = _page(rows, request)
    out = {"VocabularyFilters": [{"VocabularyFilterName": r.name, "LanguageCode": r.language_code,
                                  "LastModifiedTime": aware(r.modified_at)} for r in page]}
    if token:
        out["NextToken"] = token
    return out


@provider.operation("DeleteVocabularyFilter")
def delete_vocabulary_filter(ctx: RequestContext, request: dict) -> dict:
    with runtime().db.session() as session:
        row = session.get(VocabularyFilter, (ctx.account_id, ctx.region, request["VocabularyFilterName"]))
        if row is None:
            raise not_found("The requested vocabulary filter couldn't be found.")
        session.delete(row)
    return {}


# ---------------------------------------------------------------- call analytics

from services.transcribe.analytics import CALL_ANALYTICS  # noqa: E402  (registers the job kind)
from services.transcribe.resources import CallCategory  # noqa: E402


def call_analytics_job(job: Job, summary: bool = False) -> dict:
    request, result = job.request, job.result or {}
    status = STATUS[job.status]
    out: dict = {
        "CallAnalyticsJobName": job.name, "CallAnalyticsJobStatus": status,
        "LanguageCode": result.get("language"),
        "CreationTime": job.time("created_at"), "StartTime": job.time("started_at"),
        "CompletionTime": job.time("ended_at") if status in ("COMPLETED", "FAILED") else None,
        "FailureReason": job.message if status == "FAILED" else None,
        "CallAnalyticsJobDetails": {"Skipped": []} if status == "COMPLETED" else None,
    }
    if not summary:
        out.update({
            "MediaSampleRateHertz": result.get("rate"), "Media": request["Media"],
            "DataAccessRoleArn": request.get("DataAccessRoleArn"), "Settings": request.get("Settings"),
            "ChannelDefinitions": request.get("ChannelDefinitions"), "Tags": request.get("Tags"),
            "IdentifiedLanguageScore": result.get("score"),
            "Transcript": {key: result[key] for key in ("TranscriptFileUri", "RedactedTranscriptFileUri")
                           if key in result},
        })
    return {key: value for key, value in out.items() if value is not None}


@provider.operation("StartCallAnalyticsJob")
def start_call_analytics_job(ctx: RequestContext, request: dict) -> dict:
    name = request["CallAnalyticsJobName"]
    definitions = request.get("ChannelDefinitions") or []
    if definitions:
        if len(definitions) != 2 or {d["ChannelId"] for d in definitions} != {0, 1} or \
                {d["ParticipantRole"] for d in definitions} != {"AGENT", "CUSTOMER"}:
            raise bad_request("ChannelDefinitions must name channel 0 and channel 1, one AGENT and one CUSTOMER.")
    location = request.get("OutputLocation")
    if location and not location.startswith("s3://"):
        raise bad_request("OutputLocation must be an s3:// URI.")
    settings = request.get("Settings") or {}
    for code in settings.get("LanguageOptions") or []:
        if not languages.whisper_supports(code):
            raise languages.unsupported(code)
    if settings.get("VocabularyName"):
        ready_vocabulary(ctx.principal, settings["VocabularyName"])
    if settings.get("VocabularyFilterName"):
        filter_of(ctx.principal, settings["VocabularyFilterName"])
    if find_job(ctx, CALL_ANALYTICS, name) is not None:
        raise ServiceError("ConflictException", "The requested job name already exists. Use a different job name.")
    job = runtime().jobs.submit(ctx.principal, CALL_ANALYTICS, stored_request(request), name=name)
    return {"CallAnalyticsJob": call_analytics_job(job)}


@provider.operation("GetCallAnalyticsJob")
def get_call_analytics_job(ctx: RequestContext, request: dict) -> dict:
    job = find_job(ctx, CALL_ANALYTICS, request["CallAnalyticsJobName"])
    if job is None:
        raise not_found("The requested job couldn't be found. Check the job name and try your request again.")
    return {"CallAnalyticsJob": call_analytics_job(job)}


@provider.operation("ListCallAnalyticsJobs")
def list_call_analytics_jobs(ctx: RequestContext, request: dict) -> dict:
    page, token = list_jobs(ctx, CALL_ANALYTICS, request)
    out = {"CallAnalyticsJobSummaries": [call_analytics_job(job, summary=True) for job in page]}
    if request.get("Status"):
        out["Status"] = request["Status"]
    if token:
        out["NextToken"] = token
    return out


@provider.operation("DeleteCallAnalyticsJob")
def delete_call_analytics_job(ctx: RequestContext, request: dict) -> dict:
    delete_job(ctx, CALL_ANALYTICS, request["CallAnalyticsJobName"])
    return {}


def _check_rules(rules: list[dict]) -> list[dict]:
    if not rules:
        raise bad_request("A category needs at least one rule.")
    clean = []
    for rule in rules:
        present = {key: value for key, value in rule.items() if value is not None}
        if len(present) != 1:
            raise bad_request("Each rule must hold exactly one of NonTalkTimeFilter, InterruptionFilter, "
                              "TranscriptFilter and SentimentFilter.")
        (kind, spec), = present.items()
        if spec.get("AbsoluteTimeRange") and spec.get("RelativeTimeRange"):
            raise bad_request(f"{kind}: use AbsoluteTimeRange or RelativeTimeRange, not both.")
        if kind == "TranscriptFilter" and not spec.get("Targets"):
            raise bad_request("TranscriptFilter needs Targets.")
        if kind == "SentimentFilter" and not spec.get("Sentiments"):
            raise bad_request("SentimentFilter needs Sentiments.")
        clean.append(stored_request(present))
    return clean


def _category(row: CallCategory) -> dict:
    return {"CategoryName": row.name, "Rules": row.rules, "CreateTime": aware(row.created_at),
            "LastUpdateTime": aware(row.modified_at), "InputType": row.input_type}


@provider.operation("CreateCallAnalyticsCategory")
def create_call_analytics_category(ctx: RequestContext, request: dict) -> dict:
    name = request["CategoryName"]
    rules = _check_rules(request["Rules"])
    if get_row(CallCategory, ctx.principal, name) is not None:
        raise ServiceError("ConflictException", "The requested category name already exists. Use a different name.")
    now = utcnow()
    row = CallCategory(account_id=ctx.account_id, region=ctx.region, name=name, rules=rules,
                       input_type=request.get("InputType") or "POST_CALL", created_at=now, modified_at=now)
    with runtime().db.session() as session:
        session.add(row)
    return {"CategoryProperties": _category(row)}


@provider.operation("GetCallAnalyticsCategory")
def get_call_analytics_category(ctx: RequestContext, request: dict) -> dict:
    row = get_row(CallCategory, ctx.principal, request["CategoryName"])
    if row is None:
        raise not_found("The requested category couldn't be found.")
    return {"CategoryProperties": _category(row)}


@provider.operation("ListCallAnalyticsCategories")
def list_call_analytics_categories(ctx: RequestContext, request: dict) -> dict:
    page, token = _page(list_rows(CallCategory, ctx.principal), request)
    out = {"Categories": [_category(row) for row in page]}
    if token:
        out["NextToken"] = token
    return out


@provider.operation("UpdateCallAnalyticsCategory")
def update_call_analytics_category(ctx: RequestContext, request: dict) -> dict:
    rules = _check_rules(request["Rules"])
    with runtime().db.session() as session:
        row = session.get(CallCategory, (ctx.account_id, ctx.region, request["CategoryName"]))
        if row is None:
            raise not_found("The requested category couldn't be found.")
        row.rules, row.modified_at = rules, utcnow()
        if request.get("InputType"):
            row.input_type = request["InputType"]
        props = _category(row)
    return {"CategoryProperties": props}


@provider.operation("DeleteCallAnalyticsCategory")
def delete_call_analytics_category(ctx: RequestContext, request: dict) -> dict:
    with runtime().db.session() as session:
        row = session.get(CallCategory, (ctx.account_id, ctx.region, request["CategoryName"]))
        if row is None:
            raise not_found("The requested category couldn't be found.")
        session.delete(row)
    return {}
