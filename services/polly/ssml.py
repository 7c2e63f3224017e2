"""Text and SSML input -> sentences of words, pauses, marks and breaths, with byte offsets into the input.

Polly's speech marks give `start`/`end` as byte offsets into the request's Text (the SSML document itself when
TextType is ssml), so every word keeps the span of the input it came from. The SSML is checked for
well-formedness with lxml (XML errors are reported with line and column); the walk over the document is done on
the raw text so offsets stay exact.
"""

from __future__ import annotations

import html.entities
import re
from dataclasses import dataclass, field, replace

from lxml import etree

from services.polly import sayas
from services.polly.errors import InvalidSsml
from services.polly.voices import espeak_language


@dataclass(frozen=True)
class Prosody:
    rate: float = 1.0  # speed multiplier
    pitch: float = 1.0  # frequency multiplier
    volume_db: float = 0.0
    whisper: bool = False
    language: str | None = None  # espeak-ng language for <lang>


@dataclass
class Word:
    text: str  # what is said (may carry trailing punctuation for phrasing)
    value: str  # the input's text for the word speech mark
    start: int  # byte offsets into the input
    end: int
    prosody: Prosody
    phonemes: str | None = None  # IPA, from <phoneme> or a lexicon
    lexicon_ok: bool = True  # plain words only: lexicons apply


@dataclass
class Pause:
    ms: int


@dataclass
class Mark:
    name: str
    start: int
    end: int


@dataclass
class Breath:
    ms: int
    volume_db: float


@dataclass
class Sentence:
    items: list = field(default_factory=list)
    start: int = 0
    end: int = 0
    value: str = ""

    @property
    def words(self) -> list[Word]:
        return [item for item in self.items if isinstance(item, Word)]


_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "mt", "inc", "ltd",
                  "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
_WORD = re.compile(r"\S+")
_EDGE = "\"'“”‘’«»()[]{}<>,;:.!?…-–—*"


class _Offsets:
    """char index -> UTF-8 byte offset of the input."""

    def __init__(self, text: str) -> None:
        self.table = [0]
        total = 0
        for char in text:
            total += len(char.encode("utf-8"))
            self.table.append(total)

    def __call__(self, index: int) -> int:
        return self.table[index]


def _split_word(raw: str) -> tuple[int, int]:
    """(start, end) of a token's core, without surrounding punctuation/quotes."""
    start, end = 0, len(raw)
    while start < end and raw[start] in _EDGE:
        start += 1
    while end > start and raw[end - 1] in _EDGE:
        end -= 1
    return start, end


def _ends_sentence(token: str, next_token: str | None) -> bool:
    core = token.rstrip("\"'”’)]»")
    if not core or core[-1] not in ".!?…":
        return False
    if core[-1] == ".":
        word = core[:-1].lstrip("\"'“‘([«").lower()
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or re.fullmatch(r"(\w\.)+\w", word):
            return False
    return next_token is None or not next_token[:1].islower()


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.offsets = _Offsets(source)
        self.sentences: list[Sentence] = []
        self.current = Sentence()

    def word(self, text: str, value: str, start_char: int, end_char: int, prosody: Prosody,
             phonemes: str | None = None, lexicon_ok: bool = True) -> None:
        if not self.current.words:
            self.current.start = self.offsets(start_char)
        self.current.items.append(Word(text, value, self.offsets(start_char), self.offsets(end_char), prosody,
                                       phonemes, lexicon_ok))
        self.current.end = self.offsets(end_char)

    def add(self, item) -> None:
        self.current.items.append(item)

    def close_sentence(self) -> None:
        if self.current.words:
            self.current.value = self.source.encode("utf-8")[self.current.start:self.current.end].decode("utf-8", "replace")
            self.current.value = re.sub(r"<[^>]*>", "", self.current.value)
            self.sentences.append(self.current)
            self.current = Sentence()
        elif self.current.items:
            # Pauses/marks with no words yet: carry them into the next sentence.
            pass

    def finish(self) -> list[Sentence]:
        if self.current.words:
            self.close_sentence()
        elif self.current.items:
            if self.sentences:
                self.sentences[-1].items.extend(self.current.items)
            else:
                self.sentences.append(self.current)
        return self.sentences

    def text(self, chars: list[tuple[str, int, int]], prosody: Prosody) -> None:
        """Plain text run: `chars` are (char, raw start, raw end) after entity decoding."""
        decoded = "".join(c for c, _, _ in chars)
        tokens = list(_WORD.finditer(decoded))
        for n, match in enumerate(tokens):
            token = match.group()
            core_start, core_end = _split_word(token)
            next_token = tokens[n + 1].group() if n + 1 < len(tokens) else None
            if core_start == core_end:  # punctuation only: a short pause for dashes, nothing for the rest
                if token.strip("-–—…"):
                    if self.current.words:
                        last = self.current.words[-1]
                        last.text += token
                        self.current.end = self.offsets(chars[match.end() - 1][2])
                else:
                    self.add(Pause(150))
                if _ends_sentence(token, next_token):
                    self.close_sentence()
                continue
            first = match.start() + core_start
            last_index = match.start() + core_end - 1
            value = token[core_start:core_end]
            spoken = value + token[core_end:]
            self.word(spoken, value, chars[first][1], chars[last_index][2], prosody)
            self.current.end = self.offsets(chars[match.end() - 1][2])  # the sentence keeps its punctuation
            if _ends_sentence(token, next_token):
                self.close_sentence()


