"""From ASR words to Amazon Transcribe's transcript JSON (results.transcripts / items / audio_segments /
speaker_labels / channel_labels), custom vocabulary display forms, vocabulary filters, PII redaction and
subtitle files (SRT, WebVTT)."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable

PUNCTUATION = set(".,?!;:…\"“”«»¿¡")
_ABBREVIATION = re.compile(r"^(?:[A-Za-z]\.){2,}$|^(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Prof|vs|etc)\.$")


@dataclass
class Token:
    type: str  # "pronunciation" | "punctuation"
    content: str
    start: float = 0.0
    end: float = 0.0
    confidence: float = 0.0
    channel: int = 0
    segment: int = 0
    speaker: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # vocabulary_filter_match, redactions...


def split_word(text: str) -> tuple[list[str], str, list[str]]:
    """`'"Hello,'` -> (['"'], 'Hello', [',']): punctuation around a word becomes punctuation items."""
    if _ABBREVIATION.match(text):
        return [], text, []
    lead: list[str] = []
    trail: list[str] = []
    while text and text[0] in PUNCTUATION:
        lead.append(text[0])
        text = text[1:]
    while text and text[-1] in PUNCTUATION:
        trail.insert(0, text[-1])
        text = text[:-1]
    return lead, text, trail


def tokens_from(transcription: dict, channel: int = 0) -> list[Token]:
    tokens: list[Token] = []
    for index, segment in enumerate(transcription["segments"]):
        for start, end, text, probability in segment["words"]:
            lead, word, trail = split_word(text)
            for mark in lead:
                tokens.append(Token("punctuation", mark, channel=channel, segment=index))
            if word:
                tokens.append(Token("pronunciation", word, round(start, 3), round(max(end, start + 0.01), 3),
                                    round(float(probability), 4), channel, index))
            for mark in trail:
                tokens.append(Token("punctuation", mark, channel=channel, segment=index))
    # Punctuation with no word before it (stray quotes) is dropped at the very start.
    while tokens and tokens[0].type == "punctuation":
        tokens.pop(0)
    return tokens


def join_text(tokens: list[Token]) -> str:
    out: list[str] = []
    for token in tokens:
        if token.type == "punctuation" and out:
            out[-1] += token.content
        elif token.content:
            out.append(token.content)
    return " ".join(out)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if ch.isalnum())


# ---------------------------------------------------------------- custom vocabularies


@dataclass
class VocabularyEntry:
    phrase: str  # words joined by '-' as in AWS tables/lists ("Los-Angeles")
    sounds_like: str | None = None
    ipa: str | None = None
    display_as: str | None = None

    @property
    def words(self) -> list[str]:
        return [word for word in self.phrase.split("-") if word]

    @property
    def written(self) -> str:
        return self.display_as or " ".join(self.words)


def vocabulary_prompt(entries: list[VocabularyEntry]) -> tuple[str, str]:
    """(initial_prompt, hotwords) that bias Whisper's decoder towards the vocabulary's spellings."""
    written = []
    for entry in entries:
        if entry.written not in written:
            written.append(entry.written)
    text = ", ".join(written[:200])
    return f"Glossary: {text}.", text


def apply_vocabulary(tokens: list[Token], entries: list[VocabularyEntry]) -> list[Token]:
    """Rewrite word runs that spell (or sound like, by letters) a vocabulary phrase into its display form."""
    if not entries:
        return tokens
    targets: list[tuple[list[str], VocabularyEntry]] = []
    for entry in entries:
        keys = {_fold(" ".join(entry.words))}
        if entry.sounds_like:
            keys.add(_fold(entry.sounds_like))
        if entry.display_as:
            keys.add(_fold(entry.display_as))
        targets.append(([key for key in keys if key], entry))
    words = [i for i, token in enumerate(tokens) if token.type == "pronunciation"]
    replaced: dict[int, tuple[int, VocabularyEntry]] = {}  # first word index -> (run length, entry)
    used: set[int] = set()
    for run in (3, 2, 1):
        for position in range(len(words) - run + 1):
            span = words[position:position + run]
            if any(index in used for index in span):
                continue
            if any(tokens[i].type == "punctuation" for i in range(span[0], span[-1] + 1) if i not in span):
                continue
            folded = _fold("".join(tokens[i].content for i in span))
            if len(folded) < 3:
                continue
            for keys, entry in targets:
                best = max((difflib.SequenceMatcher(None, folded, key).ratio() for key in keys), default=0.0)
                exact = folded in keys
                if exact or (min(len(folded), min(len(k) for k in keys)) >= 5 and best >= 0.8):
                    if run == 1 and exact and tokens[span[0]].content == entry.written:
                        used.update(span)
                        break
                    replaced[span[0]] = (run, entry)
                    used.update(span)
                    break
    if not replaced:
        return tokens
    out: list[Token] = []
    skip_until = -1
    for index, token in enumerate(tokens):
        if index <= skip_until:
            continue
        if index in replaced:
            run, entry = replaced[index]
            span = words[words.index(index):words.index(index) + run]
            last = tokens[span[-1]]
            confidence = min(tokens[i].confidence for i in span)
            out.append(Token("pronunciation", entry.written, token.start, last.end, confidence, token.channel,
                             token.segment, token.speaker))
            skip_until = span[-1]
            continue
        out.append(token)
    return out


# ---------------------------------------------------------------- vocabulary filters


def apply_filter(tokens: list[Token], words: list[str], method: str) -> list[Token]:
    banned = {_fold(word) for word in words if _fold(word)}
    out: list[Token] = []
    dropped_previous = False
    for token in tokens:
        if token.type == "pronunciation" and _fold(token.content) in banned:
            if method == "remove":
                dropped_previous = True
                continue
            if method == "mask":
                token.content = "***"
            else:  # tag
                token.extra["vocabulary_filter_match"] = True
        elif token.type == "punctuation" and dropped_previous and not out:
            continue
        dropped_previous = False
        out.append(token)
    return out


# ---------------------------------------------------------------- redaction

PII_MARK = "[PII]"


def redact(tokens: list[Token], detect: Callable[[str], list[dict]], types: set[str] | None) -> list[Token]:
    """Replace every word inside a PII entity by [PII] (AWS style); `detect(text)` returns entities with
    Type, BeginOffset, EndOffset, Score (Comprehend's DetectPiiEntities shape)."""
    import copy

    tokens = copy.deepcopy(tokens)
    pieces: list[tuple[int, int, int]] = []  # (start, end, token index) in the joined text
    text = ""
    for index, token in enumerate(tokens):
        if token.type == "pronunciation" and text:
            text += " "
        pieces.append((len(text), len(text) + len(token.content), index))
        text += token.content
    if not text:
        return tokens
    for entity in detect(text):
        if types and "ALL" not in types and entity["Type"] not in types:
            continue
        for start, end, index in pieces:
            token = tokens[index]
            if token.type == "pronunciation" and start < entity["EndOffset"] and end > entity["BeginOffset"]:
                token.content = PII_MARK
                token.extra["redactions"] = [{"type": entity["Type"], "category": "PII",
                                              "confidence": f"{float(entity['Score']):.4f}"}]
    return tokens


# ---------------------------------------------------------------- the AWS transcript JSON


def _t(seconds: float) -> str:
    return f"{seconds:.3f}"


def build_transcript(job_name: str, account_id: str, tokens: list[Token], *, speakers: bool = False,
                     channels: int = 0, language: dict | None = None, redacted: bool = False) -> dict:
    """Transcribe's output document. `channels` > 0 adds channel_labels (tokens carry their channel)."""
    items = []
    for index, token in enumerate(tokens):
        alternative: dict[str, Any] = {"confidence": f"{token.confidence:.4f}" if token.type == "pronunciation"
                                       else "0.0", "content": token.content}
        if "redactions" in token.extra:
            alternative["redactions"] = token.extra["redactions"]
        item: dict[str, Any] = {"id": index, "type": token.type, "alternatives": [alternative]}
        if token.type == "pronunciation":
            item = {"id": index, "start_time": _t(token.start), "end_time": _t(token.end), **item}
            if token.extra.get("vocabulary_filter_match"):
                item["vocabulary_filter_match"] = True
        if speakers and token.speaker is not None:
            item["speaker_label"] = f"spk_{token.speaker}"
        if channels:
            item["channel_label"] = f"ch_{token.channel}"
        items.append(item)

    results: dict[str, Any] = {}
    if channels:
        results["transcripts"] = [{"transcript": join_text(tokens)}]
        results["channel_labels"] = {
            "channels": [{"channel_label": f"ch_{ch}",
                          "items": [item for item, token in zip(items, tokens) if token.channel == ch]}
                         for ch in range(channels)],
            "number_of_channels": channels,
        }
    else:
        results["transcripts"] = [{"transcript": join_text(tokens)}]

    if speakers:
        segments = []
        for group in _runs(tokens, lambda t: t.speaker):
            words = [t for t in group if t.type == "pronunciation"]
            if not words:
                continue
            label = f"spk_{words[0].speaker}"
            segments.append({"start_time": _t(words[0].start), "end_time": _t(words[-1].end),
                             "speaker_label": label,
                             "items": [{"start_time": _t(w.start), "end_time": _t(w.end), "speaker_label": label}
                                       for w in words]})
        count = len({t.speaker for t in tokens if t.speaker is not None})
        results["speaker_labels"] = {"speakers": count, "segments": segments}
    results["items"] = items

    segments_out = []
    key = (lambda t: (t.channel, t.segment, t.speaker)) if speakers else (lambda t: (t.channel, t.segment))
    position = 0
    for group in _runs(tokens, key):
        ids = list(range(position, position + len(group)))
        position += len(group)
        words = [t for t in group if t.type == "pronunciation"]
        if not words:
            continue
        segment: dict[str, Any] = {"id": len(segments_out), "transcript": join_text(group),
                                   "start_time": _t(words[0].start), "end_time": _t(words[-1].end), "items": ids}
        if speakers and words[0].speaker is not None:
            segment["speaker_label"] = f"spk_{words[0].speaker}"
        if channels:
            segment["channel_label"] = f"ch_{words[0].channel}"
        segments_out.append(segment)
    results["audio_segments"] = segments_out
    if language:
        results.update(language)
    document = {"jobName": job_name, "accountId": account_id, "status": "COMPLETED", "results": results}
    if redacted:
        document["isRedacted"] = True
    return document


def _runs(tokens: list[Token], key: Callable[[Token], Any]) -> list[list[Token]]:
    """Consecutive tokens sharing key(token); punctuation joins the run of the word before it."""
    runs: list[list[Token]] = []
    current_key = object()
    for token in tokens:
        if token.type == "punctuation" and runs:
            runs[-1].append(token)
            continue
        value = key(token)
        if not runs or value != current_key:
            runs.append([])
            current_key = value
        runs[-1].append(token)
    return runs


# ---------------------------------------------------------------- subtitles

MAX_CUE_SECONDS = 6.0
MAX_CUE_CHARS = 84


def subtitle_cues(tokens: list[Token]) -> list[tuple[float, float, str]]:
    cues: list[tuple[float, float, str]] = []
    current: list[Token] = []

    def flush():
        words = [t for t in current if t.type == "pronunciation"]
        if words:
            cues.append((words[0].start, words[-1].end, join_text(current)))
        current.clear()

    ordered = sorted(tokens, key=lambda t: t.start) if any(t.channel for t in tokens) else tokens
    for token in ordered:
        if token.type == "pronunciation" and current:
            first = next((t for t in current if t.type == "pronunciation"), None)
            last = [t for t in current if t.type == "pronunciation"][-1] if first else None
            too_long = first and (token.end - first.start > MAX_CUE_SECONDS
                                  or len(join_text(current)) + len(token.content) + 1 > MAX_CUE_CHARS)
            pause = last and token.start - last.end > 1.2
            sentence_end = current[-1].type == "punctuation" and current[-1].content in ".?!" and \
                len([t for t in current if t.type == "pronunciation"]) >= 4
            if too_long or pause or sentence_end:
                flush()
        current.append(token)
    flush()
    return cues


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def render_subtitles(tokens: list[Token], fmt: str, start_index: int = 0) -> str:
    cues = subtitle_cues(tokens)
    if fmt == "srt":
        blocks = [f"{start_index + n}\n{_clock(a, ',')} --> {_clock(b, ',')}\n{text}\n"
                  for n, (a, b, text) in enumerate(cues)]
        return "\n".join(blocks)
    blocks = ["WEBVTT\n"] + [f"{start_index + n}\n{_clock(a, '.')} --> {_clock(b, '.')}\n{text}\n"
                             for n, (a, b, text) in enumerate(cues)]
    return "\n".join(blocks)
