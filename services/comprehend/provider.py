"""Comprehend operations, keyed by AWS operation name."""

from __future__ import annotations

from services.comprehend.jobs import DOMINANT_LANGUAGE, job_properties, start_job
from services.comprehend.language import (
    MAX_BATCH_DOCUMENTS,
    MAX_TEXT_BYTES,
    check_text_size,
    detect_languages_batched,
    detect_languages_many,
)
from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.registry import ServiceProvider
from services.gateway.runtime import runtime

provider = ServiceProvider("comprehend")


@provider.operation("DetectDominantLanguage")
async def detect_dominant_language(ctx: RequestContext, request: dict) -> dict:
    check_text_size(request["Text"])
    return {"Languages": await detect_languages_batched(request["Text"])}


@provider.operation("BatchDetectDominantLanguage")
def batch_detect_dominant_language(ctx: RequestContext, request: dict) -> dict:
    texts = request["TextList"]
    if len(texts) > MAX_BATCH_DOCUMENTS:
        raise ServiceError(
            "BatchSizeLimitExceededException",
            f"The number of documents in the request exceeds the limit of {MAX_BATCH_DOCUMENTS}.",
        )
    errors, valid = [], []
    for index, text in enumerate(texts):
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            errors.append({"Index": index, "ErrorCode": "TEXT_SIZE_LIMIT_EXCEEDED",
                           "ErrorMessage": f"Document size {size} bytes exceeds the limit of {MAX_TEXT_BYTES} bytes"})
        else:
            valid.append(index)
    languages = detect_languages_many([texts[index] for index in valid])
    results = [{"Index": index, "Languages": found} for index, found in zip(valid, languages)]
    return {"ResultList": results, "ErrorList": errors}


@provider.operation("StartDominantLanguageDetectionJob")
def start_dominant_language_detection_job(ctx: RequestContext, request: dict) -> dict:
    return start_job(ctx, DOMINANT_LANGUAGE, request)


@provider.operation("DescribeDominantLanguageDetectionJob")
def describe_dominant_language_detection_job(ctx: RequestContext, request: dict) -> dict:
    job = _job(ctx, request["JobId"])
    return {"DominantLanguageDetectionJobProperties": job_properties(DOMINANT_LANGUAGE, job)}


@provider.operation("ListDominantLanguageDetectionJobs")
def list_dominant_language_detection_jobs(ctx: RequestContext, request: dict) -> dict:
    found = request.get("Filter", {})
    if "SubmitTimeBefore" in found and "SubmitTimeAfter" in found:
        raise ServiceError("InvalidFilterException", "Specify SubmitTimeBefore or SubmitTimeAfter, not both.")
    jobs_found, token = runtime().jobs.store.list(
        ctx.principal, DOMINANT_LANGUAGE.kind, status=found.get("JobStatus"), name=found.get("JobName"),
        submitted_before=found.get("SubmitTimeBefore"), submitted_after=found.get("SubmitTimeAfter"),
        next_token=request.get("NextToken"), max_results=request.get("MaxResults", 100),
    )
    return {"DominantLanguageDetectionJobPropertiesList": [job_properties(DOMINANT_LANGUAGE, job) for job in jobs_found],
            "NextToken": token}


@provider.operation("StopDominantLanguageDetectionJob")
def stop_dominant_language_detection_job(ctx: RequestContext, request: dict) -> dict:
    job = _job(ctx, request["JobId"])
    if job.status in ("COMPLETED", "FAILED"):
        # AWS refuses to stop a job that has already ended.
        raise ServiceError("InvalidRequestException", f"Job {job.job_id} has already ended with status {job.status}.")
    job = runtime().jobs.store.request_stop(ctx.principal, DOMINANT_LANGUAGE.kind, job.job_id)
    return {"JobId": job.job_id, "JobStatus": job.status}


def _job(ctx: RequestContext, job_id: str):
    job = runtime().jobs.store.get(ctx.principal, DOMINANT_LANGUAGE.kind, job_id)
    if job is None:
        raise _not_found(job_id)
    return job


def _not_found(job_id: str) -> ServiceError:
    return ServiceError("JobNotFoundException", f"Job {job_id} does not exist.")
