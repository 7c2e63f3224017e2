"""Printed-text OCR with RapidOCR (Apache-2.0; PP-OCR detection + recognition ONNX models shipped in the wheel).

`recognize(image)` answers text lines in reading order, each with its words: text, confidence 0..100 and a
4-point polygon in pixels. RapidOCR works on lines; its word boxes come from the recognizer's character columns
(`return_word_box`), so a word's box is as tall as its line.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

Polygon = list[tuple[float, float]]


@dataclass
class OcrWord:
    text: str
    confidence: float  # 0..100
    polygon: Polygon  # pixels, clockwise from the top left


@dataclass
class OcrLine:
    text: str
    confidence: float
    polygon: Polygon
    words: list[OcrWord]


class RapidOcrEngine:
    """One RapidOCR pipeline; calls are serialized (onnxruntime sessions use all of the process's threads)."""

    def __init__(self, pipeline, weights: ResolvedWeights) -> None:
        self.pipeline = pipeline
        self.weights = weights
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> RapidOcrEngine:
        from rapidocr import RapidOCR

        pipeline = RapidOCR(params={"Global.log_level": "error", "Global.model_root_dir": str(weights.path)})
        return cls(pipeline, weights)

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        """The text lines of an RGB image, top to bottom."""
        with self._lock:
            result = self.pipeline(np.ascontiguousarray(image[:, :, ::-1]), return_word_box=True)  # it wants BGR
        if result.txts is None or result.boxes is None:
            return []
        lines = []
        word_results = result.word_results or [()] * len(result.txts)
        for text, score, box, words in zip(result.txts, result.scores, result.boxes, word_results):
            polygon = [(float(x), float(y)) for x, y in box]
            line_words = [OcrWord(str(word[0]), float(word[1]) * 100, [(float(x), float(y)) for x, y in word[2]])
                          for word in words if str(word[0]).strip()]
            if not line_words:  # no word boxes: one word per space-separated token, spread over the line
                line_words = _split_line(str(text), float(score) * 100, polygon)
            lines.append(OcrLine(str(text), float(score) * 100, polygon, line_words))
        lines.sort(key=lambda line: (min(y for _, y in line.polygon), min(x for x, _ in line.polygon)))
        return lines


def _split_line(text: str, confidence: float, polygon: Polygon) -> list[OcrWord]:
    tokens = text.split()
    if not tokens:
        return []
    left, right = min(x for x, _ in polygon), max(x for x, _ in polygon)
    top, bottom = min(y for _, y in polygon), max(y for _, y in polygon)
    total = sum(len(token) for token in tokens) + len(tokens) - 1
    words, position = [], 0
    for token in tokens:
        x0 = left + (right - left) * position / total
        x1 = left + (right - left) * (position + len(token)) / total
        words.append(OcrWord(token, confidence, [(x0, top), (x1, top), (x1, bottom), (x0, bottom)]))
        position += len(token) + 1
    return words
