"""Object detection for Amazon Rekognition Custom Labels (datasets with bounding boxes), on the object detector
switched on in this gateway (the user's own or the opt-in yolo11n-seg: analysis.object_detector).

The detector only proposes regions — its classes are ignored — and the custom labels come from a probe on the
image classifier's embedding of each region (the region with a tenth of its size as context, as the detector's
box is tight). Training regions are the ground-truth boxes (their labels), the proposals that overlap one by
IoU >= POSITIVE_IOU (its label) and those that overlap none by more than NEGATIVE_IOU (BACKGROUND); inference keeps
the proposals whose best custom label passes its threshold, then suppresses overlaps label by label. A custom
object the detector never proposes cannot be found: recall is bounded by the detector's proposals, which is why
training needs one switched on.
"""

from __future__ import annotations

import numpy as np

from services.gateway.runtime import runtime
from services.rekognition import analysis, images

BACKGROUND = "\nbackground"  # a label cannot hold a newline (DatasetLabel), so no custom label is this one
MAX_PROPOSALS = 30  # regions embedded per image, best-scored first
POSITIVE_IOU, NEGATIVE_IOU, NMS_IOU, MATCH_IOU, SAME_IOU = 0.5, 0.3, 0.5, 0.5, 0.9
CONTEXT = 0.1


def enabled() -> bool:
    """Whether an object detector is switched on (the same settings analysis.object_detector reads; checked here
    without loading the engine in the serving process)."""
    settings = runtime().settings
    return settings.rekognition_object_detector or settings.rekognition_agpl_yolo11n_seg


def regions(data: bytes, known: list[dict]) -> dict:
    """On a model worker: the embeddings of an image's known boxes and of the detector's proposals, boxes as
    ratios of the image ({"Left", "Top", "Width", "Height"})."""
    pixels = images.decode(data)
    height, width = pixels.shape[:2]
    detector = analysis.object_detector()
    if detector is None:
        raise RuntimeError("no object detector is switched on")
    proposals = []
    for detection in detector.detect(pixels)[:MAX_PROPOSALS]:
        left, top, right, bottom = detection.box
        if right - left >= 2 and bottom - top >= 2:
            proposals.append({"Left": left / width, "Top": top / height, "Width": (right - left) / width,
                              "Height": (bottom - top) / height})
    engine = runtime().models.get("imagenet-labels")

    def embed(box: dict) -> list[float]:
        return engine.features(_crop(pixels, box)).astype(np.float32).tolist()

    return {"known": [embed(box) for box in known],
            "proposals": [{"box": box, "vector": embed(box)} for box in proposals]}


def _crop(pixels: np.ndarray, box: dict) -> np.ndarray:
    height, width = pixels.shape[:2]
    margin_x, margin_y = box["Width"] * CONTEXT, box["Height"] * CONTEXT
    left = int(max(0, (box["Left"] - margin_x) * width))
    top = int(max(0, (box["Top"] - margin_y) * height))
    right = int(min(width, np.ceil((box["Left"] + box["Width"] + margin_x) * width)))
    bottom = int(min(height, np.ceil((box["Top"] + box["Height"] + margin_y) * height)))
    return pixels[top:max(bottom, top + 1), left:max(right, left + 1)]


def iou(a: dict, b: dict) -> float:
    width = min(a["Left"] + a["Width"], b["Left"] + b["Width"]) - max(a["Left"], b["Left"])
    height = min(a["Top"] + a["Height"], b["Top"] + b["Height"]) - max(a["Top"], b["Top"])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a["Width"] * a["Height"] + b["Width"] * b["Height"] - inter)


def known_boxes(boxes: dict[str, list[dict]]) -> list[tuple[str, dict]]:
    """(label, box) of an entry's ground truth, in a fixed order."""
    return [(label, box) for label in sorted(boxes) for box in boxes[label]]


def training_samples(found: dict, truth: list[tuple[str, dict]]) -> tuple[list[list[float]], list[str]]:
    """(embeddings, labels) an image gives the probe: its boxes, and its proposals as positives or background."""
    vectors, labels = list(found["known"]), [label for label, _ in truth]
    for proposal in found["proposals"]:
        overlaps = [(iou(proposal["box"], box), label) for label, box in truth]
        best, label = max(overlaps) if overlaps else (0.0, BACKGROUND)
        if best >= SAME_IOU:
            continue  # the known box itself again: a copy would make out-of-fold thresholds look too good
        if best >= POSITIVE_IOU:
            vectors.append(proposal["vector"])
            labels.append(label)
        elif best <= NEGATIVE_IOU:
            vectors.append(proposal["vector"])
            labels.append(BACKGROUND)
    return vectors, labels


def detected(probe, found: dict, min_confidence: float | None) -> list[dict]:
    """CustomLabels of an image's proposals: the best custom label of each region that passes (below), overlaps
    suppressed label by label, best first."""
    if not found["proposals"]:
        return []
    scores = probe.confidences(np.asarray([p["vector"] for p in found["proposals"]], dtype=np.float32))
    custom = [j for j, label in enumerate(probe.labels) if label != BACKGROUND]
    candidates = []
    for proposal, row in zip(found["proposals"], scores):
        j = max(custom, key=lambda k: row[k])
        # Without MinConfidence a region is an object when its label passes the label's threshold and is likelier
        # than background; MinConfidence asks for every region whose label reaches it.
        background = row[probe.labels.index(BACKGROUND)] if BACKGROUND in probe.labels else 0.0
        passes = row[j] >= min_confidence if min_confidence is not None else \
            row[j] >= probe.thresholds[j] and row[j] > background
        if passes:
            candidates.append((float(row[j]), probe.labels[j], proposal["box"]))
    candidates.sort(key=lambda item: -item[0])
    kept: list[tuple[float, str, dict]] = []
    for confidence, label, box in candidates:
        if all(other != label or iou(box, kept_box) < NMS_IOU for _, other, kept_box in kept):
            kept.append((confidence, label, box))
    return [{"Name": label, "Confidence": confidence, "Geometry": geometry(box)} for confidence, label, box in kept]


def geometry(box: dict) -> dict:
    left, top, right, bottom = box["Left"], box["Top"], box["Left"] + box["Width"], box["Top"] + box["Height"]
    return {"BoundingBox": dict(box), "Polygon": [{"X": left, "Y": top}, {"X": right, "Y": top},
                                                  {"X": right, "Y": bottom}, {"X": left, "Y": bottom}]}


def matches(predicted: list[dict], truth: list[tuple[str, dict]], labels: list[str]) -> dict[str, list[int]]:
    """{label: [true positives, false positives, false negatives]} of one image, at IoU >= MATCH_IOU (each true box
    taken once, by the most confident prediction)."""
    counts = {label: [0, 0, 0] for label in labels if label != BACKGROUND}
    taken = set()
    for item in sorted(predicted, key=lambda item: -item["Confidence"]):
        box = item["Geometry"]["BoundingBox"]
        best, chosen = 0.0, None
        for index, (label, true_box) in enumerate(truth):
            if label == item["Name"] and index not in taken and (overlap := iou(box, true_box)) > best:
                best, chosen = overlap, index
        if chosen is not None and best >= MATCH_IOU:
            taken.add(chosen)
            counts[item["Name"]][0] += 1
        else:
            counts[item["Name"]][1] += 1
    for index, (label, _) in enumerate(truth):
        if index not in taken and label in counts:
            counts[label][2] += 1
    return counts
