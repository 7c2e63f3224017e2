"""Custom terminologies: parsing (CSV, TSV, TMX), storage per account and region, and application.

A term is applied by replacing every occurrence in the source text (case-insensitive, whole words, longest term
first) with a placeholder token no dictionary knows. Engines pass unknown words through unchanged, so after
translation each placeholder is swapped for the target term exactly as the terminology writes it.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from xml.etree import ElementTree

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import RequestContext
from services.gateway.db import Base
from services.gateway.errors import ServiceError
from services.gateway.runtime import runtime
from services.translate.languages import normalize

MAX_TERM_CHARS = 200  # AWS: each source/target term is at most 200 bytes... kept as characters here
MAX_TERMINOLOGIES = 100
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class TranslateTerminology(Base):
    __tablename__ = "translate_terminologies"
    __table_args__ = (UniqueConstraint("account_id", "region", "name", name="uq_translate_terminology_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(12))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    source_language: Mapped[str] = mapped_column(String(8))
    languages: Mapped[list] = mapped_column(JSON)  # every column's language, source first
    directionality: Mapped[str] = mapped_column(String(8))
    format: Mapped[str] = mapped_column(String(8))
    entries: Mapped[list] = mapped_column(JSON)  # [{lang: text}] one per term row
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    encryption_key: Mapped[dict | None] = mapped_column(JSON)
    tags: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def properties(self) -> dict:
        return {
            "Name": self.name,
            "Description": self.description,
            "Arn": f"arn:aws:translate:{self.region}:{self.account_id}:terminology/{self.name}/LATEST",
            "SourceLanguageCode": self.source_language,
            "TargetLanguageCodes": [code for code in self.languages if code != self.source_language],
            "EncryptionKey": self.encryption_key,
            "SizeBytes": len(self.data),
            "TermCount": len(self.entries),
            "CreatedAt": _utc(self.created_at),
            "LastUpdatedAt": _utc(self.updated_at),
            "Directionality": self.directionality,
            "Message": self.message,
            "SkippedTermCount": self.skipped,
            "Format": self.format,
        }


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message)


# ---------------------------------------------------------------------------------------------- parsing


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _invalid("The terminology file is not UTF-8 (or UTF-16) text.")


def _language(code: str, where: str) -> str:
    code = code.strip()
    if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z]{2,4})?", code):
        raise _invalid(f"Invalid language code {code[:20]!r} in {where}.")
    return normalize(code)


def parse_delimited(data: bytes, delimiter: str) -> tuple[list[str], list[dict[str, str]], int]:
    rows = list(csv.reader(io.StringIO(_decode(data)), delimiter=delimiter))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise _invalid("The terminology file needs a header row of language codes and at least one term row.")
    header = [_language(cell, "the header row") for cell in rows[0]]
    if len(header) < 2 or len(set(header)) != len(header):
        raise _invalid("The header row must name at least two different language codes.")
    entries, skipped = [], 0
    for row in rows[1:]:
        entry = {lang: cell.strip() for lang, cell in zip(header, row) if cell.strip()}
        if header[0] not in entry or len(entry) < 2 or any(len(text) > MAX_TERM_CHARS for text in entry.values()):
            skipped += 1
            continue
        entries.append(entry)
    return header, entries, skipped


def parse_tmx(data: bytes) -> tuple[list[str], list[dict[str, str]], int]:
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise _invalid(f"The TMX file is not well-formed XML: {error}") from None
    if root.tag != "tmx":
        raise _invalid("The TMX file has no <tmx> root element.")
    header = root.find("header")
    src = header.get("srclang") if header is not None else None
    languages: list[str] = [_language(src, "the TMX header")] if src and src != "*all*" else []
    entries, skipped = [], 0
    for tu in root.iter("tu"):
        entry: dict[str, str] = {}
        for tuv in tu.findall("tuv"):
            lang = tuv.get(XML_LANG) or tuv.get("lang")
            seg = tuv.find("seg")
            if not lang or seg is None:
                continue
            text = "".join(seg.itertext()).strip()
            if text:
                code = _language(lang, "a <tuv>")
                entry[code] = text
                if code not in languages:
                    languages.append(code)
        if len(entry) < 2 or (languages and languages[0] not in entry) or \
                any(len(text) > MAX_TERM_CHARS for text in entry.values()):
            skipped += 1
            continue
        entries.append(entry)
    if len(languages) < 2 or not entries:
        raise _invalid("The TMX file holds no translation unit with two languages.")
    return languages, entries, skipped


# ---------------------------------------------------------------------------------------------- storage


def _scoped(ctx: RequestContext, name: str):
    return select(TranslateTerminology).where(TranslateTerminology.account_id == ctx.account_id,
                                              TranslateTerminology.region == ctx.region,
                                              TranslateTerminology.name == name)


def import_terminology(ctx: RequestContext, request: dict) -> dict:
    data_spec = request["TerminologyData"]
    data: bytes = data_spec["File"]
    fmt = data_spec["Format"]
    directionality = data_spec.get("Directionality", "UNI")
    if fmt == "TMX":
        languages, entries, skipped = parse_tmx(data)
    else:
        languages, entries, skipped = parse_delimited(data, "\t" if fmt == "TSV" else ",")
    if not entries:
        raise _invalid("The terminology file holds no valid term.")
    message = f"{skipped} terms were skipped (missing source term or longer than {MAX_TERM_CHARS} characters)." \
        if skipped else None
    now = dt.datetime.now(dt.timezone.utc)
    name = request["Name"]
    with runtime().db.session() as session:
        row = session.scalar(_scoped(ctx, name))
        if row is None:
            count = session.query(TranslateTerminology).filter_by(account_id=ctx.account_id,
                                                                  region=ctx.region).count()
            if count >= MAX_TERMINOLOGIES:
                raise ServiceError("LimitExceededException",
                                   f"You can have at most {MAX_TERMINOLOGIES} terminologies per region.")
            row = TranslateTerminology(account_id=ctx.account_id, region=ctx.region, name=name, created_at=now)
            session.add(row)
        row.description = request.get("Description")
        row.source_language = languages[0]
        row.languages = languages
        row.directionality = directionality
        row.format = fmt
        row.entries = entries
        row.skipped = skipped
        row.message = message
        row.data = data
        row.encryption_key = request.get("EncryptionKey")
        row.tags = request.get("Tags")
        row.updated_at = now
        session.flush()
        properties = row.properties()
    return {"TerminologyProperties": properties}


def get_row(ctx: RequestContext, name: str) -> TranslateTerminology:
    with runtime().db.session() as session:
        row = session.scalar(_scoped(ctx, name))
        if row is None:
            raise ServiceError("ResourceNotFoundException", f"The resource {name} does not exist.")
        session.expunge(row)
    return row


def export_data(row: TranslateTerminology, fmt: str | None) -> bytes:
    """The terminology in the format asked for (the stored file itself when it matches)."""
    if fmt is None or fmt == row.format:
        return row.data
    if fmt in ("CSV", "TSV"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t" if fmt == "TSV" else ",", lineterminator="\n")
        writer.writerow(row.languages)
        for entry in row.entries:
            writer.writerow([entry.get(lang, "") for lang in row.languages])
        return buffer.getvalue().encode("utf-8")
    tmx = ElementTree.Element("tmx", version="1.4")
    ElementTree.SubElement(tmx, "header", srclang=row.source_language, datatype="plaintext", segtype="phrase",
                           adminlang="en", creationtool="aigate", creationtoolversion="1", **{"o-tmf": "aigate"})
    body = ElementTree.SubElement(tmx, "body")
    for entry in row.entries:
        tu = ElementTree.SubElement(body, "tu")
        for lang in row.languages:
            if lang in entry:
                tuv = ElementTree.SubElement(tu, "tuv", {XML_LANG: lang})
                ElementTree.SubElement(tuv, "seg").text = entry[lang]
    return ElementTree.tostring(tmx, encoding="utf-8", xml_declaration=True)


def data_location(data: bytes, fmt: str) -> dict:
    """Where the terminology's file can be fetched: AWS gives a presigned S3 URL; this gateway gives an RFC 2397
    `data:` URL holding the file itself (urllib.request.urlopen reads it)."""
    mime = {"CSV": "text/csv", "TSV": "text/tab-separated-values", "TMX": "application/x-tmx+xml"}[fmt]
    return {"RepositoryType": "DATA_URL", "Location": f"data:{mime};base64,{base64.b64encode(data).decode()}"}


def list_rows(ctx: RequestContext, next_token: str | None, max_results: int) -> tuple[list[dict], str | None]:
    offset = 0
    if next_token:
        try:
            offset = int(base64.urlsafe_b64decode(next_token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise _invalid("Invalid NextToken.") from None
    query = select(TranslateTerminology).where(TranslateTerminology.account_id == ctx.account_id,
                                               TranslateTerminology.region == ctx.region) \
        .order_by(TranslateTerminology.name).offset(offset).limit(max_results + 1)
    with runtime().db.session() as session:
        rows = list(session.scalars(query))
        props = [row.properties() for row in rows[:max_results]]
    token = base64.urlsafe_b64encode(str(offset + max_results).encode()).decode() if len(rows) > max_results \
        else None
    return props, token


def delete_terminology(ctx: RequestContext, name: str) -> None:
    with runtime().db.session() as session:
        row = session.scalar(_scoped(ctx, name))
        if row is None:
            raise ServiceError("ResourceNotFoundException", f"The resource {name} does not exist.")
        session.delete(row)


# ---------------------------------------------------------------------------------------------- application


@dataclass
class TermSet:
    """The terms that apply to one (source, target) pair, from the terminologies a request names."""

    # (terminology name, source text, target text), longest source first
    terms: list[tuple[str, str, str]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    pattern: re.Pattern | None = None

    @classmethod
    def load(cls, ctx_or_principal, names: list[str] | None, source: str, target: str) -> TermSet:
        found = cls(names=list(names or []))
        if not names:
            return found
        account, region = ctx_or_principal.account_id, ctx_or_principal.region
        with runtime().db.session() as session:
            for name in names:
                row = session.scalar(select(TranslateTerminology).where(
                    TranslateTerminology.account_id == account, TranslateTerminology.region == region,
                    TranslateTerminology.name == name))
                if row is None:
                    raise ServiceError("ResourceNotFoundException",
                                       f"The terminology {name} does not exist.")
                if row.directionality == "UNI":
                    applies = row.source_language == source and target in row.languages[1:]
                else:
                    applies = source in row.languages and target in row.languages
                if not applies:
                    continue
                for entry in row.entries:
                    if source in entry and target in entry:
                        found.terms.append((name, entry[source], entry[target]))
        seen: dict[str, tuple[str, str, str]] = {}
        for term in found.terms:  # the first terminology named wins a source term
            seen.setdefault(term[1].casefold(), term)
        found.terms = sorted(seen.values(), key=lambda term: -len(term[1]))
        if found.terms:
            alternatives = "|".join(re.escape(source_text) for _, source_text, _ in found.terms)
            found.pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        return found

    def protect(self, text: str, used: dict[tuple[str, str, str], None]) -> tuple[str, dict[str, str]]:
        """Replace each term by a placeholder; returns the text and placeholder -> target text."""
        if self.pattern is None:
            return text, {}
        lookup = {source_text.casefold(): term for term in self.terms for source_text in [term[1]]}
        mapping: dict[str, str] = {}

        def replace(match: re.Match) -> str:
            term = lookup[match.group(0).casefold()]
            used[term] = None
            token = placeholder(len(mapping))
            mapping[token] = term[2]
            return token

        return self.pattern.sub(replace, text), mapping

    @staticmethod
    def restore(text: str, mapping: dict[str, str]) -> str:
        for token, target_text in mapping.items():
            text, count = re.subn(rf"(?<![A-Za-z]){token}(?![A-Za-z])", lambda _m: target_text, text,
                                  flags=re.IGNORECASE)
            if count == 0:
                # The engine dropped the placeholder: keep the term rather than lose it.
                text = f"{text.rstrip()} {target_text}"
        return text


def placeholder(index: int) -> str:
    """Letters only (numbers are analysed by rule-based engines), in no language's dictionary."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"ZXQV{letters}"


