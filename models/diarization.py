"""Speaker diarization: Resemblyzer's GE2E voice encoder (the `pretrained.pt` its wheel ships, Apache-2.0) embeds
short windows of speech; agglomerative clustering (scikit-learn, cosine, average linkage) groups them into
speakers.

The encoder is rebuilt here (3-layer LSTM over 40-band log-free mel frames, linear + ReLU, L2 norm: exactly
Resemblyzer's `VoiceEncoder`) instead of importing the `resemblyzer` package, whose import pulls `webrtcvad`,
which needs `pkg_resources` (gone from setuptools >= 81). Speech regions come from the ASR's word timings, so
no separate VAD is needed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

SAMPLE_RATE = 16000
WINDOW = 1.5  # seconds of speech per embedding
STEP = 0.5
MIN_WINDOW = 0.5
STRONG_WINDOW = 1.0
# Average-linkage cosine distance under which two groups of windows are one speaker.
DISTANCE_THRESHOLD = 0.32


class SpeakerEncoderEngine:
    def __init__(self, module, torch):
        self.module = module
        self.torch = torch
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> "SpeakerEncoderEngine":
        import torch
        from torch import nn

        class VoiceEncoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
                self.linear = nn.Linear(256, 256)
                self.relu = nn.ReLU()

            def forward(self, mels):
                _, (hidden, _) = self.lstm(mels)
                raw = self.relu(self.linear(hidden[-1]))
                return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-8)

        module = VoiceEncoder()
        checkpoint = torch.load(str(weights.path), map_location="cpu", weights_only=False)
        module.load_state_dict(checkpoint["model_state"], strict=False)
        module.eval()
        return cls(module, torch)

    @staticmethod
    def _mel(wav: np.ndarray) -> np.ndarray:
        import librosa

        frames = librosa.feature.melspectrogram(y=wav, sr=SAMPLE_RATE, n_fft=400, hop_length=160, n_mels=40)
        return frames.astype(np.float32).T

    @staticmethod
    def _normalize_volume(wav: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
        rms = float(np.sqrt(np.mean(wav ** 2))) if wav.size else 0.0
        if rms <= 1e-6:
            return wav
        change = target_dbfs - 20 * np.log10(rms)
        return wav * (10 ** (change / 20)) if change > 0 else wav

    def embed(self, pieces: list[np.ndarray]) -> np.ndarray:
        """One L2-normed 256-d embedding per waveform piece (16 kHz float32)."""
        if not pieces:
            return np.zeros((0, 256), dtype=np.float32)
        mels = [self._mel(self._normalize_volume(piece)) for piece in pieces]
        out = np.zeros((len(mels), 256), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for index, mel in enumerate(mels):
            by_length.setdefault(mel.shape[0], []).append(index)
        with self._lock, self.torch.inference_mode():
            for _length, indices in by_length.items():
                batch = self.torch.from_numpy(np.stack([mels[i] for i in indices]))
                out[indices] = self.module(batch).numpy()
        return out

    def diarize(self, audio: np.ndarray, regions: list[tuple[float, float]], max_speakers: int = 10,
                min_speakers: int = 1) -> list[tuple[float, float, int]]:
        """Speaker turns `(start, end, speaker index)` over the speech `regions` (seconds). Speaker indices are
        numbered in order of first appearance."""
        windows: list[tuple[float, float]] = []
        for start, end in split_at_pauses(audio, regions):
            if end - start < MIN_WINDOW:
                centre = (start + end) / 2
                start, end = max(0.0, centre - MIN_WINDOW / 2), centre + MIN_WINDOW / 2
            t = start
            while True:
                stop = min(end, t + WINDOW)
                windows.append((t, stop))
                if stop >= end:
                    break
                t += STEP
                if end - t < MIN_WINDOW:
                    windows[-1] = (windows[-1][0], end)
                    break
        if not windows:
            return []
        pieces = [audio[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] for a, b in windows]
        keep = [i for i, piece in enumerate(pieces) if piece.size >= int(0.2 * SAMPLE_RATE)]
        windows = [windows[i] for i in keep]
        embeddings = self.embed([pieces[i] for i in keep])
        # Windows under a second embed poorly: cluster the long ones, then give each short one the speaker whose
        # centroid it is nearest to.
        strong = np.array([b - a >= STRONG_WINDOW for a, b in windows])
        if strong.sum() >= 2 and not strong.all():
            labels = np.zeros(len(windows), dtype=int)
            labels[strong] = cluster(embeddings[strong], max_speakers, min_speakers)
            centroids = {label: embeddings[strong][labels[strong] == label].mean(axis=0)
                         for label in set(labels[strong].tolist())}
            for index in np.flatnonzero(~strong):
                labels[index] = max(centroids, key=lambda label: float(embeddings[index] @ centroids[label]))
        else:
            labels = cluster(embeddings, max_speakers, min_speakers)
        # Number speakers by first appearance.
        order: dict[int, int] = {}
        for label in labels:
            order.setdefault(int(label), len(order))
        return [(a, b, order[int(label)]) for (a, b), label in zip(windows, labels)]


def cluster(embeddings: np.ndarray, max_speakers: int, min_speakers: int = 1) -> np.ndarray:
    """Agglomerative clustering with a distance threshold, bounded to [min_speakers, max_speakers] clusters."""
    from sklearn.cluster import AgglomerativeClustering

    count = len(embeddings)
    if count < 2 or max_speakers <= 1:
        return np.zeros(count, dtype=int)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=DISTANCE_THRESHOLD, metric="cosine",
                                    linkage="average")
    labels = model.fit_predict(embeddings)
    found = len(set(labels))
    wanted = min(max(found, min_speakers), max_speakers, count)
    if wanted != found:
        labels = AgglomerativeClustering(n_clusters=wanted, metric="cosine", linkage="average").fit_predict(embeddings)
    # Tiny clusters (windows straddling a turn, mixing two voices) join their nearest big cluster.
    sizes = {label: int((labels == label).sum()) for label in set(labels)}
    floor = max(2, int(0.08 * count))
    big = [label for label, size in sizes.items() if size >= floor]
    if big and len(big) < len(sizes):
        centroids = {label: embeddings[labels == label].mean(axis=0) for label in big}
        for index, label in enumerate(labels):
            if sizes[label] < floor:
                labels[index] = max(big, key=lambda other: float(embeddings[index] @ centroids[other]))
    return labels


def split_at_pauses(audio: np.ndarray, regions: list[tuple[float, float]], min_pause: float = 0.25,
                    frame: float = 0.02) -> list[tuple[float, float]]:
    """Cut speech regions where the signal stays quiet for `min_pause` seconds (a turn change hides there even
    when the recogniser's word times run across it)."""
    hop = int(frame * SAMPLE_RATE)
    if audio.size < hop:
        return regions
    frames = audio[: audio.size // hop * hop].reshape(-1, hop)
    energy = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10)
    loud = np.percentile(energy, 95)
    quiet = energy < max(loud - 35.0, -60.0)
    out: list[tuple[float, float]] = []
    need = int(min_pause / frame)
    for start, end in regions:
        a, b = int(start / frame), min(len(quiet), int(np.ceil(end / frame)))
        piece_start, run = a, 0
        for index in range(a, b):
            run = run + 1 if quiet[index] else 0
            if run == need:
                cut = index - need + 1
                if cut > piece_start:
                    out.append((piece_start * frame, cut * frame))
                piece_start = None
            elif not quiet[index] and piece_start is None:
                piece_start = index
        if piece_start is not None and b > piece_start:
            out.append((piece_start * frame, b * frame))
    return [(a, b) for a, b in out if b - a >= 0.1] or regions


def speaker_at(turns: list[tuple[float, float, int]], start: float, end: float) -> int:
    """The speaker whose windows overlap [start, end] most (nearest window when none overlaps)."""
    if not turns:
        return 0
    overlap: dict[int, float] = {}
    for a, b, speaker in turns:
        amount = min(b, end) - max(a, start)
        if amount > 0:
            # Windows centred on the word count more than ones that merely touch it.
            centre = (a + b) / 2
            weight = amount / (1.0 + abs(centre - (start + end) / 2))
            overlap[speaker] = overlap.get(speaker, 0.0) + weight
    if overlap:
        return max(overlap, key=overlap.get)
    middle = (start + end) / 2
    return min(turns, key=lambda turn: min(abs(turn[0] - middle), abs(turn[1] - middle)))[2]
