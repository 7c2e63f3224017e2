"""Comprehend operations, keyed by AWS operation name."""

from __future__ import annotations

from collections.abc import Callable

from services.comprehend import analysis
from services.comprehend.analysis import MAX_BATCH_DOCUMENTS, TEXT_LIMITS, check_language, check_size, text_size
from services.comprehend.jobs import DOMINANT_LANGUAGE, JobType, job_properties, start_job
from services.comprehend.job_types import (
    ENTITIES,
    KEY_PHRASES,
    PII,
    SENTIMENT,
    TARGETED_SENTIMENT,
    TOPICS,
)
from services.comprehend.language import detect_languages_batched, detect_languages_many
from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.registry import ServiceProvider
from services.gateway.runtime import runtime

provider = ServiceProvider("comprehend")


# ---------------------------------------------------------------------------------------------------------------
# Real-time analysis
# ---------------------------------------------------------------------------------------------------------------


@provider.operation("DetectDominantLanguage")
async def detect_dominant_language(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectDominantLanguage", request["Text"])
    return {"Languages": await detect_languages_batched(request["Text"])}


@provider.operation("DetectSentiment")
async def detect_sentiment(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectSentiment", request["Text"])
    check_language("DetectSentiment", request["LanguageCode"])
    return await analysis.sentiment_one(request["Text"])


@provider.operation("DetectTargetedSentiment")
async def detect_targeted_sentiment(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectTargetedSentiment", request["Text"])
    check_language("DetectTargetedSentiment", request["LanguageCode"])
    return {"Entities": await analysis.targeted_one(request["Text"])}


def _text_input(request: dict, operation: str) -> str:
    if request.get("Bytes") is not None or request.get("DocumentReaderConfig") is not None:
        raise ServiceError("InvalidRequestException",
                           f"{operation} with Bytes (semi-structured documents) needs a custom model endpoint; "
                           f"send the document's text in Text.")
    if not request.get("Text"):
        raise ServiceError("InvalidRequestException", "Text is required.")
    return request["Text"]


@provider.operation("DetectEntities")
async def detect_entities(ctx: RequestContext, request: dict) -> dict:
    if request.get("EndpointArn"):
        from services.comprehend import custom

        return await custom.detect_entities_with_endpoint(ctx, request)
    text = _text_input(request, "DetectEntities")
    check_size("DetectEntities", text)
    language = request.get("LanguageCode")
    if not language:
        raise ServiceError("InvalidRequestException", "LanguageCode is required unless EndpointArn is given.")
    check_language("DetectEntities", language)
    return {"Entities": await analysis.spacy_one("entities", text, language)}


@provider.operation("DetectKeyPhrases")
async def detect_key_phrases(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectKeyPhrases", request["Text"])
    check_language("DetectKeyPhrases", request["LanguageCode"])
    return {"KeyPhrases": await analysis.spacy_one("key_phrases", request["Text"], request["LanguageCode"])}


@provider.operation("DetectSyntax")
async def detect_syntax(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectSyntax", request["Text"])
    check_language("DetectSyntax", request["LanguageCode"])
    return {"SyntaxTokens": await analysis.spacy_one("syntax", request["Text"], request["LanguageCode"])}


@provider.operation("DetectPiiEntities")
async def detect_pii_entities(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectPiiEntities", request["Text"])
    check_language("DetectPiiEntities", request["LanguageCode"])
    return {"Entities": await analysis.pii_one(request["Text"])}


@provider.operation("ContainsPiiEntities")
async def contains_pii_entities(ctx: RequestContext, request: dict) -> dict:
    check_size("ContainsPiiEntities", request["Text"])
    check_language("ContainsPiiEntities", request["LanguageCode"])
    return {"Labels": analysis.pii_labels(await analysis.pii_one(request["Text"]))}


# ---------------------------------------------------------------------------------------------------------------
# Batch* operations: up to 25 documents, per-document errors in ErrorList
# ---------------------------------------------------------------------------------------------------------------


def _batch(request: dict, operation: str, analyse: Callable[[list[str]], list], member: str,
           language_operation: str | None = None) -> dict:
    texts = request["TextList"]
    if len(texts) > MAX_BATCH_DOCUMENTS:
        raise ServiceError("BatchSizeLimitExceededException",
                           f"The number of documents in the request exceeds the limit of {MAX_BATCH_DOCUMENTS}.")
    if language_operation is not None:
        check_language(language_operation, request["LanguageCode"])
    limit = TEXT_LIMITS[language_operation or operation]
    errors, valid = [], []
    for index, text in enumerate(texts):
        size = text_size(text)
        if size > limit:
            errors.append({"Index": index, "ErrorCode": "TEXT_SIZE_LIMIT_EXCEEDED",
                           "ErrorMessage": f"Document size {size} bytes exceeds the limit of {limit} bytes"})
        elif not text.strip():
            errors.append({"Index": index, "ErrorCode": "INVALID_REQUEST",
                           "ErrorMessage": "The document is empty or holds only whitespace."})
        else:
            valid.append(index)
    found = analyse([texts[index] for index in valid]) if valid else []
    results = [{"Index": index, **({member: value} if member else value)} for index, value in zip(valid, found)]
    return {"ResultList": results, "ErrorList": errors}


@provider.operation("BatchDetectDominantLanguage")
def batch_detect_dominant_language(ctx: RequestContext, request: dict) -> dict:
    return _batch(request, "DetectDominantLanguage", detect_languages_many, "Languages")


@provider.operation("BatchDetectSentiment")
def batch_detect_sentiment(ctx: RequestContext, request: dict) -> dict:
    return _batch(request, "BatchDetectSentiment", analysis.sentiment_many, "", "DetectSentiment")


@provider.operation("BatchDetectTargetedSentiment")
def batch_detect_targeted_sentiment(ctx: RequestContext, request: dict) -> dict:
    return _batch(request, "BatchDetectTargetedSentiment", analysis.targeted_many, "Entities",
                  "DetectTargetedSentiment")


@provider.operation("BatchDetectEntities")
def batch_detect_entities(ctx: RequestContext, request: dict) -> dict:
    language = request["LanguageCode"]
    return _batch(request, "BatchDetectEntities", lambda texts: analysis.spacy_many("entities", texts, language),
                  "Entities", "DetectEntities")


@provider.operation("BatchDetectKeyPhrases")
def batch_detect_key_phrases(ctx: RequestContext, request: dict) -> dict:
    language = request["LanguageCode"]
    return _batch(request, "BatchDetectKeyPhrases", lambda texts: analysis.spacy_many("key_phrases", texts, language),
                  "KeyPhrases", "DetectKeyPhrases")


@provider.operation("BatchDetectSyntax")
def batch_detect_syntax(ctx: RequestContext, request: dict) -> dict:
    language = request["LanguageCode"]
    return _batch(request, "BatchDetectSyntax", lambda texts: analysis.spacy_many("syntax", texts, language),
                  "SyntaxTokens", "DetectSyntax")


# ---------------------------------------------------------------------------------------------------------------
# Asynchronous jobs: Start/Describe/List/Stop per job type, one framework (services.comprehend.jobs)
# ---------------------------------------------------------------------------------------------------------------


def _job(ctx: RequestContext, job_type: JobType, job_id: str):
    job = runtime().jobs.store.get(ctx.principal, job_type.kind, job_id)
    if job is None:
        raise ServiceError("JobNotFoundException", f"Job {job_id} does not exist.")
    return job


def register_job_operations(noun: str, job_type: JobType) -> None:
    """Start{noun}Job, Describe{noun}Job, List{noun}Jobs, Stop{noun}Job (those the botocore model has)."""
    properties_key = job_type.properties_key
    list_key = properties_key + "List"

    def start(ctx: RequestContext, request: dict) -> dict:
        return start_job(ctx, job_type, request)

    def describe(ctx: RequestContext, request: dict) -> dict:
        return {properties_key: job_properties(job_type, _job(ctx, job_type, request["JobId"]))}

    def list_jobs(ctx: RequestContext, request: dict) -> dict:
        found = request.get("Filter", {})
        if "SubmitTimeBefore" in found and "SubmitTimeAfter" in found:
            raise ServiceError("InvalidFilterException", "Specify SubmitTimeBefore or SubmitTimeAfter, not both.")
        jobs_found, token = runtime().jobs.store.list(
            ctx.principal, job_type.kind, status=found.get("JobStatus"), name=found.get("JobName"),
            submitted_before=found.get("SubmitTimeBefore"), submitted_after=found.get("SubmitTimeAfter"),
            next_token=request.get("NextToken"), max_results=request.get("MaxResults", 100),
        )
        return {list_key: [job_properties(job_type, job) for job in jobs_found], "NextToken": token}

    def stop(ctx: RequestContext, request: dict) -> dict:
        job = _job(ctx, job_type, request["JobId"])
        if job.status in ("COMPLETED", "FAILED", "STOPPED"):
            # AWS refuses to stop a job that has already ended.
            raise ServiceError("InvalidRequestException",
                               f"Job {job.job_id} has already ended with status {job.status}.")
        job = runtime().jobs.store.request_stop(ctx.principal, job_type.kind, job.job_id)
        return {"JobId": job.job_id, "JobStatus": job.status}

    provider.operation(f"Start{noun}Job")(start)
    provider.operation(f"Describe{noun}Job")(describe)
    provider.operation(f"List{noun}Jobs")(list_jobs)
    if f"Stop{noun}Job" in _operations():
        provider.operation(f"Stop{noun}Job")(stop)


def _operations() -> set[str]:
    from services.gateway.protocol.service_models import service_spec

    return set(service_spec("comprehend").operation_names)


for _noun, _type in (
    ("DominantLanguageDetection", DOMINANT_LANGUAGE),
    ("SentimentDetection", SENTIMENT),
    ("TargetedSentimentDetection", TARGETED_SENTIMENT),
    ("EntitiesDetection", ENTITIES),
    ("KeyPhrasesDetection", KEY_PHRASES),
    ("PiiEntitiesDetection", PII),
    ("TopicsDetection", TOPICS),
):
    register_job_operations(_noun, _type)


# Custom classification and entity recognition (training jobs, endpoints, classification jobs).
from services.comprehend.custom import register as _register_custom  # noqa: E402

_register_custom(provider)

from services.comprehend.tags import register as _register_tags  # noqa: E402

_register_tags(provider)