def parse_text(text: str) -> list[Sentence]:
    builder = _Builder(text)
    builder.text([(c, i, i + 1) for i, c in enumerate(text)], Prosody())
    return builder.finish()


# ---------------------------------------------------------------- SSML

_TOKEN = re.compile(
    r"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[(?P<cdata>.*?)\]\]>|<!DOCTYPE[^>]*>"
    r"|<(?P<close>/)?(?P<name>[\w:.-]+)(?P<attrs>(?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(?P<empty>/)?>"
    r"|(?P<text>[^<]+)",
    re.S,
)
_ATTR = re.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);")

_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 250, "medium": 400, "strong": 700, "x-strong": 1200}
_RATES = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "fast": 1.25, "x-fast": 1.6, "default": 1.0}
_PITCHES = {"x-low": 0.8, "low": 0.9, "medium": 1.0, "high": 1.1, "x-high": 1.2, "default": 1.0}
_VOLUMES = {"silent": -120.0, "x-soft": -12.0, "soft": -6.0, "medium": 0.0, "loud": 6.0, "x-loud": 12.0, "default": 0.0}
_BREATH_MS = {"x-short": 150, "short": 250, "medium": 400, "long": 550, "x-long": 700, "default": 400}
_BREATH_DB = {"x-soft": -18.0, "soft": -12.0, "medium": -8.0, "loud": -4.0, "x-loud": 0.0, "default": -8.0}

SUPPORTED_TAGS = {"speak", "p", "s", "break", "prosody", "emphasis", "say-as", "sub", "phoneme", "lang", "mark", "w",
                  "amazon:effect", "amazon:breath", "amazon:auto-breaths", "amazon:domain"}


def _decode(raw: str, offset: int) -> list[tuple[str, int, int]]:
    chars: list[tuple[str, int, int]] = []
    position = 0
    for match in _ENTITY.finditer(raw):
        for i in range(position, match.start()):
            chars.append((raw[i], offset + i, offset + i + 1))
        name = match.group(1)
        if name.startswith("#x"):
            char = chr(int(name[2:], 16))
        elif name.startswith("#"):
            char = chr(int(name[1:]))
        else:
            char = html.entities.html5.get(name + ";", "")
        for c in char:
            chars.append((c, offset + match.start(), offset + match.end()))
        position = match.end()
    for i in range(position, len(raw)):
        chars.append((raw[i], offset + i, offset + i + 1))
    return chars


