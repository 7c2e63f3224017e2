"""Transcribe's ARNs: `arn:aws:transcribe:<region>:<account>:<resource-type>/<name>`, one function per resource
type (the types as AWS's service authorization reference names them), and the reverse."""

from __future__ import annotations

from services.gateway.context import Principal, RequestContext
from services.gateway.jobs import Job
from services.gateway.kit.arns import build_arn, owned, parse_arn

SERVICE = "transcribe"

TRANSCRIPTION_JOB = "transcription-job"
CALL_ANALYTICS_JOB = "analytics"
VOCABULARY = "vocabulary"
VOCABULARY_FILTER = "vocabulary-filter"
CALL_ANALYTICS_CATEGORY = "analytics-category"
# Resource types AWS tags that this gateway does not serve (their ARNs name nothing here).
UNSERVED = ("medical-transcription-job", "medical-vocabulary", "medical-scribe-job", "language-model")
SERVED = (TRANSCRIPTION_JOB, CALL_ANALYTICS_JOB, VOCABULARY, VOCABULARY_FILTER, CALL_ANALYTICS_CATEGORY)

Scope = Principal | RequestContext


def _arn(scope: Scope, resource_type: str, name: str) -> str:
    return build_arn(SERVICE, scope.region, scope.account_id, f"{resource_type}/{name}")


def _owner(job: Job) -> Principal:
    return Principal(job.account_id, job.region)


def transcription_job_arn(job: Job) -> str:
    return _arn(_owner(job), TRANSCRIPTION_JOB, job.name or "")


def call_analytics_job_arn(job: Job) -> str:
    return _arn(_owner(job), CALL_ANALYTICS_JOB, job.name or "")


def vocabulary_arn(scope: Scope, name: str) -> str:
    return _arn(scope, VOCABULARY, name)


def vocabulary_filter_arn(scope: Scope, name: str) -> str:
    return _arn(scope, VOCABULARY_FILTER, name)


def category_arn(scope: Scope, name: str) -> str:
    return _arn(scope, CALL_ANALYTICS_CATEGORY, name)


def resource_of(principal: Principal, arn: str) -> tuple[str, str] | None:
    """(resource type, name) of a Transcribe ARN of the caller's account and region; None for any other ARN."""
    parsed = parse_arn(arn)
    if not owned(parsed, SERVICE, principal.account_id, principal.region) or "/" not in parsed.resource:
        return None
    return parsed.resource_type, parsed.resource_id
