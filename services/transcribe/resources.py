"""Transcribe's own resources in SQL, scoped by account and region: custom vocabularies, vocabulary filters and
call analytics categories (tables and their ResourceTable declarations), the vocabulary and filter contents, and
the one Paging of Transcribe's List* operations."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal
from services.gateway.db import Base
from services.gateway.kit.paging import Paging
from services.gateway.kit.resources import ResourceTable, Scoped
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError
from services.transcribe.errors import BadRequest, Conflict, NotFound
from services.transcribe.transcript import VocabularyEntry

MAX_PHRASE_CHARS = 256
MAX_VOCABULARY_BYTES = 50 * 1024  # AWS: a custom vocabulary file can't exceed 50 KB
MAX_FILTER_WORDS_BYTES = 50 * 1024

PAGING = Paging("transcribe", invalid_token=lambda token: BadRequest("The NextToken is not valid."),
                default_limit=100)


class Vocabulary(Scoped, Base):
    __tablename__ = "transcribe_vocabularies"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    language_code: Mapped[str] = mapped_column(String(16))
    entries: Mapped[list] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    source_uri: Mapped[str | None] = mapped_column(Text)
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def entry_objects(self) -> list[VocabularyEntry]:
        return [VocabularyEntry(**entry) for entry in self.entries]


class VocabularyFilter(Scoped, Base):
    __tablename__ = "transcribe_vocabulary_filters"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    language_code: Mapped[str] = mapped_column(String(16))
    words: Mapped[list] = mapped_column(JSON)
    source_uri: Mapped[str | None] = mapped_column(Text)
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CallCategory(Scoped, Base):
    __tablename__ = "transcribe_call_categories"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    rules: Mapped[list] = mapped_column(JSON)
    input_type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


VOCABULARIES = ResourceTable(
    Vocabulary, key="name",
    not_found=lambda name: NotFound("The requested vocabulary couldn't be found. Check the vocabulary name and try "
                                    "your request again."),
    conflict=lambda name: Conflict("The requested vocabulary name already exists. Use a different vocabulary name."))
# UpdateVocabulary answers a missing vocabulary with BadRequestException.
VOCABULARIES_TO_UPDATE = replace(VOCABULARIES, not_found=lambda name: BadRequest(
    "The requested vocabulary couldn't be found. Check the vocabulary name and try your request again."))
# A job's Settings naming a vocabulary or filter that isn't there is a bad request (the job is not started).
VOCABULARIES_USED = replace(VOCABULARIES, not_found=lambda name: BadRequest(
    f"The requested vocabulary {name} couldn't be found. Check the vocabulary name and try your request again."))

VOCABULARY_FILTERS = ResourceTable(
    VocabularyFilter, key="name",
    not_found=lambda name: NotFound("The requested vocabulary filter couldn't be found."),
    conflict=lambda name: Conflict("The requested vocabulary filter name already exists. Use a different name."))
VOCABULARY_FILTERS_USED = replace(VOCABULARY_FILTERS, not_found=lambda name: BadRequest(
    f"The requested vocabulary filter {name} couldn't be found. Check the vocabulary filter name and try your "
    f"request again."))

CATEGORIES = ResourceTable(
    CallCategory, key="name",
    not_found=lambda name: NotFound("The requested category couldn't be found."),
    conflict=lambda name: Conflict("The requested category name already exists. Use a different name."))


def name_contains(model: type, text: str | None) -> list:
    """List* NameContains: a case-insensitive substring of the name."""
    return [model.name.icontains(text, autoescape=True)] if text else []


# ---------------------------------------------------------------- vocabulary content

_PHRASE_RE = re.compile(r"^[\w'.\- ]+$", re.UNICODE)


def _check_phrase(phrase: str) -> None:
    if not phrase or len(phrase) > MAX_PHRASE_CHARS:
        raise BadRequest(f"The vocabulary phrase {phrase[:60]!r} must be 1 to {MAX_PHRASE_CHARS} characters.")
    if not _PHRASE_RE.match(phrase):
        raise BadRequest(f"Invalid vocabulary phrase {phrase[:60]!r}: use letters, digits, apostrophes, periods "
                       f"and hyphens only.")


def parse_vocabulary_file(text: str) -> list[VocabularyEntry]:
    """A table (tab-separated, header `Phrase<TAB>SoundsLike<TAB>IPA<TAB>DisplayAs` in any order/subset) or a
    list (one phrase per line)."""
    lines = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
    if not lines:
        raise BadRequest("The vocabulary file is empty.")
    header = [cell.strip() for cell in lines[0].split("\t")]
    if header and header[0] == "Phrase":
        known = {"Phrase", "SoundsLike", "IPA", "DisplayAs"}
        if not set(header) <= known:
            raise BadRequest(f"Invalid vocabulary table header {lines[0][:80]!r}: columns are Phrase, SoundsLike, "
                           f"IPA and DisplayAs.")
        entries = []
        for number, line in enumerate(lines[1:], start=2):
            cells = [cell.strip() for cell in line.split("\t")]
            row = {name: (cells[i] if i < len(cells) and cells[i] else None) for i, name in enumerate(header)}
            if not row.get("Phrase"):
                raise BadRequest(f"Line {number} of the vocabulary table has no Phrase.")
            _check_phrase(row["Phrase"])
            if row.get("SoundsLike") and row.get("IPA"):
                raise BadRequest(f"Line {number}: a vocabulary entry can't have both SoundsLike and IPA.")
            entries.append(VocabularyEntry(row["Phrase"], row.get("SoundsLike"), row.get("IPA"),
                                           row.get("DisplayAs")))
        return entries
    return phrases_to_entries([line.strip() for line in lines])


def phrases_to_entries(phrases: list[str]) -> list[VocabularyEntry]:
    entries = []
    for phrase in phrases:
        _check_phrase(phrase)
        entries.append(VocabularyEntry(phrase.replace(" ", "-") if " " in phrase.strip() else phrase))
    return entries


def _read_text(principal: Principal, uri: str, limit: int) -> str:
    try:
        data = runtime().blobs.read(uri, principal.account_id, max_bytes=limit)
    except BlobError as error:
        raise BadRequest(f"The vocabulary file at {error.uri or uri} can't be read: {error.message}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("The vocabulary file must be UTF-8 text.") from None


def vocabulary_entries(principal: Principal, request: dict) -> tuple[list[VocabularyEntry], str | None]:
    phrases, uri = request.get("Phrases"), request.get("VocabularyFileUri")
    if (phrases is None) == (uri is None):
        raise BadRequest("Specify either Phrases or VocabularyFileUri, not both and not neither.")
    if uri is not None:
        return parse_vocabulary_file(_read_text(principal, uri, MAX_VOCABULARY_BYTES)), uri
    if not phrases:
        raise BadRequest("Phrases must hold at least one phrase.")
    return phrases_to_entries(phrases), None


def filter_words(principal: Principal, request: dict) -> tuple[list[str], str | None]:
    words, uri = request.get("Words"), request.get("VocabularyFilterFileUri")
    if (words is None) == (uri is None):
        raise BadRequest("Specify either Words or VocabularyFilterFileUri, not both and not neither.")
    if uri is not None:
        words = [line.strip() for line in _read_text(principal, uri, MAX_FILTER_WORDS_BYTES).splitlines()
                 if line.strip()]
        if not words:
            raise BadRequest("The vocabulary filter file is empty.")
        return words, uri
    if not words:
        raise BadRequest("Words must hold at least one word.")
    for word in words:
        if not re.match(r"^[\w'\-]+$", word):
            raise BadRequest(f"Invalid vocabulary filter word {word[:60]!r}: one word per entry, letters only.")
    return list(words), None


# ---------------------------------------------------------------- lookups


def ready_vocabulary(principal: Principal, name: str) -> list[VocabularyEntry]:
    row = VOCABULARIES_USED.get(principal, name)
    if row.state != "READY":
        raise BadRequest(f"The vocabulary {name} is not ready (state {row.state}).")
    return row.entry_objects()


def vocabulary_language(principal: Principal, settings: dict) -> str | None:
    """The language (AWS code) of the vocabulary a job's Settings name, or None where they name none."""
    name = settings.get("VocabularyName")
    return VOCABULARIES_USED.get(principal, name).language_code if name else None


def filter_of(principal: Principal, name: str) -> list[str]:
    return list(VOCABULARY_FILTERS_USED.get(principal, name).words)
