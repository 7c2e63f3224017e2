"""Transcribe's tagging: TagResource, UntagResource and ListTagsForResource on the kit's tag store, for
transcription jobs, call analytics jobs, vocabularies, vocabulary filters and call analytics categories; the
same TAGGING takes the `Tags` of StartTranscriptionJob, StartCallAnalyticsJob, CreateVocabulary,
CreateVocabularyFilter and CreateCallAnalyticsCategory."""

from __future__ import annotations

from services.gateway.context import Principal
from services.gateway.kit.tags import Tagging
from services.gateway.runtime import runtime
from services.transcribe import arns
from services.transcribe.analytics import CALL_ANALYTICS
from services.transcribe.errors import BadRequest, NotFound
from services.transcribe.jobs import TRANSCRIPTION
from services.transcribe.resources import CATEGORIES, VOCABULARIES, VOCABULARY_FILTERS

MAX_TAGS = 200  # botocore's TagList: max 200


def _job_exists(kind: str):
    return lambda principal, name: runtime().jobs.store.find_by_name(principal, kind, name) is not None


# Resource type of the ARN -> whether the caller has one of that name.
_EXISTS = {
    arns.TRANSCRIPTION_JOB: _job_exists(TRANSCRIPTION),
    arns.CALL_ANALYTICS_JOB: _job_exists(CALL_ANALYTICS),
    arns.VOCABULARY: VOCABULARIES.exists,
    arns.VOCABULARY_FILTER: VOCABULARY_FILTERS.exists,
    arns.CALL_ANALYTICS_CATEGORY: CATEGORIES.exists,
}


def resource_exists(principal: Principal, arn: str) -> bool:
    """Whether the ARN names a resource of the caller's; BadRequestException for a resource type Transcribe
    doesn't have."""
    found = arns.resource_of(principal, arn)
    if found is None:  # another account's or region's
        return False
    resource_type, name = found
    if resource_type in arns.UNSERVED:
        return False
    if resource_type not in _EXISTS:
        raise BadRequest(f"The resource type {resource_type} in the ARN {arn} isn't valid. Valid resource types "
                         f"are {', '.join(arns.SERVED + arns.UNSERVED)}.")
    return _EXISTS[resource_type](principal, name)


TAGGING = Tagging(
    "transcribe", exists=resource_exists,
    not_found=lambda arn: NotFound("The requested resource couldn't be found. Check the resource ARN and try your "
                                   "request again."),
    too_many=lambda limit: BadRequest(f"A resource can't have more than {limit} tags."),
    max_tags=MAX_TAGS)