def applied(used: dict[tuple[str, str, str], None], names: list[str]) -> list[dict]:
    """AppliedTerminologies: per terminology named, the terms found in the text."""
    result = []
    for name in names:
        terms = [{"SourceText": s, "TargetText": t} for (n, s, t) in used if n == name]
        if terms:
            result.append({"Name": name, "Terms": terms})
    return result


# ---------------------------------------------------------------------------------------------- tags

MAX_TAGS = 50
_ARN = re.compile(r"^arn:aws[a-z-]*:translate:([a-z0-9-]+):(\d{12}):terminology/([A-Za-z0-9_-]+)(?:/LATEST)?$")


def _tagged_row(session, ctx: RequestContext, arn: str) -> TranslateTerminology:
    match = _ARN.match(arn)
    if not match:
        raise _invalid(f"{arn} is not the ARN of a Translate terminology.")
    region, account, name = match.groups()
    row = None
    if region == ctx.region and account == ctx.account_id:
        row = session.scalar(_scoped(ctx, name))
    if row is None:
        raise ServiceError("ResourceNotFoundException", f"The resource {arn} does not exist.")
    return row


def list_tags(ctx: RequestContext, arn: str) -> list[dict]:
    with runtime().db.session() as session:
        return list(_tagged_row(session, ctx, arn).tags or [])


def tag(ctx: RequestContext, arn: str, tags: list[dict]) -> None:
    with runtime().db.session() as session:
        row = _tagged_row(session, ctx, arn)
        merged = {item["Key"]: item["Value"] for item in row.tags or []}
        merged.update({item["Key"]: item["Value"] for item in tags})
        if len(merged) > MAX_TAGS:
            raise ServiceError("TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags.")
        row.tags = [{"Key": key, "Value": value} for key, value in merged.items()]


def untag(ctx: RequestContext, arn: str, keys: list[str]) -> None:
    with runtime().db.session() as session:
        row = _tagged_row(session, ctx, arn)
        row.tags = [item for item in row.tags or [] if item["Key"] not in set(keys)]
