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

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.kit.arns import build_arn, owned, parse_arn
from services.gateway.kit.resources import ResourceTable, Scoped, session
from services.gateway.kit.times import aware, utcnow
from services.translate.errors import InvalidParameterValue, LimitExceeded, ResourceNotFound
from services.translate.languages import normalize

MAX_TERM_CHARS = 200  # AWS: each source/target term is at most 200 bytes... kept as characters here
MAX_TERMINOLOGIES = 100
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z0-9-]+")


class TranslateTerminology(Scoped, Base):
    __tablename__ = "translate_terminologies"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    @property
    def arn(self) -> str:
        return terminology_arn(Principal(self.account_id, self.region), self.name)

    def properties(self) -> dict:
        return {
            "Name": self.name,
            "Description": self.description,
            "Arn": self.arn,
            "SourceLanguageCode": self.source_language,
            "TargetLanguageCodes": [code for code in self.languages if code != self.source_language],
            "EncryptionKey": self.encryption_key,
            "SizeBytes": len(self.data),
            "TermCount": len(self.entries),
            "CreatedAt": aware(self.created_at),
            "LastUpdatedAt": aware(self.updated_at),
            "Directionality": self.directionality,
            "Message": self.message,
            "SkippedTermCount": self.skipped,
            "Format": self.format,
        }


TERMINOLOGIES = ResourceTable(TranslateTerminology, key="name",
                              not_found=lambda name: ResourceNotFound(f"The resource {name} does not exist."))


def terminology_arn(principal: Principal | RequestContext, name: str) -> str:
    return build_arn("translate", principal.region, principal.account_id, f"terminology/{name}/LATEST")


def _terminology_name(arn: str) -> str | None:
    """The terminology an ARN names (`terminology/<name>` or `terminology/<name>/LATEST`), or None."""
    parsed = parse_arn(arn)
    if parsed is None or not parsed.partition.startswith("aws") or parsed.service != "translate" \
            or not _REGION.fullmatch(parsed.region) or not _ACCOUNT.fullmatch(parsed.account):
        return None
    path = parsed.path
    if path[0] != "terminology" or len(path) not in (2, 3) or not _NAME.fullmatch(path[1]) \
            or path[2:] not in ([], ["LATEST"]):
        return None
    return path[1]


def tagged_terminology_exists(principal: Principal, arn: str) -> bool:
    """Whether a tagging request's ARN names one of the caller's terminologies; InvalidParameterValueException
    when it is not a Translate terminology ARN at all."""
    name = _terminology_name(arn)
    if name is None:
        raise InvalidParameterValue(f"{arn} is not the ARN of a Translate terminology.")
    return owned(parse_arn(arn), "translate", principal.account_id, principal.region) and \
        TERMINOLOGIES.exists(principal, name)


def canonical_arn(arn: str) -> str:
    """A terminology's ARN as its tags are stored (`.../LATEST`), from either spelling a request may use."""
    parsed, name = parse_arn(arn), _terminology_name(arn)
    if parsed is None or name is None:
        return arn
    return terminology_arn(Principal(parsed.account, parsed.region), name)


# ---------------------------------------------------------------------------------------------- parsing


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidParameterValue("The terminology file is not UTF-8 (or UTF-16) text.")


def _language(code: str, where: str) -> str:
    code = code.strip()
    if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z]{2,4})?", code):
        raise InvalidParameterValue(f"Invalid language code {code[:20]!r} in {where}.")
    return normalize(code)


def parse_delimited(data: bytes, delimiter: str) -> tuple[list[str], list[dict[str, str]], int]:
    rows = list(csv.reader(io.StringIO(_decode(data)), delimiter=delimiter))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise InvalidParameterValue("The terminology file needs a header row of language codes and at least one term row.")
    header = [_language(cell, "the header row") for cell in rows[0]]
    if len(header) < 2 or len(set(header)) != len(header):
        raise InvalidParameterValue("The header row must name at least two different language codes.")
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
        raise InvalidParameterValue(f"The TMX file is not well-formed XML: {error}") from None
    if root.tag != "tmx":
        raise InvalidParameterValue("The TMX file has no <tmx> root element.")
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
        raise InvalidParameterValue("The TMX file holds no translation unit with two languages.")
    return languages, entries, skipped


# ---------------------------------------------------------------------------------------------- storage


def import_terminology(ctx: RequestContext, request: dict) -> TranslateTerminology:
    """Parse the file and store it under its name (a terminology of that name is overwritten)."""
    data_spec = request["TerminologyData"]
    data: bytes = data_spec["File"]
    fmt = data_spec["Format"]
    directionality = data_spec.get("Directionality", "UNI")
    if fmt == "TMX":
        languages, entries, skipped = parse_tmx(data)
    else:
        languages, entries, skipped = parse_delimited(data, "\t" if fmt == "TSV" else ",")
    if not entries:
        raise InvalidParameterValue("The terminology file holds no valid term.")
    message = f"{skipped} terms were skipped (missing source term or longer than {MAX_TERM_CHARS} characters)." \
        if skipped else None
    now = utcnow()
    values = {"description": request.get("Description"), "source_language": languages[0], "languages": languages,
              "directionality": directionality, "format": fmt, "entries": entries, "skipped": skipped,
              "message": message, "data": data, "encryption_key": request.get("EncryptionKey"), "updated_at": now}
    row, _created = TERMINOLOGIES.put(
        ctx, request["Name"], values, created={"created_at": now}, limit=MAX_TERMINOLOGIES,
        over_limit=lambda limit: LimitExceeded(f"You can have at most {limit} terminologies per region."))
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


# ---------------------------------------------------------------------------------------------- application


@dataclass
class TermSet:
    """The terms that apply to one (source, target) pair, from the terminologies a request names."""

    # (terminology name, source text, target text), longest source first
    terms: list[tuple[str, str, str]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    pattern: re.Pattern | None = None

    @classmethod
    def load(cls, scope: Principal | RequestContext, names: list[str] | None, source: str,
             target: str) -> TermSet:
        found = cls(names=list(names or []))
        if not names:
            return found
        with session() as db:
            for name in names:
                row = TERMINOLOGIES.find(scope, name, db)
                if row is None:
                    raise ResourceNotFound(f"The terminology {name} does not exist.")
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
