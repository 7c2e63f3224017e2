"""Object boxes (and, for segmentation models, masks) from an Ultralytics-format detector, run on onnxruntime.

What loads: an ONNX file exported by Ultralytics, or an Ultralytics `.pt` checkpoint, which is exported to ONNX
once through Ultralytics' own exporter (models/yolo_export.py) and cached by its hash. The class names and input
size come from the metadata Ultralytics writes into the file (`names`, `imgsz`, `head`, `end2end`); a file without
`names` is refused, since its boxes could not be named. Output layouts understood:

- YOLOv8 / YOLO11 detect and segment heads: `output0` (1, 4 + classes [+ 32 mask coefficients], anchors), boxes
  as centre x, centre y, width, height in input pixels; letterboxed input, class-wise NMS here.
- End-to-end heads (YOLOv10, YOLO26; metadata `end2end`): (1, N, 6 [+ 32]), x0, y0, x1, y1, score, class; no NMS.
- RT-DETR (`head` RTDETRDecoder): normalised centre/size boxes; the input is stretched, not letterboxed, as
  Ultralytics' RT-DETR predictor does; no NMS. Ultralytics 8.4 exports the top queries, (1, N, 6): box, score,
  class; earlier releases every query, (1, 300, 4 + classes) with sigmoid scores.
- Segmentation models add `output1`, the mask prototypes (1, 32, H/4, W/4): a detection's mask is the sigmoid of
  its coefficients times the prototypes, cropped to its box (Ultralytics' `process_mask`).

Engines: `object-detector` (a detector the user puts in the models folder, AIGATE_REKOGNITION_OBJECT_DETECTOR) and
`yolo11n-seg` (Ultralytics' COCO model, AGPL-3.0 weights, AIGATE_REKOGNITION_AGPL_YOLO11N_SEG); see models/catalog.py.
"""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights
from models.yolo_export import EXPORT_SUFFIX, export_onnx

if TYPE_CHECKING:
    from models.settings import ModelSettings

SCORE_THRESHOLD = 0.25  # Ultralytics' default `conf`
IOU_THRESHOLD = 0.45  # Ultralytics' default `iou` for NMS
MASK_THRESHOLD = 0.5  # Ultralytics binarises mask probabilities at 0.5
MAX_DETECTIONS = 300
LETTERBOX_FILL = 114  # Ultralytics pads with grey 114


@dataclass(frozen=True)
class Detection:
    name: str  # the class name the detector's metadata gives (COCO: "person", "dog", ...)
    score: float  # 0..1
    box: tuple[float, float, float, float]  # left, top, right, bottom in image pixels


def model_file(path: Path) -> Path:
    """The detector file a weights path names: the file itself, or in a folder detector.onnx, detector.pt or its
    one `.onnx` / `.pt` file (export caches aside)."""
    if not path.is_dir():
        return path
    for name in ("detector.onnx", "detector.pt"):
        if (path / name).is_file():
            return path / name
    found = sorted(p for p in path.iterdir() if p.suffix in (".onnx", ".pt") and not p.name.endswith(EXPORT_SUFFIX))
    if len(found) != 1:
        raise FileNotFoundError(f"{path}: expected one detector (.onnx or Ultralytics .pt), found "
                                f"{', '.join(p.name for p in found) or 'none'}")
    return found[0]


def onnx_file(weights: ResolvedWeights, settings: ModelSettings | None) -> Path:
    """The ONNX file to run: `.pt` checkpoints are exported once, beside a user's own file (when the folder is
    writable) or into `<data_dir>/model-cache/yolo-export/` (always so for a file inside an installed package)."""
    path = model_file(weights.path)
    if path.suffix != ".pt":
        return path
    folders = [path.parent] if weights.source in ("config", "models_dir") else []
    if settings is not None:
        folders.append(Path(settings.data_dir).expanduser().resolve() / "model-cache" / "yolo-export")
    return export_onnx(path, folders)


