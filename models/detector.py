"""Object boxes from a user-supplied Ultralytics-format detector exported to ONNX (YOLOv8 / YOLO11 detect heads:
one output of shape (1, 4 + classes, anchors), boxes as centre x, centre y, width, height in input pixels), run on
onnxruntime with Ultralytics' letterbox and class-wise non-maximum suppression.

No permissively licensed COCO detector ships in any package, so nothing is loaded unless a user puts one at
`<models_dir>/object-detector/detector.onnx` (or names it in AIGATE_MODEL_PATHS) and switches it on
(AIGATE_REKOGNITION_OBJECT_DETECTOR=true). The class names and input size come from the metadata Ultralytics
writes into the file (`names`, `imgsz`); a file without `names` is refused, since its boxes could not be named.
`.pt` checkpoints need the `ultralytics` package, whose import needs a torchvision build that does not run beside
the CPU torch here: export them to ONNX once (`yolo export model=... format=onnx`).
"""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

SCORE_THRESHOLD = 0.25  # Ultralytics' default `conf`
IOU_THRESHOLD = 0.45  # Ultralytics' default `iou` for NMS
MAX_DETECTIONS = 300
LETTERBOX_FILL = 114  # Ultralytics pads with grey 114


@dataclass(frozen=True)
class Detection:
    name: str  # the class name the detector's metadata gives (COCO: "person", "dog", ...)
    score: float  # 0..1
    box: tuple[float, float, float, float]  # left, top, right, bottom in image pixels


class ObjectDetectorEngine:
    def __init__(self, session, names: dict[int, str], size: tuple[int, int], weights: ResolvedWeights) -> None:
        self.session = session
        self.names = names
        self.size = size  # (height, width) the network takes
        self.weights = weights
        self._input = session.get_inputs()[0].name
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> ObjectDetectorEngine:
        import onnxruntime

        path = weights.path / "detector.onnx" if weights.path.is_dir() else weights.path
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        metadata = session.get_modelmeta().custom_metadata_map
        if "names" not in metadata:
            raise RuntimeError(f"{path} has no `names` metadata: export it with Ultralytics (format=onnx)")
        names = {int(k): str(v) for k, v in ast.literal_eval(metadata["names"]).items()}
        size = ast.literal_eval(metadata.get("imgsz", "[640, 640]"))
        size = (int(size[0]), int(size[1])) if isinstance(size, (list, tuple)) else (int(size), int(size))
        return cls(session, names, size, weights)

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        """Objects of an RGB image (uint8 HxWx3), best first."""
        import cv2

        height, width = pixels.shape[:2]
        net_h, net_w = self.size
        scale = min(net_h / height, net_w / width)
        new_h, new_w = round(height * scale), round(width * scale)
        top, left = (net_h - new_h) // 2, (net_w - new_w) // 2
        canvas = np.full((net_h, net_w, 3), LETTERBOX_FILL, dtype=np.uint8)
        canvas[top:top + new_h, left:left + new_w] = cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        tensor = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        with self._lock:
            [output] = self.session.run(None, {self._input: tensor})[:1]
        predictions = output[0].T  # (anchors, 4 + classes)
        classes = predictions[:, 4:]
        best = classes.argmax(axis=1)
        scores = classes[np.arange(len(classes)), best]
        keep = scores >= SCORE_THRESHOLD
        boxes, scores, best = predictions[keep, :4], scores[keep], best[keep]
        if not len(scores):
            return []
        # centre/size in letterboxed pixels -> corners in image pixels
        x0 = (boxes[:, 0] - boxes[:, 2] / 2 - left) / scale
        y0 = (boxes[:, 1] - boxes[:, 3] / 2 - top) / scale
        x1 = (boxes[:, 0] + boxes[:, 2] / 2 - left) / scale
        y1 = (boxes[:, 1] + boxes[:, 3] / 2 - top) / scale
        corners = np.stack([x0.clip(0, width), y0.clip(0, height), x1.clip(0, width), y1.clip(0, height)], axis=1)
        found = []
        for class_id in np.unique(best):  # class-wise NMS, as Ultralytics (agnostic=False)
            members = np.flatnonzero(best == class_id)
            rects = [[float(a), float(b), float(c - a), float(d - b)] for a, b, c, d in corners[members]]
            kept = cv2.dnn.NMSBoxes(rects, scores[members].tolist(), SCORE_THRESHOLD, IOU_THRESHOLD)
            for index in np.asarray(kept).reshape(-1):
                member = members[int(index)]
                found.append(Detection(self.names.get(int(class_id), str(class_id)), float(scores[member]),
                                       tuple(float(v) for v in corners[member])))
        found.sort(key=lambda detection: -detection.score)
        return found[:MAX_DETECTIONS]
