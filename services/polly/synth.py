"""Sentences -> audio and speech marks, one sentence at a time (so the response streams per sentence).

Words with the same prosody form a run that the engine says in one go; pauses, breaths and prosody changes
split runs. Piper (neural) gives each phoneme's sample span, espeak-ng (standard) each word's start, which is
what word / viseme marks are made of. Times are in ms of the output audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from services.polly.ssml import Breath, Mark, Pause, Prosody, Sentence, Word

NATIVE_RATE = 22050  # both engines speak at 22.05 kHz

# IPA (Piper's NFD phoneme symbols) -> Polly viseme
_VISEMES = {}
for _viseme, _symbols in {
    "p": "pbm", "f": "fv", "T": "θð", "t": "tdnlɾ", "s": "sz", "S": "ʃʒ", "k": "kgɡŋhxʔ", "r": "ɹrɚɝ",
    "i": "ij", "u": "uwʊ", "@": "əʌɐ", "a": "aæɑ", "e": "eɪ", "E": "ɛɜ", "o": "oɒ", "O": "ɔ",
}.items():
    for _symbol in _symbols:
        _VISEMES[_symbol] = _viseme


@dataclass
class SentenceAudio:
    audio: np.ndarray  # float32 mono at NATIVE_RATE
    marks: list[dict]  # speech marks with absolute times (ms)


@dataclass
class Backend:
    kind: str  # "piper", "festival" or "espeak"
    engine: object
    espeak_voice: str | None = None  # e.g. "en-us+f3"
    fallback: object | None = None  # espeak engine for what festival cannot say (<phoneme>, <lang>)


def _gain(audio: np.ndarray, db: float) -> np.ndarray:
    if db == 0.0:
        return audio
    if db <= -100:
        return np.zeros_like(audio)
    return np.clip(audio * (10 ** (db / 20)), -1.0, 1.0)


def _whisper(audio: np.ndarray) -> np.ndarray:
    """Whisper-like voice: keep each frame's spectral envelope, replace the phase with noise (no pitch left)."""
    if len(audio) < 1024:
        return audio
    n, hop = 512, 128
    window = np.hanning(n).astype(np.float32)
    padded = np.concatenate([np.zeros(n, np.float32), audio, np.zeros(n, np.float32)])
    out = np.zeros_like(padded)
    norm = np.zeros_like(padded)
    rng = np.random.default_rng(1234)
    for start in range(0, len(padded) - n, hop):
        frame = padded[start:start + n] * window
        spectrum = np.fft.rfft(frame)
        phase = np.exp(1j * rng.uniform(0, 2 * np.pi, len(spectrum)))
        out[start:start + n] += np.fft.irfft(np.abs(spectrum) * phase, n).astype(np.float32) * window
        norm[start:start + n] += window ** 2
    out = out / np.maximum(norm, 1e-3)
    out = out[n:n + len(audio)]
    peak = float(np.max(np.abs(out))) or 1.0
    return (out / peak * 0.6).astype(np.float32)


def _breath(ms: int, db: float) -> np.ndarray:
    length = int(NATIVE_RATE * ms / 1000)
    rng = np.random.default_rng(ms)
    noise = rng.standard_normal(length).astype(np.float32)
    # soft low-passed noise under a rise-and-fall envelope
    kernel = np.ones(6, np.float32) / 6
    noise = np.convolve(noise, kernel, mode="same")
    envelope = np.sin(np.linspace(0, np.pi, length)) ** 2
    return _gain((noise * envelope * 0.08).astype(np.float32), db)


def _squeeze(audio: np.ndarray, spans: list, pitch: float) -> np.ndarray:
    """Audio said `pitch` times longer, squeezed back to its intended length: frequencies rise by `pitch`."""
    if abs(pitch - 1.0) <= 1e-3 or not len(audio):
        return audio
    target = max(1, int(round(len(audio) / pitch)))
    audio = np.interp(np.linspace(0, len(audio) - 1, target), np.arange(len(audio)), audio).astype(np.float32)
    for span in spans:
        span.start_sample = int(span.start_sample / pitch)
        span.end_sample = int(span.end_sample / pitch)
        if hasattr(span, "phonemes"):
            span.phonemes = [(p, int(s / pitch), int(e / pitch)) for p, s, e in span.phonemes]
    return audio


def _espeak_run(engine, voice: str, words: list[Word], prosody: Prosody):
    if prosody.language:
        voice = prosody.language + ("+" + voice.split("+", 1)[1] if "+" in voice else "")
    if prosody.whisper:
        voice = voice.split("+", 1)[0] + "+whisper"
    audio, timings = engine.synthesize([(w.phonemes or w.text, bool(w.phonemes)) for w in words], voice=voice,
                                       rate_wpm=int(175 * prosody.rate), pitch=int(50 * prosody.pitch))
    return audio, [(t.start_sample, t.end_sample, []) for t in timings]


def _say_run(backend: Backend, words: list[Word], prosody: Prosody) -> tuple[np.ndarray, list[tuple[int, int, list]]]:
    """One run of words -> audio and (start, end, phonemes) per word, in samples of the run."""
    if backend.kind == "piper":
        from models.piper_tts import WordInput

        inputs = [WordInput(w.phonemes or w.text, bool(w.phonemes), prosody.language) for w in words]
        audio, spans = backend.engine.synthesize(inputs, length_scale=(1.0 / prosody.rate) * prosody.pitch)
        audio = _squeeze(audio, spans, prosody.pitch)
        if prosody.whisper:
            audio = _whisper(audio)
        result = [(s.start_sample, s.end_sample, s.phonemes) for s in spans]
    elif (backend.kind == "festival" and (prosody.language or "en").startswith("en")
          and not any(w.phonemes for w in words)):
        audio, spans = backend.engine.synthesize([w.text for w in words], speed=prosody.rate,
                                                 half_tones=12 * float(np.log2(prosody.pitch)))
        if prosody.whisper:
            audio = _whisper(audio)
        result = [(s.start_sample, s.end_sample, []) for s in spans]
    else:
        engine = backend.fallback if backend.kind == "festival" else backend.engine
        audio, result = _espeak_run(engine, backend.espeak_voice or "en-us", words, prosody)
    return _gain(audio, prosody.volume_db), result


