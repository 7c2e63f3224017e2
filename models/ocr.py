"""Printed-text OCR: RapidOCR (Apache-2.0; PP-OCR detection + recognition ONNX models shipped in the wheel), the
default, and Tesseract 5 (Apache-2.0; Debian's tesseract-ocr with its English LSTM model) as the alternative.

`recognize(image)` answers text lines in reading order, each with its words: text, confidence 0..100 and a
4-point polygon in pixels. RapidOCR works on lines; its word boxes come from the recognizer's character columns
(`return_word_box`), so a word's box is as tall as its line. Tesseract gives each word its own box.
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


class TesseractEngine:
    """Tesseract through pytesseract (one `tesseract` process per page), on the tessdata folder resolved."""

    def __init__(self, tessdata: str, weights: ResolvedWeights) -> None:
        self.tessdata = tessdata
        self.weights = weights

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> TesseractEngine:
        import pytesseract

        try:
            pytesseract.get_tesseract_version()
        except pytesseract.TesseractNotFoundError:
            raise RuntimeError("the tesseract program is not installed (Debian package tesseract-ocr)") from None
        if not (weights.path / "eng.traineddata").exists():
            raise RuntimeError(f"no eng.traineddata in {weights.path} (Debian package tesseract-ocr-eng)")
        return cls(str(weights.path), weights)

    def recognize(self, image: np.ndarray) -> list[OcrLine]:
        import pytesseract
        from PIL import Image

        data = pytesseract.image_to_data(Image.fromarray(np.ascontiguousarray(image)), lang="eng",
                                         config=f'--tessdata-dir "{self.tessdata}" --psm 3',
                                         output_type=pytesseract.Output.DICT)
        grouped: dict[tuple[int, int, int], list[OcrWord]] = {}
        for n, text in enumerate(data["text"]):
            confidence = float(data["conf"][n])
            if confidence < 0 or not str(text).strip():
                continue  # a block, paragraph or line record, or an empty word
            x, y, w, h = (int(data[key][n]) for key in ("left", "top", "width", "height"))
            word = OcrWord(str(text).strip(), confidence, [(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
            grouped.setdefault((data["block_num"][n], data["par_num"][n], data["line_num"][n]), []).append(word)
        lines = []
        for words in (part for line in grouped.values() for part in _split_at_gaps(line)):
            xs = [x for word in words for x, _ in word.polygon]
            ys = [y for word in words for _, y in word.polygon]
            polygon = [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]
            confidence = sum(word.confidence for word in words) / len(words)
            lines.append(OcrLine(" ".join(word.text for word in words), confidence, polygon, words))
        lines.sort(key=lambda line: (min(y for _, y in line.polygon), min(x for x, _ in line.polygon)))
        return lines


def _split_at_gaps(words: list[OcrWord]) -> list[list[OcrWord]]:
    """Tesseract's line split where the space between two words is wider than the text is tall (table columns,
    label and value apart): Textract reads those as separate lines."""
    parts: list[list[OcrWord]] = [[]]
    for word in words:
        if parts[-1]:
            previous = parts[-1][-1]
            height = max(previous.polygon[2][1] - previous.polygon[0][1], word.polygon[2][1] - word.polygon[0][1])
            if word.polygon[0][0] - previous.polygon[1][0] > 1.5 * height:
                parts.append([])
        parts[-1].append(word)
    return [part for part in parts if part]


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
