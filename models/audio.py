"""Audio decoding with PyAV (bundled ffmpeg libraries; no system ffmpeg needed).

`decode(data)` turns any container/codec FFmpeg knows (wav, flac, mp3, mp4/m4a, ogg/opus, webm, amr where the
codec exists) into float32 samples at 16 kHz, one row per channel, plus what the container said about itself.
Corrupt, empty or non-audio input raises `AudioDecodeError`, never hangs: decoding stops at `max_seconds`.
A PCM WAV header whose fields contradict one another (block align, byte rate, channels, sample size) is corrupt
too: FFmpeg trusts the sample-size field alone, so 16-bit samples under a header saying 8 bits decode as loud
noise, which Whisper turns into an invented sentence.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000


class AudioDecodeError(ValueError):
    """The bytes are not decodable audio (or hold no audio stream, or no samples)."""


@dataclass
class DecodedAudio:
    samples: np.ndarray  # float32, shape (channels, frames), at SAMPLE_RATE
    source_rate: int  # the stream's own sample rate
    container: str  # FFmpeg's format name, e.g. "wav", "mp3", "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str

    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0).astype(np.float32) if self.channels > 1 else self.samples[0]


# FFmpeg format names that answer each AWS MediaFormat.
FORMAT_NAMES = {
    "wav": ("wav",),
    "flac": ("flac",),
    "mp3": ("mp3",),
    "mp4": ("mov", "mp4", "m4a"),
    "m4a": ("mov", "mp4", "m4a"),
    "ogg": ("ogg",),
    "webm": ("matroska", "webm"),
    "amr": ("amr",),
}


def matches_format(container: str, media_format: str) -> bool:
    names = set(container.split(","))
    return bool(names & set(FORMAT_NAMES.get(media_format, (media_format,))))


_PCM_TAGS = (1, 3)  # WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT
_EXTENSIBLE = 0xFFFE


def check_wav_header(data: bytes) -> None:
    """Raise AudioDecodeError where a RIFF/WAVE file's PCM `fmt ` chunk contradicts itself; other files pass."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"fmt ":
            body = data[pos + 8:pos + 8 + min(size, 40)]
            if len(body) < 16:
                raise AudioDecodeError("the WAV fmt chunk is truncated")
            tag, channels, rate, byte_rate, align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]  # the SubFormat GUID starts with the format tag
            if tag not in _PCM_TAGS:
                return  # ADPCM, A-law...: their block fields mean other things
            if channels < 1 or rate < 1 or bits not in ((8, 16, 24, 32) if tag == 1 else (32, 64)):
                raise AudioDecodeError(f"the WAV header is corrupt ({channels} channels, {bits}-bit, {rate} Hz)")
            if align != channels * bits // 8 or byte_rate != rate * align:
                raise AudioDecodeError(f"the WAV header contradicts itself ({channels} channels of {bits}-bit "
                                       f"samples at {rate} Hz, but block align {align} and byte rate {byte_rate})")
            return
        pos += 8 + size + (size & 1)
        if size == 0xFFFFFFFF:
            return


def decode(data: bytes, max_seconds: float = 4 * 3600.0, keep_channels: bool = True) -> DecodedAudio:
    """Decode and resample to 16 kHz float32; keep up to 2 channels apart (for channel identification)."""
    import av

    if not data:
        raise AudioDecodeError("the media file is empty")
    check_wav_header(data)
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except Exception as error:  # av.error.InvalidDataError and friends
        raise AudioDecodeError(f"cannot read the media container: {error}") from None
    try:
        streams = container.streams.audio
        if not streams:
            raise AudioDecodeError("the media file has no audio stream")
        stream = streams[0]
        if stream.codec_context is None:  # FFmpeg found the stream but has no decoder for what it says it holds
            raise AudioDecodeError("no decoder for the audio stream")
        source_channels = stream.codec_context.channels or 1
        channels = min(2, source_channels) if keep_channels else 1
        layout = "stereo" if channels == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        total = 0
        limit = int(max_seconds * SAMPLE_RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    array = out.to_ndarray()
                    chunks.append(array)
                    total += array.shape[1]
                if total > limit:
                    raise AudioDecodeError(f"the media is longer than {max_seconds:.0f} seconds")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except AudioDecodeError:
            raise
        except Exception as error:
            if not chunks:
                raise AudioDecodeError(f"cannot decode the audio stream: {error}") from None
            # A damaged tail: keep what decoded, as ffmpeg does.
        if not chunks:
            raise AudioDecodeError("the audio stream holds no samples")
        samples = np.concatenate(chunks, axis=1).astype(np.float32)
        if samples.shape[1] == 0:
            raise AudioDecodeError("the audio stream holds no samples")
        return DecodedAudio(samples, int(stream.codec_context.sample_rate or 0), container.format.name,
                            stream.codec_context.name)
    finally:
        container.close()


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM (streaming input) -> float32 in [-1, 1]."""
    usable = len(data) - len(data) % 2
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
