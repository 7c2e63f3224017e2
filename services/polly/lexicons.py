"""Pronunciation lexicons (W3C PLS 1.0) stored per account and region, and applied to words before synthesis."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import DateTime, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import RequestContext
from services.gateway.db import Base
from services.gateway.errors import ServiceError
from services.gateway.runtime import runtime
from services.polly import sayas
from services.polly.ssml import Sentence, Word
from services.polly.voices import _LANG

PLS_NS = "http://www.w3.org/2005/01/pronunciation-lexicon"
MAX_LEXICONS = 100
MAX_SIZE = 40_000
MAX_LEXEME_LENGTH = 100
MAX_PER_REQUEST = 5


class PollyLexicon(Base):
    __tablename__ = "polly_lexicons"

    account_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    alphabet: Mapped[str] = mapped_column(String(16))
    language_code: Mapped[str] = mapped_column(String(16))
    lexemes_count: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def attributes(self, ctx_region: str) -> dict:
        modified = self.last_modified
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=dt.timezone.utc)
        return {"Alphabet": self.alphabet, "LanguageCode": self.language_code, "LastModified": modified,
                "LexiconArn": f"arn:aws:polly:{self.region}:{self.account_id}:lexicon/{self.name}",
                "LexemesCount": self.lexemes_count, "Size": self.size}


@dataclass
class Entry:
    alias: str | None
    phoneme: str | None  # IPA


def parse_pls(content: str) -> tuple[str, str, dict[str, Entry]]:
    """(alphabet, language, grapheme -> entry); raises Polly's lexicon errors."""
    if len(content) > MAX_SIZE:
        raise ServiceError("LexiconSizeExceededException",
                           f"Lexicon size {len(content)} characters exceeds the maximum of {MAX_SIZE}.")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(content.encode("utf-8"), parser)
    except etree.XMLSyntaxError as error:
        raise ServiceError("InvalidLexiconException", f"The lexicon is not well-formed XML: {error}") from None
    if etree.QName(root).localname != "lexicon":
        raise ServiceError("InvalidLexiconException", "The root element of a PLS lexicon must be <lexicon>.")
    alphabet = root.get("alphabet")
    if alphabet not in ("ipa", "x-sampa"):
        raise ServiceError("UnsupportedPlsAlphabetException",
                           f"Alphabet {alphabet!r} is not supported; use ipa or x-sampa.")
    language = root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not language:
        raise ServiceError("InvalidLexiconException", "The lexicon needs an xml:lang attribute.")
    if language not in _LANG:
        raise ServiceError("UnsupportedPlsLanguageException", f"Language {language!r} is not supported.")
    entries: dict[str, Entry] = {}
    for lexeme in root:
        if not isinstance(lexeme.tag, str) or etree.QName(lexeme).localname != "lexeme":
            continue
        graphemes = [(g.text or "").strip() for g in lexeme if isinstance(g.tag, str) and etree.QName(g).localname == "grapheme"]
        aliases = [(a.text or "").strip() for a in lexeme if isinstance(a.tag, str) and etree.QName(a).localname == "alias"]
        phonemes = [(p.text or "").strip() for p in lexeme if isinstance(p.tag, str) and etree.QName(p).localname == "phoneme"]
        if not graphemes or not any(graphemes):
            raise ServiceError("InvalidLexiconException", "Every <lexeme> needs a non-empty <grapheme>.")
        if not aliases and not phonemes:
            raise ServiceError("InvalidLexiconException", f"Lexeme {graphemes[0]!r} has neither <alias> nor <phoneme>.")
        for value in graphemes + aliases + phonemes:
            if len(value) > MAX_LEXEME_LENGTH:
                raise ServiceError("MaxLexemeLengthExceededException",
                                   f"Lexeme {value[:40]!r}... exceeds {MAX_LEXEME_LENGTH} characters.")
        entry = Entry(aliases[0] if aliases else None,
                      None if aliases else (phonemes[0] if alphabet == "ipa" else sayas.xsampa_to_ipa(phonemes[0])))
        for grapheme in graphemes:
            entries.setdefault(grapheme, entry)
    return alphabet, language, entries


def put(ctx: RequestContext, name: str, content: str) -> None:
    alphabet, language, entries = parse_pls(content)
    with runtime().db.session() as session:
        existing = session.get(PollyLexicon, (ctx.account_id, ctx.region, name))
        if existing is None:
            count = session.scalar(select(func.count()).select_from(PollyLexicon).where(
                PollyLexicon.account_id == ctx.account_id, PollyLexicon.region == ctx.region))
            if count >= MAX_LEXICONS:
                raise ServiceError("MaxLexiconsNumberExceededException",
                                   f"An account may store at most {MAX_LEXICONS} lexicons per region.")
            existing = PollyLexicon(account_id=ctx.account_id, region=ctx.region, name=name)
            session.add(existing)
        existing.content, existing.alphabet, existing.language_code = content, alphabet, language
        existing.lexemes_count, existing.size = len(entries), len(content.encode("utf-8"))
        existing.last_modified = dt.datetime.now(dt.timezone.utc)


def get(account_id: str, region: str, name: str) -> PollyLexicon:
    with runtime().db.session() as session:
        found = session.get(PollyLexicon, (account_id, region, name))
    if found is None:
        raise ServiceError("LexiconNotFoundException", f"Lexicon not found: {name}")
    return found


def list_all(ctx: RequestContext) -> list[PollyLexicon]:
    with runtime().db.session() as session:
        return list(session.scalars(select(PollyLexicon).where(
            PollyLexicon.account_id == ctx.account_id, PollyLexicon.region == ctx.region).order_by(PollyLexicon.name)))


def delete(ctx: RequestContext, name: str) -> None:
    with runtime().db.session() as session:
        found = session.get(PollyLexicon, (ctx.account_id, ctx.region, name))
        if found is None:
            raise ServiceError("LexiconNotFoundException", f"Lexicon not found: {name}")
        session.delete(found)


def load_entries(account_id: str, region: str, names: list[str]) -> list[dict[str, Entry]]:
    if len(names) > MAX_PER_REQUEST:
        raise ServiceError("ValidationException", f"At most {MAX_PER_REQUEST} lexicons may be applied to a request.")
    return [parse_pls(get(account_id, region, name).content)[2] for name in names]


def apply(sentences: list[Sentence], lexicons: list[dict[str, Entry]]) -> None:
    """Replace words found in the lexicons (first lexicon first; multi-word graphemes too) in place."""
    if not lexicons:
        return
    longest = max((len(g.split()) for lexicon in lexicons for g in lexicon), default=1)
    for sentence in sentences:
        items = sentence.items
        index = 0
        while index < len(items):
            item = items[index]
            if not isinstance(item, Word) or not item.lexicon_ok:
                index += 1
                continue
            for size in range(min(longest, len(items) - index), 0, -1):
                run = items[index:index + size]
                if not all(isinstance(w, Word) and w.lexicon_ok and w.prosody == item.prosody for w in run):
                    continue
                key = " ".join(w.value for w in run)
                entry = next((lexicon[key] for lexicon in lexicons if key in lexicon), None)
                if entry is None:
                    continue
                tail = run[-1].text[len(run[-1].value):] if run[-1].text.startswith(run[-1].value) else ""
                merged = Word(entry.alias + tail if entry.alias else run[-1].value + tail, key, run[0].start,
                              run[-1].end, item.prosody, entry.phoneme, lexicon_ok=False)
                items[index:index + size] = [merged]
                break
            index += 1
