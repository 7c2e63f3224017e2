"""Call analytics: StartCallAnalyticsJob, GetCallAnalyticsJob, ListCallAnalyticsJobs and
DeleteCallAnalyticsJob from one JobApi declaration (jobs addressed by CallAnalyticsJobName), and the call
analytics categories (Create/Get/List/Update/DeleteCallAnalyticsCategory). The analysis is
services/transcribe/analytics.py's."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.jobs import Job
from services.gateway.kit.jobs import Submission, stored_form
from services.gateway.kit.tags import drop_tags
from services.gateway.kit.times import aware, utcnow
from services.transcribe.analytics import CALL_ANALYTICS, run_call_analytics
from services.transcribe.arns import call_analytics_job_arn, category_arn
from services.transcribe.checks import check_call_analytics_request, checked_rules
from services.transcribe.job_api import STATUS, ended, job_api
from services.transcribe.resources import CATEGORIES, PAGING, CallCategory
from services.transcribe.tagging import TAGGING

# ---------------------------------------------------------------- call analytics jobs


def accept_call_analytics_job(ctx: RequestContext, request: dict) -> Submission:
    check_call_analytics_request(ctx, request)
    return Submission(stored_form(request), name=request["CallAnalyticsJobName"], tags=request.get("Tags"))


def call_analytics_job(job: Job) -> dict:
    """The CallAnalyticsJob shape (Start*, Get*)."""
    request, result = job.request, job.result or {}
    out: dict = {
        **call_analytics_job_summary(job),
        "MediaSampleRateHertz": result.get("rate"), "Media": request["Media"],
        "DataAccessRoleArn": request.get("DataAccessRoleArn"), "Settings": request.get("Settings"),
        "ChannelDefinitions": request.get("ChannelDefinitions"),
        "Tags": TAGGING.listed("GetCallAnalyticsJob", "CallAnalyticsJob.Tags", call_analytics_job_arn(job)) or None,
        "IdentifiedLanguageScore": result.get("score"),
        "Transcript": {key: result[key] for key in ("TranscriptFileUri", "RedactedTranscriptFileUri")
                       if key in result},
    }
    return {key: value for key, value in out.items() if value is not None}


def call_analytics_job_summary(job: Job) -> dict:
    """The CallAnalyticsJobSummary shape (List*); its members lead the CallAnalyticsJob shape too."""
    result = job.result or {}
    status = STATUS[job.status]
    out: dict = {
        "CallAnalyticsJobName": job.name, "CallAnalyticsJobStatus": status,
        "LanguageCode": result.get("language"),
        "CreationTime": job.time("created_at"), "StartTime": job.time("started_at"),
        "CompletionTime": job.time("ended_at") if ended(job) else None,
        "FailureReason": job.message if status == "FAILED" else None,
        "CallAnalyticsJobDetails": {"Skipped": []} if status == "COMPLETED" else None,
    }
    return {key: value for key, value in out.items() if value is not None}


CALL_ANALYTICS_JOBS = job_api(
    kind=CALL_ANALYTICS, start="StartCallAnalyticsJob", describe="GetCallAnalyticsJob", list="ListCallAnalyticsJobs",
    delete="DeleteCallAnalyticsJob", id_member="CallAnalyticsJobName", describe_member="CallAnalyticsJob",
    accept=accept_call_analytics_job, started=lambda ctx, job: {"CallAnalyticsJob": call_analytics_job(job)},
    properties=call_analytics_job, summary=call_analytics_job_summary, arn=call_analytics_job_arn)
CALL_ANALYTICS_JOBS.runner(run_call_analytics)


# ---------------------------------------------------------------- categories


def category_properties(row: CallCategory) -> dict:
    return {"CategoryName": row.name, "Rules": row.rules, "CreateTime": aware(row.created_at),
            "LastUpdateTime": aware(row.modified_at), "InputType": row.input_type}


def tagged_category(ctx: RequestContext, row: CallCategory) -> dict:
    """A category's properties with its tags, as Create/Get/UpdateCallAnalyticsCategory answer them."""
    properties = category_properties(row)
    tags = TAGGING.listed("GetCallAnalyticsCategory", "CategoryProperties.Tags", category_arn(ctx, row.name))
    if tags:
        properties["Tags"] = tags
    return {"CategoryProperties": properties}


def create_call_analytics_category(ctx: RequestContext, request: dict) -> dict:
    name = request["CategoryName"]
    rules = checked_rules(request["Rules"])
    tags = TAGGING.check_new(request.get("Tags"))
    now = utcnow()
    row = CATEGORIES.create(ctx, name=name, rules=rules, input_type=request.get("InputType") or "POST_CALL",
                            created_at=now, modified_at=now)
    TAGGING.tag(ctx, category_arn(ctx, name), tags)
    return tagged_category(ctx, row)


def get_call_analytics_category(ctx: RequestContext, request: dict) -> dict:
    return tagged_category(ctx, CATEGORIES.get(ctx, request["CategoryName"]))


def list_call_analytics_categories(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page_query(ctx, request, CATEGORIES.query(ctx), [(CallCategory.name, False)], category_properties)


def update_call_analytics_category(ctx: RequestContext, request: dict) -> dict:
    rules = checked_rules(request["Rules"])
    fields = {"rules": rules, "modified_at": utcnow()}
    if request.get("InputType"):
        fields["input_type"] = request["InputType"]
    return tagged_category(ctx, CATEGORIES.update(ctx, request["CategoryName"], **fields))


def delete_call_analytics_category(ctx: RequestContext, request: dict) -> dict:
    row = CATEGORIES.delete(ctx, request["CategoryName"])
    drop_tags(category_arn(ctx, row.name))
    return {}


OPERATIONS = {
    "CreateCallAnalyticsCategory": create_call_analytics_category,
    "GetCallAnalyticsCategory": get_call_analytics_category,
    "ListCallAnalyticsCategories": list_call_analytics_categories,
    "UpdateCallAnalyticsCategory": update_call_analytics_category,
    "DeleteCallAnalyticsCategory": delete_call_analytics_category,
}