def _estimated_phonemes(words: list[Word], result: list, language: str | None) -> list:
    """espeak-ng / Festival give word spans only: spread each word's IPA phonemes (Piper's bundled espeak-ng
    phonemizer, no model load) evenly over its span, for viseme marks."""
    from piper import phonemize_espeak, voice as piper_voice

    estimated = []
    for word, (start, end, _) in zip(words, result):
        if word.phonemes:
            phonemes = list(word.phonemes)
        else:
            with piper_voice._ESPEAK_PHONEMIZER_LOCK:
                if piper_voice._ESPEAK_PHONEMIZER is None:
                    piper_voice._ESPEAK_PHONEMIZER = phonemize_espeak.EspeakPhonemizer()
                sentences = piper_voice._ESPEAK_PHONEMIZER.phonemize(language or "en-us", word.text)
            phonemes = [p for sentence in sentences for p in sentence if p in _VISEMES]
        step = (end - start) / max(1, len(phonemes))
        estimated.append((start, end, [(p, int(start + i * step), int(start + (i + 1) * step))
                                       for i, p in enumerate(phonemes)]))
    return estimated


def _visemes(phonemes: list[tuple[str, int, int]], offset_ms: float) -> list[dict]:
    marks, last = [], None
    for phoneme, start, _end in phonemes:
        viseme = _VISEMES.get(phoneme)
        if viseme is None or viseme == last:
            continue
        last = viseme
        marks.append({"time": int(round(offset_ms + start * 1000 / NATIVE_RATE)), "type": "viseme", "value": viseme})
    return marks


def render(backend: Backend, sentences: list[Sentence], mark_types: set[str],
           start_samples: int = 0) -> Iterator[SentenceAudio]:
    """Yield each sentence's audio and marks (absolute times) as soon as it is synthesized."""
    elapsed = start_samples  # samples before this sentence
    for sentence in sentences:
        pieces: list[np.ndarray] = []
        marks: list[dict] = []
        length = 0
        if "sentence" in mark_types and sentence.words:
            marks.append({"time": int(round(elapsed * 1000 / NATIVE_RATE)), "type": "sentence",
                          "start": sentence.start, "end": sentence.end, "value": sentence.value})
        items = sentence.items
        index = 0
        while index < len(items):
            item = items[index]
            now_ms = (elapsed + length) * 1000 / NATIVE_RATE
            if isinstance(item, Pause):
                silence = np.zeros(int(NATIVE_RATE * item.ms / 1000), np.float32)
                pieces.append(silence)
                length += len(silence)
                if "viseme" in mark_types and item.ms >= 100:
                    marks.append({"time": int(round(now_ms)), "type": "viseme", "value": "sil"})
                index += 1
            elif isinstance(item, Mark):
                if "ssml" in mark_types:
                    marks.append({"time": int(round(now_ms)), "type": "ssml", "start": item.start, "end": item.end,
                                  "value": item.name})
                index += 1
            elif isinstance(item, Breath):
                breath = _breath(item.ms, item.volume_db)
                pieces.append(breath)
                length += len(breath)
                index += 1
            else:
                run = [item]
                marks_before: list[tuple[int, Mark]] = []  # <mark>s inside the run, before word k
                index += 1
                while index < len(items):
                    following = items[index]
                    if isinstance(following, Mark):
                        marks_before.append((len(run), following))
                    elif not (isinstance(following, Word) and following.prosody == item.prosody):
                        break
                    elif backend.kind == "festival" and bool(following.phonemes) != bool(item.phonemes):
                        break  # festival says plain words; <phoneme> words go to espeak-ng
                    else:
                        run.append(following)
                    index += 1
                audio, spans = _say_run(backend, run, item.prosody)
                if "viseme" in mark_types and backend.kind != "piper":
                    spans = _estimated_phonemes(run, spans, item.prosody.language)
                previous_end = 0
                for position, (word, (start, end, phonemes)) in enumerate(zip(run, spans)):
                    if end <= start and start == 0:
                        start = end = previous_end
                    previous_end = end
                    for _, mark in (m for m in marks_before if m[0] == position):
                        if "ssml" in mark_types:
                            marks.append({"time": int(round(now_ms + start * 1000 / NATIVE_RATE)), "type": "ssml",
                                          "start": mark.start, "end": mark.end, "value": mark.name})
                    if "word" in mark_types:
                        marks.append({"time": int(round(now_ms + start * 1000 / NATIVE_RATE)), "type": "word",
                                      "start": word.start, "end": word.end, "value": word.value})
                    if "viseme" in mark_types:
                        marks.extend(_visemes(phonemes, now_ms))
                for _, mark in (m for m in marks_before if m[0] >= len(run)):
                    if "ssml" in mark_types:
                        marks.append({"time": int(round(now_ms + len(audio) * 1000 / NATIVE_RATE)), "type": "ssml",
                                      "start": mark.start, "end": mark.end, "value": mark.name})
                pieces.append(audio)
                length += len(audio)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        elapsed += len(audio)
        yield SentenceAudio(audio, marks)
