"""Custom vocabularies: CreateVocabulary, UpdateVocabulary, GetVocabulary, ListVocabularies and
DeleteVocabulary on the VOCABULARIES table (contents parsed in services/transcribe/resources.py)."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.kit.tags import drop_tags
from services.gateway.kit.times import aware, utcnow
from services.transcribe.arns import vocabulary_arn
from services.transcribe.jobs import DEFAULT_BUCKET, output_uri, write_output
from services.transcribe.languages import check_supported
from services.transcribe.resources import (
    PAGING,
    VOCABULARIES,
    VOCABULARIES_TO_UPDATE,
    Vocabulary,
    name_contains,
    vocabulary_entries,
)
from services.transcribe.tagging import TAGGING


def vocabulary_state(row: Vocabulary) -> dict:
    """What Create/UpdateVocabulary answer, and each item of ListVocabularies."""
    return {"VocabularyName": row.name, "LanguageCode": row.language_code, "VocabularyState": row.state,
            "LastModifiedTime": aware(row.modified_at)}


def download_uri(ctx: RequestContext, row: Vocabulary) -> str:
    """The vocabulary as a table file in the service location, for GetVocabulary's DownloadUri."""
    lines = ["Phrase\tSoundsLike\tIPA\tDisplayAs"] + [
        "\t".join(entry.get(key) or "" for key in ("phrase", "sounds_like", "ipa", "display_as"))
        for entry in row.entries]
    key = f"vocabularies/{ctx.region}/{row.name}.txt"
    write_output(ctx.account_id, DEFAULT_BUCKET, key, ("\n".join(lines) + "\n").encode(), "text/plain")
    return output_uri({}, DEFAULT_BUCKET, key, ctx.account_id)


def create_vocabulary(ctx: RequestContext, request: dict) -> dict:
    check_supported(request["LanguageCode"])
    name = request["VocabularyName"]
    if VOCABULARIES.exists(ctx, name):  # before reading the vocabulary's file
        raise VOCABULARIES.conflict(name)
    tags = TAGGING.check_new(request.get("Tags"))
    entries, uri = vocabulary_entries(ctx.principal, request)
    row = VOCABULARIES.create(ctx, name=name, language_code=request["LanguageCode"],
                              entries=[entry.__dict__ for entry in entries], state="READY", failure_reason=None,
                              source_uri=uri, modified_at=utcnow())
    TAGGING.tag(ctx, vocabulary_arn(ctx, name), tags)
    return vocabulary_state(row)


def update_vocabulary(ctx: RequestContext, request: dict) -> dict:
    check_supported(request["LanguageCode"])
    entries, uri = vocabulary_entries(ctx.principal, request)
    row = VOCABULARIES_TO_UPDATE.update(ctx, request["VocabularyName"], language_code=request["LanguageCode"],
                                        entries=[entry.__dict__ for entry in entries], source_uri=uri,
                                        state="READY", modified_at=utcnow())
    return vocabulary_state(row)


def get_vocabulary(ctx: RequestContext, request: dict) -> dict:
    row = VOCABULARIES.get(ctx, request["VocabularyName"])
    return {**vocabulary_state(row), "FailureReason": row.failure_reason, "DownloadUri": download_uri(ctx, row)}


def list_vocabularies(ctx: RequestContext, request: dict) -> dict:
    state = request.get("StateEquals")
    query = VOCABULARIES.query(ctx, *name_contains(Vocabulary, request.get("NameContains")),
                               *([Vocabulary.state == state] if state else []))
    return PAGING.page_query(ctx, request, query, [(Vocabulary.name, False)], vocabulary_state,
                             **({"Status": state} if state else {}))


def delete_vocabulary(ctx: RequestContext, request: dict) -> dict:
    row = VOCABULARIES.delete(ctx, request["VocabularyName"])
    drop_tags(vocabulary_arn(ctx, row.name))
    return {}


OPERATIONS = {
    "CreateVocabulary": create_vocabulary,
    "UpdateVocabulary": update_vocabulary,
    "GetVocabulary": get_vocabulary,
    "ListVocabularies": list_vocabularies,
    "DeleteVocabulary": delete_vocabulary,
}
