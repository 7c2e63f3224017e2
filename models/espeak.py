"""espeak-ng (Debian `espeak-ng`, GPL-3.0) as a formant speech synthesizer, called in-process through libespeak-ng.

The engine speaks a run of words with one set of prosody settings and reports where each word starts in the
audio (libespeak-ng's WORD events carry the character position of the word and the audio position in ms), so
callers can build word speech marks without a second pass. Variants (`en-us+f3`, `+whisper`) select voice
characters; rate is in words per minute, pitch 0-100.

libespeak-ng keeps global state and is not thread-safe: every synthesis holds one process-wide lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PHONEMES = 0x100
_ENDPAUSE = 0x1000
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_LOCK = threading.Lock()


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class EspeakVoice:
    name: str  # e.g. "en-us"
    language: str  # e.g. "en-us"
    gender: str  # "M" / "F" / "-"


@dataclass
class WordTiming:
    index: int  # which input word
    start_sample: int
    end_sample: int


# IPA -> espeak-ng phoneme mnemonics (English subset) for <phoneme> / lexicon pronunciations.
_IPA_TO_ESPEAK = [
    ("tʃ", "tS"), ("dʒ", "dZ"), ("eɪ", "eI"), ("aɪ", "aI"), ("ɔɪ", "OI"), ("aʊ", "aU"), ("oʊ", "oU"), ("əʊ", "@U"),
    ("ɪə", "i@"), ("eə", "e@"), ("ʊə", "U@"), ("ɜː", "3:"), ("ɑː", "A:"), ("ɔː", "O:"), ("iː", "i:"), ("uː", "u:"),
    ("ɚ", "3"), ("ɝ", "3:"), ("ʃ", "S"), ("ʒ", "Z"), ("θ", "T"), ("ð", "D"), ("ŋ", "N"), ("ɹ", "r"), ("ɾ", "t"),
    ("æ", "a"), ("ɑ", "A:"), ("ɒ", "0"), ("ɔ", "O"), ("ə", "@"), ("ɛ", "E"), ("ɪ", "I"), ("ʊ", "U"), ("ʌ", "V"),
    ("ɜ", "3"), ("ˈ", "'"), ("ˌ", ","), ("ː", ":"), ("ɡ", "g"), ("j", "j"), ("ʔ", "?"), (".", ""),
]


def ipa_to_espeak(ipa: str) -> str:
    out = ipa
    for src, dst in _IPA_TO_ESPEAK:
        out = out.replace(src, dst)
    return out


class EspeakEngine:
    """espeak-ng voices through libespeak-ng; `synthesize` returns int16-range float audio and word timings."""

    def __init__(self, library_path: str, data_path: str | None) -> None:
        self._lib = ctypes.CDLL(library_path)
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        path = data_path.encode() if data_path else None
        self.sample_rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, path, 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({self.sample_rate})")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int]] = []  # (type, text_position, audio sample)
        self._samples = 0
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: libespeak holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self.voices = list_voices()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> "EspeakEngine":
        library = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        # Only a folder the user configured replaces the system data: Piper's bundled copy is another version.
        data = weights.path if weights.source in ("config", "models_dir") and weights.path.is_dir() else None
        return cls(library, str(data.parent) if data is not None else None)

    def _on_audio(self, wav, count, events) -> int:
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            self._events.append((event.type, event.text_position, event.sample))
            index += 1
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            self._samples += count
        return 0

    def synthesize(self, words: list[tuple[str, bool]], voice: str = "en-us", rate_wpm: int = 175,
                   pitch: int = 50, volume: int = 100) -> tuple[np.ndarray, list[WordTiming]]:
        """Speak `words` (text, is_phonemes) as one utterance; float32 audio in [-1, 1] and each word's span."""
        pieces, starts = [], []
        position = 0
        for text, is_phonemes in words:
            piece = f"[[{ipa_to_espeak(text)}]]" if is_phonemes else text
            starts.append(position)
            pieces.append(piece)
            position += len(piece) + 1
        text = " ".join(pieces)
        with _LOCK:
            self._chunks, self._events, self._samples = [], [], 0
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                base = voice.split("+", 1)[0]  # an unknown variant: the plain voice rather than nothing
                if base == voice or self._lib.espeak_SetVoiceByName(base.encode()) != 0:
                    raise ValueError(f"espeak-ng has no voice {voice!r}")
            self._lib.espeak_SetParameter(_RATE, int(max(80, min(450, rate_wpm))), 0)
            self._lib.espeak_SetParameter(_PITCH, int(max(0, min(99, pitch))), 0)
            self._lib.espeak_SetParameter(_VOLUME, int(max(0, min(200, volume))), 0)
            data = text.encode("utf-8") + b"\0"
            self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _PHONEMES, None, None)
            chunks, events = self._chunks, self._events
        audio = (np.concatenate(chunks).astype(np.float32) / 32768.0) if chunks else np.zeros(0, np.float32)
        timings = _word_timings(events, starts, len(audio))
        return audio, timings

    def close(self) -> None:
        with _LOCK:
            self._lib.espeak_Terminate()


def _word_timings(events: list[tuple[int, int, int]], starts: list[int], total: int) -> list[WordTiming]:
    """Map WORD events (1-based character positions) to input words; a word espeak did not report gets the
    start of the next one reported (or the end)."""
    found: dict[int, int] = {}
    for kind, text_position, sample in events:
        if kind != _EVENT_WORD:
            continue
        char = text_position - 1
        index = max((i for i, start in enumerate(starts) if start <= char), default=0)
        found.setdefault(index, sample)
    result, next_start = [], total
    for index in range(len(starts) - 1, -1, -1):
        start = found.get(index, next_start)
        result.append(WordTiming(index, start, next_start))
        next_start = start
    result.reverse()
    for timing in result:  # a word ends where the next starts, but never before it starts
        timing.end_sample = max(timing.end_sample, timing.start_sample)
    return result


def list_voices() -> list[EspeakVoice]:
    try:
        out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    voices = []
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4 and re.match(r"^[a-z]", parts[1]):
            voices.append(EspeakVoice(parts[1], parts[1], parts[2].split("/")[-1]))
    return voices


def espeak_data_dir() -> Path | None:
    for candidate in (Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data"), Path("/usr/lib/aarch64-linux-gnu/espeak-ng-data"),
                      Path("/usr/share/espeak-ng-data")):
        if candidate.is_dir():
            return candidate
    return None
