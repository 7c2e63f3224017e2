"""DetectText's `TextDetections` from the RapidOCR engine (models/ocr.py): lines and words with Ids, ParentIds,
confidences and geometry, and DetectText's `Filters`.

AWS's layout (Developer Guide, "Detecting text in an image", its example response): every LINE first, Ids 0..n-1
in reading order; then every WORD, Ids continuing from n in line order, each with the ParentId of its line. A LINE
has no ParentId. Geometry is in ratios of the image's width and height: an axis-aligned BoundingBox and a 4-point
Polygon clockwise from the top left. "DetectText can detect up to 100 words in an image" (API reference).

Filters (`DetectTextFilters`) act on words; a line is answered when at least one of its words is, rebuilt from
those words when some were dropped:
- WordFilter: MinConfidence (0..100), MinBoundingBoxHeight / MinBoundingBoxWidth (ratios of the image). AWS
  documents a default MinConfidence of 80 for this filter; its own unfiltered DetectText example answers a 59%
  word, so the default applies only when a WordFilter is given.
- RegionsOfInterest: BoundingBox or Polygon regions (ratios). AWS's rule (RegionOfInterest): "A word ... is
  included in the region if it is more than half in that region"; with several regions, more than half in any one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from models.ocr import OcrLine, OcrWord
    from models.registry import ModelRegistry

TEXT_MODEL_VERSION = "3.0"
MAX_WORDS = 100
DEFAULT_WORD_MIN_CONFIDENCE = 80.0

Points = list[tuple[float, float]]  # ratios of width, height


def detect_text(pixels: np.ndarray, filters: dict | None = None, models: ModelRegistry | None = None) -> list[dict]:
    """DetectText's `TextDetections` for an RGB uint8 image (H x W x 3); `filters` is the request's `Filters`."""
    if models is None:
        from services.gateway.runtime import runtime

        models = runtime().models
    with models.use("rapidocr") as engine:
        lines = engine.recognize(pixels)
    height, width = pixels.shape[:2]
    return text_detections(lines, width, height, filters)


def text_detections(lines: list[OcrLine], width: int, height: int, filters: dict | None = None) -> list[dict]:
    """The OCR lines of a `width` x `height` image as `TextDetections`, filtered and capped at 100 words."""
    keep = _word_test(filters or {})
    kept: list[tuple[OcrLine, list[tuple[OcrWord, Points]]]] = []
    budget = MAX_WORDS
    for line in lines:  # reading order: the first 100 words read are the ones answered
        words = []
        for word in line.words:
            points = _ratios(word.polygon, width, height)
            if budget > 0 and word.text.strip() and keep(word.confidence, points):
                words.append((word, points))
                budget -= 1
        if words:
            kept.append((line, words))

    line_detections, word_detections = [], []
    next_word_id = len(kept)
    for line_id, (line, words) in enumerate(kept):
        if len(words) == len(line.words):
            text, confidence, points = line.text, line.confidence, _ratios(line.polygon, width, height)
        else:  # some words were filtered out: the line is what is left of it
            text = " ".join(word.text for word, _ in words)
            confidence = sum(word.confidence for word, _ in words) / len(words)
            points = _box_points([point for _, word_points in words for point in word_points])
        line_detections.append({"DetectedText": text, "Type": "LINE", "Id": line_id,
                                "Confidence": float(confidence), "Geometry": _geometry(points)})
        for word, word_points in words:
            word_detections.append({"DetectedText": word.text, "Type": "WORD", "Id": next_word_id,
                                    "ParentId": line_id, "Confidence": float(word.confidence),
                                    "Geometry": _geometry(word_points)})
            next_word_id += 1
    return line_detections + word_detections


def _word_test(filters: dict):
    """A predicate (confidence, polygon in ratios) -> bool for the request's word filters."""
    word_filter = filters.get("WordFilter")
    min_confidence = min_height = min_width = None
    if word_filter is not None:
        min_confidence = word_filter.get("MinConfidence", DEFAULT_WORD_MIN_CONFIDENCE)
        min_height = word_filter.get("MinBoundingBoxHeight")
        min_width = word_filter.get("MinBoundingBoxWidth")
    regions = [_region_polygon(region) for region in filters.get("RegionsOfInterest") or []]

    def keep(confidence: float, points: Points) -> bool:
        box = _bounding_box(points)
        if min_confidence is not None and confidence < min_confidence:
            return False
        if min_height is not None and box["Height"] < min_height:
            return False
        if min_width is not None and box["Width"] < min_width:
            return False
        return not regions or any(_more_than_half_inside(points, region) for region in regions)

    return keep


def _region_polygon(region: dict):
    """A RegionOfInterest (BoundingBox or Polygon, in ratios) as a shapely polygon."""
    from shapely.geometry import Polygon, box
    from shapely.validation import make_valid

    if region.get("Polygon"):
        return make_valid(Polygon([(point["X"], point["Y"]) for point in region["Polygon"]]))
    bounds = region["BoundingBox"]
    left, top = bounds.get("Left", 0.0), bounds.get("Top", 0.0)
    return box(left, top, left + bounds.get("Width", 0.0), top + bounds.get("Height", 0.0))


def _more_than_half_inside(points: Points, region) -> bool:
    from shapely.geometry import Point, Polygon

    word = Polygon(points)
    if word.area <= 0:  # a degenerate box: its centre decides
        xs, ys = zip(*points)
        return region.contains(Point((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2))
    return word.intersection(region).area > 0.5 * word.area


def _ratios(polygon: list[tuple[float, float]], width: int, height: int) -> Points:
    """Pixel points -> ratios of the image, clipped to it (OCR boxes are padded and may reach past an edge)."""
    return [(min(max(x / width, 0.0), 1.0), min(max(y / height, 0.0), 1.0)) for x, y in polygon]


def _box_points(points: Points) -> Points:
    xs, ys = [x for x, _ in points], [y for _, y in points]
    left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
    return [(left, top), (right, top), (right, bottom), (left, bottom)]


def _bounding_box(points: Points) -> dict:
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return {"Width": max(xs) - min(xs), "Height": max(ys) - min(ys), "Left": min(xs), "Top": min(ys)}


def _geometry(points: Points) -> dict:
    return {"BoundingBox": _bounding_box(points), "Polygon": [{"X": x, "Y": y} for x, y in points]}
