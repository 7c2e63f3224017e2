"""Amazon Translate operations, keyed by AWS operation name."""

from __future__ import annotations

import base64

from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.registry import ServiceProvider
from services.gateway.runtime import runtime
from services.translate import documents, jobs, terminology, translation
from services.translate.engines import ROUTER
from services.translate.languages import check_display_language, language_name

provider = ServiceProvider("translate")


@provider.operation("TranslateText")
def translate_text(ctx: RequestContext, request: dict) -> dict:
    text = request["Text"]
    size = len(text.encode("utf-8"))
    if size > translation.MAX_TEXT_BYTES:
        raise translation.text_size_error(size)
    if not text.strip():
        raise ServiceError("InvalidRequestException", "Text must contain something to translate.")
    outcome = translation.translate(ctx.principal, [text], request["SourceLanguageCode"],
                                    request["TargetLanguageCode"], request.get("TerminologyNames"),
                                    request.get("Settings"))
    response = {"TranslatedText": outcome.texts[0], "SourceLanguageCode": outcome.source,
                "TargetLanguageCode": outcome.target, "AppliedTerminologies": outcome.applied_terminologies}
    if outcome.applied_settings:
        response["AppliedSettings"] = outcome.applied_settings
    return response


@provider.operation("TranslateDocument")
def translate_document(ctx: RequestContext, request: dict) -> dict:
    document = request["Document"]
    content, content_type = document["Content"], document["ContentType"]
    if content_type.split(";")[0].strip().lower() not in documents.CONTENT_TYPES:
        raise documents.unsupported_type(content_type)
    sample = documents.document_sample(content, content_type)
    state: dict = {}

    def translate_segments(texts: list[str]) -> list[str]:
        outcome = translation.translate(ctx.principal, texts, request["SourceLanguageCode"],
                                        request["TargetLanguageCode"], request.get("TerminologyNames"),
                                        request.get("Settings"), sample=sample)
        state["outcome"] = outcome
        return outcome.texts

    translated = documents.translate_document(content, content_type, translate_segments)
    outcome = state.get("outcome")
    if outcome is None:  # nothing to translate in the document: still check the pair
        source, target = translation.resolve_pair(request["SourceLanguageCode"], request["TargetLanguageCode"],
                                                  sample or "")
        applied_terms, applied_settings = [], {}
    else:
        source, target = outcome.source, outcome.target
        applied_terms, applied_settings = outcome.applied_terminologies, outcome.applied_settings
    response = {"TranslatedDocument": {"Content": translated}, "SourceLanguageCode": source,
                "TargetLanguageCode": target, "AppliedTerminologies": applied_terms}
    if applied_settings:
        response["AppliedSettings"] = applied_settings
    return response


@provider.operation("ListLanguages")
def list_languages(ctx: RequestContext, request: dict) -> dict:
    display = request.get("DisplayLanguageCode", "en")
    check_display_language(display)
    codes = sorted(ROUTER.languages())
    start = 0
    if request.get("NextToken"):
        try:
            start = int(base64.urlsafe_b64decode(request["NextToken"].encode()).decode())
        except ValueError:
            raise ServiceError("InvalidParameterValueException", "Invalid NextToken.") from None
    limit = request.get("MaxResults", 500)
    page = codes[start:start + limit]
    token = base64.urlsafe_b64encode(str(start + limit).encode()).decode() if start + limit < len(codes) else None
    return {"Languages": [{"LanguageName": language_name(code, display), "LanguageCode": code} for code in page],
            "DisplayLanguageCode": display, "NextToken": token}


# ------------------------------------------------------------------------------------------ terminologies


@provider.operation("ImportTerminology")
def import_terminology(ctx: RequestContext, request: dict) -> dict:
    return terminology.import_terminology(ctx, request)


@provider.operation("GetTerminology")
def get_terminology(ctx: RequestContext, request: dict) -> dict:
    row = terminology.get_row(ctx, request["Name"])
    fmt = request.get("TerminologyDataFormat") or row.format
    properties = row.properties()
    properties["Format"] = fmt
    return {"TerminologyProperties": properties,
            "TerminologyDataLocation": terminology.data_location(terminology.export_data(row, fmt), fmt)}


@provider.operation("ListTerminologies")
def list_terminologies(ctx: RequestContext, request: dict) -> dict:
    found, token = terminology.list_rows(ctx, request.get("NextToken"), request.get("MaxResults", 100))
    return {"TerminologyPropertiesList": found, "NextToken": token}


@provider.operation("DeleteTerminology")
def delete_terminology(ctx: RequestContext, request: dict) -> dict:
    terminology.delete_terminology(ctx, request["Name"])
    return {}


# ------------------------------------------------------------------------------------------ batch jobs


@provider.operation("StartTextTranslationJob")
def start_text_translation_job(ctx: RequestContext, request: dict) -> dict:
    return jobs.start(ctx, request)


def _job(ctx: RequestContext, job_id: str):
    job = runtime().jobs.store.get(ctx.principal, jobs.KIND, job_id)
    if job is None:
        raise ServiceError("ResourceNotFoundException", f"The job {job_id} does not exist.")
    return job


@provider.operation("DescribeTextTranslationJob")
def describe_text_translation_job(ctx: RequestContext, request: dict) -> dict:
    return {"TextTranslationJobProperties": jobs.properties(_job(ctx, request["JobId"]))}


@provider.operation("ListTextTranslationJobs")
def list_text_translation_jobs(ctx: RequestContext, request: dict) -> dict:
    found = request.get("Filter", {})
    if "SubmittedBeforeTime" in found and "SubmittedAfterTime" in found:
        raise ServiceError("InvalidFilterException", "Specify SubmittedBeforeTime or SubmittedAfterTime, not both.")
    wanted = found.get("JobStatus")
    stored_status = "COMPLETED" if wanted == "COMPLETED_WITH_ERROR" else wanted
    listed, token = runtime().jobs.store.list(
        ctx.principal, jobs.KIND, status=stored_status, name=found.get("JobName"),
        submitted_before=found.get("SubmittedBeforeTime"), submitted_after=found.get("SubmittedAfterTime"),
        next_token=request.get("NextToken"), max_results=request.get("MaxResults", 100),
    )
    items = [jobs.properties(job) for job in listed]
    if wanted:
        items = [item for item in items if item["JobStatus"] == wanted]
    return {"TextTranslationJobPropertiesList": items, "NextToken": token}


@provider.operation("StopTextTranslationJob")
def stop_text_translation_job(ctx: RequestContext, request: dict) -> dict:
    job = _job(ctx, request["JobId"])
    if job.status in ("COMPLETED", "FAILED", "STOPPED"):
        return {"JobId": job.job_id, "JobStatus": jobs.status(job)}
    job = runtime().jobs.store.request_stop(ctx.principal, jobs.KIND, job.job_id)
    return {"JobId": job.job_id, "JobStatus": jobs.status(job)}


# ------------------------------------------------------------------------------------------ tags


@provider.operation("TagResource")
def tag_resource(ctx: RequestContext, request: dict) -> dict:
    terminology.tag(ctx, request["ResourceArn"], request["Tags"])
    return {}


@provider.operation("UntagResource")
def untag_resource(ctx: RequestContext, request: dict) -> dict:
    terminology.untag(ctx, request["ResourceArn"], request["TagKeys"])
    return {}


@provider.operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, request: dict) -> dict:
    return {"Tags": terminology.list_tags(ctx, request["ResourceArn"])}
