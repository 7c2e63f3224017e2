"""Streaming audio encoding with PyAV: PCM chunks in, encoded bytes out as soon as the encoder has them, so the
first sentence's audio leaves while later sentences are still being synthesized."""

from __future__ import annotations

import numpy as np

# Polly output format -> (container, codec, channels the encoder needs)
_FORMATS = {
    "mp3": ("mp3", "libmp3lame", 1),
    "ogg_vorbis": ("ogg", "vorbis", 2),  # FFmpeg's own Vorbis encoder takes stereo only: mono is duplicated
    "ogg_opus": ("ogg", "libopus", 1),
}
CONTENT_TYPES = {
    "mp3": "audio/mpeg", "ogg_vorbis": "audio/ogg", "ogg_opus": "audio/ogg", "pcm": "audio/pcm",
    "mulaw": "audio/basic", "alaw": "audio/alaw", "json": "application/x-json-stream",
}
EXTENSIONS = {"mp3": "mp3", "ogg_vorbis": "ogg", "ogg_opus": "ogg", "pcm": "pcm", "mulaw": "ulaw", "alaw": "alaw",
              "json": "marks"}


class _Sink:
    """A write-only, non-seekable file for the muxer; the stream drains what it wrote."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class Resampler:
    """Streaming resampler (PyAV / libswresample) of mono float32 audio to int16 at `out_rate`."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        import av

        self.in_rate, self.out_rate = in_rate, out_rate
        self._resampler = None if in_rate == out_rate else av.AudioResampler(format="s16", layout="mono", rate=out_rate)
        self._pts = 0

    def push(self, audio: np.ndarray | None) -> np.ndarray:
        import av

        if audio is not None:
            pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
            if self._resampler is None:
                return pcm
            if not len(pcm):
                return np.zeros(0, np.int16)
            frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = self.in_rate
            frame.pts = self._pts
            self._pts += len(pcm)
            frames = self._resampler.resample(frame)
        else:
            if self._resampler is None:
                return np.zeros(0, np.int16)
            frames = self._resampler.resample(None)
        if not frames:
            return np.zeros(0, np.int16)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)


class StreamEncoder:
    """int16 mono PCM at `rate` in, bytes of `output_format` out."""

    def __init__(self, output_format: str, rate: int) -> None:
        self.format, self.rate = output_format, rate
        self._container = None
        if output_format in _FORMATS:
            import av

            container_format, codec, channels = _FORMATS[output_format]
            self._sink = _Sink()
            self._container = av.open(self._sink, mode="w", format=container_format)
            self._stream = self._container.add_stream(codec, rate=rate)
            self._stream.layout = "stereo" if channels == 2 else "mono"
            if output_format == "mp3":
                self._stream.bit_rate = 48_000 if rate <= 16000 else 64_000
                # LAME quality 7: ~40% less CPU than the default at this bit rate, no audible difference for speech
                self._stream.codec_context.options = {"compression_level": "7"}
            if codec == "vorbis":
                self._stream.codec_context.options = {"strict": "experimental"}
            self._channels = channels
            self._frame_format = self._stream.codec_context.codec.audio_formats[0].name
            self._pts = 0
            self._pending = np.zeros(0, np.int16)
            self._frame_size = 0

    def feed(self, pcm: np.ndarray) -> bytes:
        if self.format == "pcm":
            return pcm.astype("<i2").tobytes()
        if self.format in ("mulaw", "alaw"):
            return _g711(pcm, self.format)
        if self._container is None:
            return b""
        self._pending = np.concatenate([self._pending, pcm])
        frame_size = self._stream.codec_context.frame_size or 1024
        whole = (len(self._pending) // frame_size) * frame_size
        if whole:
            self._encode(self._pending[:whole], frame_size)
            self._pending = self._pending[whole:]
        return self._sink.drain()

    def _encode(self, pcm: np.ndarray, frame_size: int) -> None:
        import av

        for start in range(0, len(pcm), frame_size):
            block = pcm[start:start + frame_size]
            if self._channels == 2:
                data = np.stack([block, block])
            else:
                data = block.reshape(1, -1)
            fmt = self._frame_format
            base = fmt.rstrip("p")
            if base == "flt":
                data = data.astype(np.float32) / 32768.0
            elif base == "s32":
                data = data.astype(np.int32) << 16
            elif base == "dbl":
                data = data.astype(np.float64) / 32768.0
            if not fmt.endswith("p"):
                data = np.ascontiguousarray(data.T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt, layout=self._stream.layout.name)
            frame.sample_rate = self.rate
            frame.pts = self._pts
            self._pts += len(block)
            for packet in self._stream.encode(frame):
                self._container.mux(packet)

    def finish(self) -> bytes:
        if self._container is None:
            return b""
        if self._pts == 0 and not len(self._pending):
            # Nothing to say: 200 ms of silence keep the file valid (FFmpeg's Vorbis encoder hangs on an
            # empty flush).
            self._pending = np.zeros(self.rate // 5, np.int16)  # 200 ms
        if len(self._pending):
            self._encode(self._pending, self._stream.codec_context.frame_size or len(self._pending))
            self._pending = np.zeros(0, np.int16)
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None
        return self._sink.drain()

    def close(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
            self._container = None


def _g711(pcm: np.ndarray, law: str) -> bytes:
    x = pcm.astype(np.int32)
    if law == "mulaw":
        sign = np.where(x < 0, 0x80, 0)
        magnitude = np.minimum(np.abs(x), 32635) + 132
        exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
        exponent = np.clip(exponent, 0, 7)
        mantissa = (magnitude >> (exponent + 3)) & 0x0F
        return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()
    sign = np.where(x >= 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), 32767) >> 3
    exponent = np.clip(np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 4, 0, 7)
    mantissa = np.where(exponent == 0, magnitude >> 1, magnitude >> exponent) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8).tobytes()
