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
    general = "GENERAL_LABELS" in (request.get("Features") or ["GENERAL_LABELS"])
    face_count = len(faces.analyze_faces(pixels, ["DEFAULT"])) if general else 0
    engine = runtime().models.get("imagenet-labels") if general else None
    instances = object_instances(pixels, request.get("MinConfidence", 55.0)) \
        if general and runtime().settings.rekognition_object_detector else None
    return labels.detect_labels(pixels, request, face_count=face_count, engine=engine, instances=instances)


def object_instances(pixels, min_confidence: float) -> dict[str, list[dict]]:
    """Label name -> Instances from the user-supplied object detector (models/detector.py), boxes as ratios."""
    from services.rekognition.taxonomy import COCO_LABELS, LABELS

    height, width = pixels.shape[:2]
    found: dict[str, list[dict]] = {}
    for detection in runtime().models.get("object-detector").detect(pixels):
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
