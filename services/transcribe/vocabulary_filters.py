"""Vocabulary filters: CreateVocabularyFilter, UpdateVocabularyFilter, GetVocabularyFilter,
ListVocabularyFilters and DeleteVocabularyFilter on the VOCABULARY_FILTERS table."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.kit.tags import drop_tags
from services.gateway.kit.times import aware, utcnow
from services.transcribe.arns import vocabulary_filter_arn
from services.transcribe.jobs import DEFAULT_BUCKET, output_uri, write_output
from services.transcribe.languages import check_supported
from services.transcribe.resources import PAGING, VOCABULARY_FILTERS, VocabularyFilter, filter_words, name_contains
from services.transcribe.tagging import TAGGING


def filter_state(row: VocabularyFilter) -> dict:
    """What Create/UpdateVocabularyFilter answer, and each item of ListVocabularyFilters."""
    return {"VocabularyFilterName": row.name, "LanguageCode": row.language_code,
            "LastModifiedTime": aware(row.modified_at)}


def download_uri(ctx: RequestContext, row: VocabularyFilter) -> str:
    """The filter's words, one a line, in the service location, for GetVocabularyFilter's DownloadUri."""
    key = f"vocabulary-filters/{ctx.region}/{row.name}.txt"
    write_output(ctx.account_id, DEFAULT_BUCKET, key, ("\n".join(row.words) + "\n").encode(), "text/plain")
    return output_uri({}, DEFAULT_BUCKET, key, ctx.account_id)


def create_vocabulary_filter(ctx: RequestContext, request: dict) -> dict:
    check_supported(request["LanguageCode"])
    name = request["VocabularyFilterName"]
    if VOCABULARY_FILTERS.exists(ctx, name):  # before reading the filter's file
        raise VOCABULARY_FILTERS.conflict(name)
    tags = TAGGING.check_new(request.get("Tags"))
    words, uri = filter_words(ctx.principal, request)
    row = VOCABULARY_FILTERS.create(ctx, name=name, language_code=request["LanguageCode"], words=words,
                                    source_uri=uri, modified_at=utcnow())
    TAGGING.tag(ctx, vocabulary_filter_arn(ctx, name), tags)
    return filter_state(row)


def update_vocabulary_filter(ctx: RequestContext, request: dict) -> dict:
    words, uri = filter_words(ctx.principal, request)
    row = VOCABULARY_FILTERS.update(ctx, request["VocabularyFilterName"], words=words, source_uri=uri,
                                    modified_at=utcnow())
    return filter_state(row)


def get_vocabulary_filter(ctx: RequestContext, request: dict) -> dict:
    row = VOCABULARY_FILTERS.get(ctx, request["VocabularyFilterName"])
    return {**filter_state(row), "DownloadUri": download_uri(ctx, row)}


def list_vocabulary_filters(ctx: RequestContext, request: dict) -> dict:
    query = VOCABULARY_FILTERS.query(ctx, *name_contains(VocabularyFilter, request.get("NameContains")))
    return PAGING.page_query(ctx, request, query, [(VocabularyFilter.name, False)], filter_state)


def delete_vocabulary_filter(ctx: RequestContext, request: dict) -> dict:
    row = VOCABULARY_FILTERS.delete(ctx, request["VocabularyFilterName"])
    drop_tags(vocabulary_filter_arn(ctx, row.name))
    return {}


OPERATIONS = {
    "CreateVocabularyFilter": create_vocabulary_filter,
    "UpdateVocabularyFilter": update_vocabulary_filter,
    "GetVocabularyFilter": get_vocabulary_filter,
    "ListVocabularyFilters": list_vocabulary_filters,
    "DeleteVocabularyFilter": delete_vocabulary_filter,
}
