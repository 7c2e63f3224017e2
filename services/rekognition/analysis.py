"""What runs on an image's pixels, in the model worker processes when the gateway has them (inline without): each
function decodes the image's bytes and runs the engines there, so the serving process never holds the GIL for
pixels. Arguments and answers are plain data (they cross a process boundary)."""

from __future__ import annotations

from models.workers import installed_pool
from services.gateway.runtime import runtime
from services.rekognition import faces, images


def on_worker(function, *arguments):
    """`function(*arguments)` on a model worker process (inline when the gateway runs none)."""
    pool = installed_pool()
    if pool is None:
        return function(*arguments)
    return pool.submit(function, *arguments).result()


def image_faces(data: bytes, attributes: list[str], with_embeddings: bool = False,
                max_faces: int = 100) -> list[faces.AnalyzedFace]:
    return faces.analyze_faces(images.decode(data), attributes, with_embeddings=with_embeddings, max_faces=max_faces)


def image_labels(data: bytes, request: dict) -> dict:
    from services.rekognition import labels

    pixels = images.decode(data)
    features = request.get("Features") or ["GENERAL_LABELS"]
    general = "GENERAL_LABELS" in features
    face_count = len(faces.analyze_faces(pixels, ["DEFAULT"])) if general else 0
    engine = runtime().models.get("imagenet-labels") if general else None
    detector = object_detector()
    detections, foreground = [], None
    # The detector runs for Instances, and for IMAGE_PROPERTIES alone only when its masks give the foreground.
    if detector is not None and (general or ("IMAGE_PROPERTIES" in features and detector.has_masks)):
        detections, foreground = detector.analyze(pixels)
    instances = object_instances(detections, pixels.shape[:2], request.get("MinConfidence", 55.0)) \
        if general and detector is not None else None
    return labels.detect_labels(pixels, request, face_count=face_count, engine=engine, instances=instances,
                                foreground=foreground)


def object_detector():
    """The object detector switched on, or None: the user's own (`object-detector`) first, else Ultralytics'
    yolo11n-seg, which is AGPL-3.0 and so used only when its setting says so."""
    settings = runtime().settings
    if settings.rekognition_object_detector:
        return runtime().models.get("object-detector")
    if settings.rekognition_agpl_yolo11n_seg:
        return runtime().models.get("yolo11n-seg")
    return None


def object_instances(detections, shape: tuple[int, int], min_confidence: float) -> dict[str, list[dict]]:
    """Label name -> Instances from the object detector's detections (models/detector.py), boxes as ratios."""
    from services.rekognition.taxonomy import COCO_LABELS, LABELS

    height, width = shape
    found: dict[str, list[dict]] = {}
    for detection in detections:
        name = COCO_LABELS.get(detection.name) or detection.name.title()
        confidence = detection.score * 100
        if name not in LABELS or confidence < min_confidence:
            continue  # a class outside Rekognition's taxonomy has no label to be an instance of
        left, top, right, bottom = detection.box
        found.setdefault(name, []).append({
            "BoundingBox": {"Width": (right - left) / width, "Height": (bottom - top) / height,
                            "Left": left / width, "Top": top / height},
            "Confidence": confidence})
    return found


def image_moderation(data: bytes, min_confidence: float) -> list[dict]:
    from services.rekognition import moderation

    return moderation.moderation_labels(images.decode(data), min_confidence)


def image_text(data: bytes, filters: dict | None) -> list[dict]:
    from services.rekognition import text

    return text.detect_text(images.decode(data), filters)