class ObjectDetectorEngine:
    def __init__(self, session, names: dict[int, str], size: tuple[int, int], weights: ResolvedWeights,
                 head: str = "Detect", end2end: bool = False, version: tuple[int, ...] = ()) -> None:
        self.session = session
        self.names = names
        self.size = size  # (height, width) the network takes
        self.weights = weights
        self.head = head
        self.end2end = end2end
        self.version = version  # of the Ultralytics that exported the file
        self._input = session.get_inputs()[0].name
        # A second output of four dimensions is a segmentation model's mask prototypes.
        self.has_masks = len(session.get_outputs()) > 1 and len(session.get_outputs()[1].shape) == 4
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> ObjectDetectorEngine:
        import onnxruntime

        path = onnx_file(weights, settings)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 2
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        metadata = session.get_modelmeta().custom_metadata_map
        if "names" not in metadata:
            raise RuntimeError(f"{path} has no `names` metadata: export it with Ultralytics (format=onnx)")
        names = {int(k): str(v) for k, v in ast.literal_eval(metadata["names"]).items()}
        size = ast.literal_eval(metadata.get("imgsz", "[640, 640]"))
        size = (int(size[0]), int(size[1])) if isinstance(size, (list, tuple)) else (int(size), int(size))
        version = tuple(int(part) for part in metadata.get("version", "0").split(".")[:2] if part.isdigit())
        return cls(session, names, size, weights, head=metadata.get("head", "Detect"),
                   end2end=metadata.get("end2end", "False") == "True", version=version)

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        """Objects of an RGB image (uint8 HxWx3), best first."""
        return self.analyze(pixels)[0]

    def analyze(self, pixels: np.ndarray) -> tuple[list[Detection], np.ndarray | None]:
        """Objects of an RGB image (uint8 HxWx3), best first, and the union of their masks (bool HxW) when the
        model segments (None when it gives boxes only)."""
        import cv2

        height, width = pixels.shape[:2]
        net_h, net_w = self.size
        if self.head == "RTDETRDecoder":  # stretched to the input size
            scale_x, scale_y, left, top = net_w / width, net_h / height, 0, 0
            tensor = cv2.resize(pixels, (net_w, net_h), interpolation=cv2.INTER_LINEAR)
        else:  # letterboxed: scaled to fit, centred on grey
            scale_x = scale_y = min(net_h / height, net_w / width)
            new_h, new_w = round(height * scale_y), round(width * scale_x)
            top, left = (net_h - new_h) // 2, (net_w - new_w) // 2
            tensor = np.full((net_h, net_w, 3), LETTERBOX_FILL, dtype=np.uint8)
            tensor[top:top + new_h, left:left + new_w] = cv2.resize(pixels, (new_w, new_h),
                                                                    interpolation=cv2.INTER_LINEAR)
        tensor = np.ascontiguousarray(tensor.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        with self._lock:
            outputs = self.session.run(None, {self._input: tensor})
        corners, scores, classes, coefficients = self._candidates(outputs[0][0])
        keep = np.flatnonzero(scores >= SCORE_THRESHOLD)
        if not self.end2end and self.head != "RTDETRDecoder":
            keep = _class_wise_nms(corners, scores, classes, keep)
        keep = keep[np.argsort(-scores[keep], kind="stable")][:MAX_DETECTIONS]
        # input pixels -> image pixels
        image = (corners[keep] - [left, top, left, top]) / [scale_x, scale_y, scale_x, scale_y]
        image = image.clip(0, [width, height, width, height])
        found = [Detection(self.names.get(int(classes[i]), str(int(classes[i]))), float(scores[i]),
                           tuple(float(v) for v in box)) for i, box in zip(keep, image)]
        mask = None
        if self.has_masks and coefficients is not None:
            mask = _union_mask(coefficients[keep], outputs[1][0], corners[keep], (net_h, net_w),
                               (top, left, height * scale_y, width * scale_x), (height, width))
        return found, mask

    def _candidates(self, output: np.ndarray):
        """(corners x0 y0 x1 y1 in input pixels, scores, class ids, mask coefficients or None) of every candidate."""
        count = len(self.names)
        if self.end2end:  # (N, 6 [+ coefficients])
            coefficients = output[:, 6:] if output.shape[1] > 6 else None
            return output[:, :4], output[:, 4], output[:, 5].astype(int), coefficients
        if self.head == "RTDETRDecoder":  # boxes normalised
            net_h, net_w = self.size
            boxes = output[:, :4] * [net_w, net_h, net_w, net_h]
            # (N, 6) is ambiguous with two classes: 8.4 and later export the top queries.
            if output.shape[1] == 6 and (count != 2 or self.version >= (8, 4)):  # box, score, class
                corners = np.concatenate([boxes[:, :2] - boxes[:, 2:4] / 2, boxes[:, :2] + boxes[:, 2:4] / 2], axis=1)
                return corners, output[:, 4], output[:, 5].astype(int), None
            scores_by_class, coefficients = output[:, 4:4 + count], None  # (300, 4 + classes)
        else:  # (4 + classes [+ coefficients], anchors)
            output = output.T
            boxes, scores_by_class = output[:, :4], output[:, 4:4 + count]
            coefficients = output[:, 4 + count:] if output.shape[1] > 4 + count else None
        classes = scores_by_class.argmax(axis=1)
        scores = scores_by_class[np.arange(len(classes)), classes]
        corners = np.concatenate([boxes[:, :2] - boxes[:, 2:4] / 2, boxes[:, :2] + boxes[:, 2:4] / 2], axis=1)
        return corners, scores, classes, coefficients


def _class_wise_nms(corners: np.ndarray, scores: np.ndarray, classes: np.ndarray, candidates: np.ndarray):
    """The candidates NMS keeps, class by class, as Ultralytics (agnostic=False)."""
    import cv2

    kept = []
    for class_id in np.unique(classes[candidates]):
        members = candidates[classes[candidates] == class_id]
        rects = [[float(a), float(b), float(c - a), float(d - b)] for a, b, c, d in corners[members]]
        chosen = cv2.dnn.NMSBoxes(rects, scores[members].tolist(), SCORE_THRESHOLD, IOU_THRESHOLD)
        kept.extend(members[int(index)] for index in np.asarray(chosen).reshape(-1))
    return np.array(kept, dtype=int)


def _union_mask(coefficients, prototypes, corners, net_size, content, image_size) -> np.ndarray:
    """The union of the detections' masks at image size: each mask is sigmoid(coefficients · prototypes) cropped to
    its box; `content` (top, left, height, width) is where the image lies in the network's input."""
    import cv2

    height, width = image_size
    channels, proto_h, proto_w = prototypes.shape
    if not len(coefficients):
        return np.zeros((height, width), dtype=bool)
    logits = (coefficients @ prototypes.reshape(channels, -1)).reshape(-1, proto_h, proto_w)
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    ratio_y, ratio_x = proto_h / net_size[0], proto_w / net_size[1]
    rows, columns = np.arange(proto_h)[:, None] + 0.5, np.arange(proto_w)[None, :] + 0.5
    union = np.zeros((proto_h, proto_w), dtype=np.float32)
    for probability, (x0, y0, x1, y1) in zip(probabilities, corners):
        inside = ((rows >= y0 * ratio_y) & (rows < y1 * ratio_y) & (columns >= x0 * ratio_x)
                  & (columns < x1 * ratio_x))
        union = np.maximum(union, np.where(inside, probability, 0.0))
    top, left, content_h, content_w = content
    y0, x0 = int(round(top * ratio_y)), int(round(left * ratio_x))
    y1, x1 = max(y0 + 1, int(round((top + content_h) * ratio_y))), max(x0 + 1, int(round((left + content_w) * ratio_x)))
    resized = cv2.resize(union[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_LINEAR)
    return resized > MASK_THRESHOLD
