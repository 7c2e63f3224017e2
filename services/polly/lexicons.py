"""Pronunciation lexicons (W3C PLS 1.0) stored per account and region, and applied to words before synthesis."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.kit.arns import build_arn, owned, parse_arn
from services.gateway.kit.resources import ResourceTable, Scoped
from services.gateway.kit.times import aware, utcnow
from services.polly import sayas
from services.polly.errors import (InvalidLexicon, LexiconNotFound, LexiconSizeExceeded, MaxLexemeLengthExceeded,
                                   MaxLexiconsNumberExceeded, UnsupportedPlsAlphabet, UnsupportedPlsLanguage,
                                   Validation)
from services.polly.ssml import Sentence, Word
from services.polly.voices import _LANG

PLS_NS = "http://www.w3.org/2005/01/pronunciation-lexicon"
MAX_LEXICONS = 100
MAX_SIZE = 40_000
MAX_LEXEME_LENGTH = 100
MAX_PER_REQUEST = 5


class PollyLexicon(Scoped, Base):
    __tablename__ = "polly_lexicons"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    alphabet: Mapped[str] = mapped_column(String(16))
    language_code: Mapped[str] = mapped_column(String(16))
    lexemes_count: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    @property
    def arn(self) -> str:
        return lexicon_arn(Principal(self.account_id, self.region), self.name)

    def attributes(self) -> dict:
        return {"Alphabet": self.alphabet, "LanguageCode": self.language_code,
                "LastModified": aware(self.last_modified),
                "LexiconArn": self.arn,
                "LexemesCount": self.lexemes_count, "Size": self.size}


LEXICONS = ResourceTable(PollyLexicon, key="name", not_found=lambda name: LexiconNotFound(f"Lexicon not found: {name}"))


def lexicon_arn(scope: Principal | RequestContext, name: str) -> str:
    return build_arn("polly", scope.region, scope.account_id, f"lexicon/{name}")


def tagged_lexicon_exists(principal: Principal, arn: str) -> bool:
    """Whether a tagging request's ARN names one of the caller's lexicons."""
    parsed = parse_arn(arn)
    if not owned(parsed, "polly", principal.account_id, principal.region) or parsed.resource_type != "lexicon":
        return False
    return LEXICONS.exists(principal, parsed.resource_id)


@dataclass
class Entry:
    alias: str | None
    phoneme: str | None  # IPA


def parse_pls(content: str) -> tuple[str, str, dict[str, Entry]]:
    """(alphabet, language, grapheme -> entry); raises Polly's lexicon errors."""
    if len(content) > MAX_SIZE:
        raise LexiconSizeExceeded(f"Lexicon size {len(content)} characters exceeds the maximum of {MAX_SIZE}.")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(content.encode("utf-8"), parser)
    except etree.XMLSyntaxError as error:
        raise InvalidLexicon(f"The lexicon is not well-formed XML: {error}") from None
    if etree.QName(root).localname != "lexicon":
        raise InvalidLexicon("The root element of a PLS lexicon must be <lexicon>.")
    alphabet = root.get("alphabet")
    if alphabet not in ("ipa", "x-sampa"):
        raise UnsupportedPlsAlphabet(f"Alphabet {alphabet!r} is not supported; use ipa or x-sampa.")
    language = root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not language:
        raise InvalidLexicon("The lexicon needs an xml:lang attribute.")
    if language not in _LANG:
        raise UnsupportedPlsLanguage(f"Language {language!r} is not supported.")
    entries: dict[str, Entry] = {}
    for lexeme in root:
        if not isinstance(lexeme.tag, str) or etree.QName(lexeme).localname != "lexeme":
            continue
        graphemes = [(g.text or "").strip() for g in lexeme if isinstance(g.tag, str) and etree.QName(g).localname == "grapheme"]
        aliases = [(a.text or "").strip() for a in lexeme if isinstance(a.tag, str) and etree.QName(a).localname == "alias"]
        phonemes = [(p.text or "").strip() for p in lexeme if isinstance(p.tag, str) and etree.QName(p).localname == "phoneme"]
        if not graphemes or not any(graphemes):
            raise InvalidLexicon("Every <lexeme> needs a non-empty <grapheme>.")
        if not aliases and not phonemes:
            raise InvalidLexicon(f"Lexeme {graphemes[0]!r} has neither <alias> nor <phoneme>.")
        for value in graphemes + aliases + phonemes:
            if len(value) > MAX_LEXEME_LENGTH:
                raise MaxLexemeLengthExceeded(f"Lexeme {value[:40]!r}... exceeds {MAX_LEXEME_LENGTH} characters.")
        entry = Entry(aliases[0] if aliases else None,
                      None if aliases else (phonemes[0] if alphabet == "ipa" else sayas.xsampa_to_ipa(phonemes[0])))
        for grapheme in graphemes:
            entries.setdefault(grapheme, entry)
    return alphabet, language, entries


def put(ctx: RequestContext, name: str, content: str) -> PollyLexicon:
    """Store the lexicon under its name (one of that name is replaced)."""
    alphabet, language, entries = parse_pls(content)
    values = {"content": content, "alphabet": alphabet, "language_code": language, "lexemes_count": len(entries),
              "size": len(content.encode("utf-8")), "last_modified": utcnow()}
    row, _created = LEXICONS.put(
        ctx, name, values, limit=MAX_LEXICONS,
        over_limit=lambda limit: MaxLexiconsNumberExceeded(f"An account may store at most {limit} lexicons per region."))
    return row


def load_entries(scope: Principal | RequestContext, names: list[str]) -> list[dict[str, Entry]]:
    """The entries of the caller's lexicons, in the order named."""
    if len(names) > MAX_PER_REQUEST:
        raise Validation(f"At most {MAX_PER_REQUEST} lexicons may be applied to a request.")
    return [parse_pls(LEXICONS.get(scope, name).content)[2] for name in names]


def snapshot(scope: Principal | RequestContext, names: list[str]) -> list[str]:
    """The contents of the caller's lexicons as they are now (a synthesis task speaks with these)."""
    return [LEXICONS.get(scope, name).content for name in names]


def entries_of(contents: list[str]) -> list[dict[str, Entry]]:
    return [parse_pls(content)[2] for content in contents]


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