def _time_ms(value: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", value or "")
    if not match:
        raise InvalidSsml(f"break time {value!r} is not a time such as 500ms or 2s")
    ms = float(match.group(1)) * (1000 if match.group(2) == "s" else 1)
    if ms > 10_000:
        raise InvalidSsml(f"break time {value!r} exceeds the maximum of 10s")
    return int(ms)


def _rate(value: str) -> float:
    if value in _RATES:
        return _RATES[value]
    match = re.fullmatch(r"\+?(\d+(?:\.\d+)?)%", value.strip())
    if not match:
        raise InvalidSsml(f"prosody rate {value!r} is not x-slow, slow, medium, fast, x-fast or a percentage")
    percent = float(match.group(1))
    if not 20 <= percent <= 200:
        raise InvalidSsml(f"prosody rate {value!r} is outside 20% to 200%")
    return percent / 100


def _pitch(value: str) -> float:
    if value in _PITCHES:
        return _PITCHES[value]
    match = re.fullmatch(r"([+-])(\d+(?:\.\d+)?)%", value.strip())
    if not match:
        raise InvalidSsml(f"prosody pitch {value!r} is not x-low, low, medium, high, x-high or a relative percentage (+10%)")
    percent = float(match.group(2)) * (1 if match.group(1) == "+" else -1)
    if not -33.3 <= percent <= 50:
        raise InvalidSsml(f"prosody pitch {value!r} is outside -33.3% to +50%")
    return 1 + percent / 100


def _volume(value: str) -> float:
    if value in _VOLUMES:
        return _VOLUMES[value]
    match = re.fullmatch(r"([+-])(\d+(?:\.\d+)?)dB", value.strip())
    if not match:
        raise InvalidSsml(f"prosody volume {value!r} is not silent, x-soft, soft, medium, loud, x-loud or +/-NdB")
    return float(match.group(2)) * (1 if match.group(1) == "+" else -1)


def _check_xml(ssml: str) -> None:
    if re.search(r"<!DOCTYPE|<!ENTITY", ssml, re.I):
        raise InvalidSsml("DOCTYPE declarations and entity definitions are not allowed")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    checked = ssml
    if "xmlns:amazon" not in ssml:  # Polly accepts amazon: tags without declaring the prefix
        checked = re.sub(r"<speak(?=[\s/>])", '<speak xmlns:amazon="http://aws.amazon.com/polly/ssml"', ssml, count=1)
    try:
        root = etree.fromstring(checked.encode("utf-8"), parser)
    except etree.XMLSyntaxError as error:
        raise InvalidSsml(f"the document is not well-formed XML: {error}") from None
    if etree.QName(root).localname != "speak":
        raise InvalidSsml(f"the root element must be <speak>, not <{root.tag}>")


def parse_ssml(ssml: str) -> list[Sentence]:
    _check_xml(ssml)
    # Entities of HTML5 names (&nbsp;) are not XML; the check above already refused undefined ones.
    builder = _Builder(ssml)
    stack: list[tuple[str, Prosody, dict]] = []
    prosody = Prosody()
    capture: dict | None = None  # say-as / sub / phoneme gather their text into one word
    for match in _TOKEN.finditer(ssml):
        if match.group("text") is not None or match.group("cdata") is not None:
            group = "text" if match.group("text") is not None else "cdata"
            raw = match.group(group)
            chars = _decode(raw, match.start(group)) if group == "text" else [
                (c, match.start(group) + i, match.start(group) + i + 1) for i, c in enumerate(raw)]
            if not stack:
                if raw.strip():
                    raise InvalidSsml("text outside <speak>")
                continue
            if capture is not None:
                capture["chars"].extend(chars)
            else:
                builder.text(chars, prosody)
            continue
        name = match.group("name")
        if name is None:
            continue  # comment, processing instruction, doctype
        attrs = {key: a or b for key, a, b in _ATTR.findall(match.group("attrs") or "")}
        if match.group("close"):
            if not stack or stack[-1][0] != name:
                raise InvalidSsml(f"unexpected closing tag </{name}>")
            tag, saved, state = stack.pop()
            if state.get("capture"):
                _emit_capture(builder, tag, state, capture, prosody)
                capture = None
            if tag in ("s", "p"):
                builder.close_sentence()
                if tag == "p":
                    builder.add(Pause(500))
            prosody = saved
            continue
        if name not in SUPPORTED_TAGS:
            raise InvalidSsml(f"unsupported SSML tag <{name}>")
        if name == "speak" and stack:
            raise InvalidSsml("<speak> may only be the root element")
        if capture is not None and name not in ("break", "mark"):
            raise InvalidSsml(f"<{name}> is not allowed inside <{stack[-1][0]}>")
        saved = prosody
        state: dict = {}
        if name == "break":
            if "time" in attrs:
                ms = _time_ms(attrs["time"])
            else:
                strength = attrs.get("strength", "medium")
                if strength not in _STRENGTH_MS:
                    raise InvalidSsml(f"break strength {strength!r} is not one of {', '.join(_STRENGTH_MS)}")
                ms = _STRENGTH_MS[strength]
            builder.add(Pause(ms))
        elif name == "mark":
            if "name" not in attrs:
                raise InvalidSsml("<mark> needs a name attribute")
            builder.add(Mark(attrs["name"], builder.offsets(match.start()), builder.offsets(match.end())))
        elif name == "amazon:breath":
            duration, volume = attrs.get("duration", "medium"), attrs.get("volume", "medium")
            if duration not in _BREATH_MS or volume not in _BREATH_DB:
                raise InvalidSsml("amazon:breath duration/volume must be x-short..x-long / x-soft..x-loud")
            builder.add(Breath(_BREATH_MS[duration], _BREATH_DB[volume]))
        elif name in ("s", "p"):
            builder.close_sentence()
        elif name == "prosody":
            if not attrs:
                raise InvalidSsml("<prosody> needs a rate, pitch or volume attribute")
            prosody = replace(prosody,
                              rate=prosody.rate * _rate(attrs["rate"]) if "rate" in attrs else prosody.rate,
                              pitch=prosody.pitch * _pitch(attrs["pitch"]) if "pitch" in attrs else prosody.pitch,
                              volume_db=prosody.volume_db + _volume(attrs["volume"]) if "volume" in attrs else prosody.volume_db)
        elif name == "emphasis":
            level = attrs.get("level", "moderate")
            effects = {"strong": (0.8, 1.08, 4.0), "moderate": (0.9, 1.04, 2.0), "reduced": (1.1, 0.97, -3.0),
                       "none": (1.0, 1.0, 0.0)}
            if level not in effects:
                raise InvalidSsml(f"emphasis level {level!r} is not strong, moderate, reduced or none")
            r, p, v = effects[level]
            prosody = replace(prosody, rate=prosody.rate * r, pitch=prosody.pitch * p, volume_db=prosody.volume_db + v)
        elif name == "lang" and "xml:lang" in attrs:  # (xml:lang on <speak> is the voice's language: ignored)
            language = espeak_language(attrs["xml:lang"])
            if language is None:
                raise InvalidSsml(f"xml:lang {attrs['xml:lang']!r} is not a supported language")
            prosody = replace(prosody, language=language)
        elif name == "lang":
            raise InvalidSsml("<lang> needs an xml:lang attribute")
        elif name == "amazon:effect":
            effect = attrs.get("name")
            if effect == "whispered":
                prosody = replace(prosody, whisper=True)
            elif effect == "drc" or "phonation" in attrs or "vocal-tract-length" in attrs:
                if "phonation" in attrs:
                    prosody = replace(prosody, volume_db=prosody.volume_db - 3.0)
                if "vocal-tract-length" in attrs:
                    match_vtl = re.fullmatch(r"([+-]?\d+)%", attrs["vocal-tract-length"])
                    if not match_vtl:
                        raise InvalidSsml("vocal-tract-length must be a percentage such as +10%")
                    prosody = replace(prosody, pitch=prosody.pitch / (1 + int(match_vtl.group(1)) / 100))
            else:
                raise InvalidSsml(f"amazon:effect {attrs} is not supported (whispered, drc, phonation, vocal-tract-length)")
        elif name in ("say-as", "sub", "phoneme"):
            if name == "say-as" and "interpret-as" not in attrs:
                raise InvalidSsml("<say-as> needs an interpret-as attribute")
            if name == "say-as" and attrs["interpret-as"] not in sayas.SUPPORTED:
                raise InvalidSsml(f"say-as interpret-as {attrs['interpret-as']!r} is not supported "
                              f"({', '.join(sorted(sayas.SUPPORTED))})")
            if name == "sub" and "alias" not in attrs:
                raise InvalidSsml("<sub> needs an alias attribute")
            if name == "phoneme":
                if "ph" not in attrs:
                    raise InvalidSsml("<phoneme> needs a ph attribute")
                if attrs.get("alphabet", "ipa") not in ("ipa", "x-sampa"):
                    raise InvalidSsml(f"phoneme alphabet {attrs.get('alphabet')!r} is not ipa or x-sampa")
            state = {"capture": True, "attrs": attrs}
            capture = {"chars": []}
        if match.group("empty"):
            prosody = saved  # an empty element changes nothing after it
            if state.get("capture"):
                capture = None
            continue
        stack.append((name, saved, state))
    if stack:
        raise InvalidSsml(f"<{stack[-1][0]}> is not closed")
    return builder.finish()


def _emit_capture(builder: _Builder, tag: str, state: dict, capture: dict, prosody: Prosody) -> None:
    chars = capture["chars"]
    attrs = state["attrs"]
    content = "".join(c for c, _, _ in chars)
    stripped = content.strip()
    if not stripped:
        if tag == "sub" and attrs.get("alias"):
            raise InvalidSsml("<sub> has no text")
        return
    lead = len(content) - len(content.lstrip())
    first, last = chars[lead], chars[lead + len(stripped) - 1]
    if tag == "sub":
        spoken, phonemes = attrs["alias"], None
    elif tag == "phoneme":
        spoken = stripped
        phonemes = attrs["ph"] if attrs.get("alphabet", "ipa") == "ipa" else sayas.xsampa_to_ipa(attrs["ph"])
    else:
        try:
            spoken = sayas.expand(attrs["interpret-as"], stripped, attrs.get("format"), attrs.get("detail"))
        except ValueError as error:
            raise InvalidSsml(f"say-as {attrs['interpret-as']}: {error}") from None
        phonemes = None
    builder.word(spoken, stripped, first[1], last[2], prosody, phonemes, lexicon_ok=False)


def parse(text: str, text_type: str) -> list[Sentence]:
    return parse_ssml(text) if text_type == "ssml" else parse_text(text)


def billed_characters(text: str, text_type: str) -> int:
    """Polly bills (and limits) the characters of the text, not of the SSML tags."""
    if text_type != "ssml":
        return len(text)
    return len(re.sub(r"<[^>]*>", "", text))
