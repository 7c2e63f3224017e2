"""Faces in Rekognition's shapes: engine outputs (models/faces.py) -> FaceDetail, IndexFaces' quality reasons, and
the embedding distance -> Similarity curve.

Where each FaceDetail member comes from:

- models: BoundingBox and Confidence (dlib HOG detector, weak detections confirmed by dlib's CNN detector),
  Landmarks (dlib's 68-point shape predictor), AgeRange and Gender (dlib-models' age and gender networks),
  Emotions (fer's FER2013 network; CONFUSED is always 0: FER2013 has no such class).
- measured heuristics on the landmarks and pixels:
  Pose (landmark geometry: the nose tip's place between the jaw's sides and between eyes and mouth; Roll from
  the eye line),
  Quality (Brightness: mean luminance of the face box; Sharpness: Laplacian variance of the face at 100 px wide),
  EyesOpen (eye aspect ratio), MouthOpen (inner-lip aspect ratio), Smile (half mouth width against eye span,
  half the emotion network's happy probability), EyeDirection (darkest-pixel centroid inside each eye outline),
  FaceOccluded (only "partially captured": eye/nose/mouth landmarks outside the image; hands, masks and dark
  glasses are not seen, so a face inside the image answers false with a modest confidence).
- not supported, answered Value false with Confidence 50 ("no information"): Eyeglasses, Sunglasses, Beard,
  Mustache. Dark-eye-region measures were tried for sunglasses and did not separate the bus photo's two men in
  sunglasses from a man whose eye sockets are in shadow (zidane photo), so no heuristic is claimed.

"left"/"right" in landmark names are the image's left and right (the viewer's), as Rekognition's responses show:
eyeLeft has the smaller X, and leftPupil equals eyeLeft. Angles: Yaw > 0 when the face turns toward the image's
right (a published DetectFaces response with the nose left of the eye midline has Yaw -3.7), Roll > 0 when the
image-right eye is lower (Roll 2.19 for an eye line sloping 2.26 degrees down to the right in another), Pitch > 0
when the face tilts up (Rekognition's sign for Pitch is not documented; this is the common convention).

All functions are top level with picklable arguments and results: they run in model worker processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FACE_ENGINE, AGE_GENDER_ENGINE, EMOTION_ENGINE = "dlib-faces", "age-gender", "fer-emotions"

# Attribute names of DetectFaces' `Attributes` (beyond DEFAULT / ALL) -> FaceDetail member.
OPTIONAL_ATTRIBUTES = {
    "AGE_RANGE": "AgeRange", "BEARD": "Beard", "EMOTIONS": "Emotions", "EYE_DIRECTION": "EyeDirection",
    "EYEGLASSES": "Eyeglasses", "EYES_OPEN": "EyesOpen", "FACE_OCCLUDED": "FaceOccluded", "GENDER": "Gender",
    "MOUTH_OPEN": "MouthOpen", "MUSTACHE": "Mustache", "SMILE": "Smile", "SUNGLASSES": "Sunglasses",
}
# FaceDetail's members in botocore's order (AWS answers them in this order).
DETAIL_ORDER = ("BoundingBox", "AgeRange", "Smile", "Eyeglasses", "Sunglasses", "Gender", "Beard", "Mustache",
                "EyesOpen", "MouthOpen", "Emotions", "Landmarks", "Pose", "Quality", "Confidence", "FaceOccluded",
                "EyeDirection")
UNSUPPORTED = ("Eyeglasses", "Sunglasses", "Beard", "Mustache")
UNSUPPORTED_CONFIDENCE = 50.0

# Rekognition's 30 landmark types from dlib's 68 points (iBUG 300-W numbering; 36-41 is the eye on the image's
# left, 17-21 its brow, jaw 0..16 runs from the image's left to its right). A tuple is the mean of its points.
LANDMARKS = {
    "eyeLeft": tuple(range(36, 42)), "eyeRight": tuple(range(42, 48)), "nose": (30,),
    "mouthLeft": (48,), "mouthRight": (54,),
    "leftEyeBrowLeft": (17,), "leftEyeBrowRight": (21,), "leftEyeBrowUp": (19,),
    "rightEyeBrowLeft": (22,), "rightEyeBrowRight": (26,), "rightEyeBrowUp": (24,),
    "leftEyeLeft": (36,), "leftEyeRight": (39,), "leftEyeUp": (37, 38), "leftEyeDown": (40, 41),
    "rightEyeLeft": (42,), "rightEyeRight": (45,), "rightEyeUp": (43, 44), "rightEyeDown": (46, 47),
    "noseLeft": (31,), "noseRight": (35,), "mouthUp": (51,), "mouthDown": (57,),
    # Rekognition answers its pupils at the eye centres (equal to eyeLeft/eyeRight in its responses).
    "leftPupil": tuple(range(36, 42)), "rightPupil": tuple(range(42, 48)),
    # upperJawline at eye level, midJawline at mouth level, as in Rekognition's responses.
    "upperJawlineLeft": (0,), "midJawlineLeft": (4,), "chinBottom": (8,), "midJawlineRight": (12,),
    "upperJawlineRight": (16,),
}

# Rekognition's face box runs from the forehead to the chin, eyes ~42% down (published responses); dlib's HOG box
# runs from the brows to about the chin, eyes ~32% down, chin ~7% below it (measured on the test photos). The box
# answered is dlib's, raised by 22% of its height at the top and lowered by 7% at the bottom (see aws_box).
BOX_RAISE_TOP, BOX_LOWER_BOTTOM = 0.22, 0.07


@dataclass
class AnalyzedFace:
    detail: dict  # an AWS FaceDetail with the requested attributes
    embedding: np.ndarray | None  # float32 (128,) when asked for
    area: float  # BoundingBox Width x Height (fraction of the image); faces are ordered by it
    confidence: float  # detection confidence 0..100 (detail["Confidence"])
    brightness: float  # 0..100
    sharpness: float  # 0..100
    yaw: float  # degrees
    pitch: float
    roll: float
    box_pixels: tuple[float, float]  # the answered box's width and height in pixels
    outside_fraction: float  # of the eye, nose and mouth landmarks (27-67) that lie outside the image


def _models(models):
    if models is not None:
        return models
    from services.gateway.runtime import runtime

    return runtime().models


def requested_members(attributes: list[str] | None) -> set[str]:
    """FaceDetail members beyond DEFAULT's that `attributes` (DetectFaces' semantics) asks for."""
    names = set(attributes or ["DEFAULT"])
    unknown = names - set(OPTIONAL_ATTRIBUTES) - {"DEFAULT", "ALL"}
    if unknown:
        raise ValueError(f"unknown face attributes: {sorted(unknown)}")
    if "ALL" in names:
        return set(OPTIONAL_ATTRIBUTES.values())
    return {OPTIONAL_ATTRIBUTES[name] for name in names if name in OPTIONAL_ATTRIBUTES}


def analyze_faces(pixels: np.ndarray, attributes: list[str] | None, with_embeddings: bool = False,
                  max_faces: int = 100, models=None) -> list[AnalyzedFace]:
    """The faces of an RGB image (uint8 HxWx3), largest first, at most `max_faces` (Rekognition analyses the 100
    largest); `models` defaults to the process's registry (`runtime().models`)."""
    import cv2

    registry = _models(models)
    wanted = requested_members(attributes)
    height, width = pixels.shape[:2]
    found = registry.get(FACE_ENGINE).detect(pixels)
    boxes = [aws_box(face.box, face.landmarks) for face in found]
    order = sorted(range(len(found)), key=lambda i: -(boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))
    order = order[:max(0, max_faces)]
    grey = cv2.cvtColor(np.ascontiguousarray(pixels[:, :, :3]), cv2.COLOR_RGB2GRAY) if pixels.ndim == 3 else pixels
    ages = registry.get(AGE_GENDER_ENGINE) if wanted & {"AgeRange", "Gender"} else None
    emotions = registry.get(EMOTION_ENGINE) if wanted & {"Emotions", "Smile"} else None
    faces = []
    for index in order:
        face, box = found[index], boxes[index]
        points = face.landmarks
        left, top, right, bottom = box
        yaw, pitch, roll = head_pose(points, width, height)
        brightness, sharpness = quality(grey, box)
        detail = {
            "BoundingBox": {"Width": (right - left) / width, "Height": (bottom - top) / height,
                            "Left": left / width, "Top": top / height},
            "Landmarks": [{"Type": name, "X": float(points[list(ids)].mean(axis=0)[0] / width),
                           "Y": float(points[list(ids)].mean(axis=0)[1] / height)} for name, ids in LANDMARKS.items()],
            "Pose": {"Roll": roll, "Yaw": yaw, "Pitch": pitch},
            "Quality": {"Brightness": brightness, "Sharpness": sharpness},
            "Confidence": face.confidence,
        }
        inner = points[27:68]
        outside = float(np.mean((inner[:, 0] < 0) | (inner[:, 0] >= width) | (inner[:, 1] < 0)
                                | (inner[:, 1] >= height)))
        if ages is not None:
            estimate = ages.predict(pixels, face)
            if "AgeRange" in wanted:
                detail["AgeRange"] = {"Low": estimate.low, "High": estimate.high}
            if "Gender" in wanted:
                detail["Gender"] = {"Value": estimate.gender, "Confidence": estimate.gender_confidence}
        happy = None
        if emotions is not None:
            percents = emotions.emotions(pixels, face)
            happy = percents["HAPPY"] / 100.0
            if "Emotions" in wanted:
                detail["Emotions"] = [{"Type": name, "Confidence": value}
                                      for name, value in sorted(percents.items(), key=lambda item: -item[1])]
        if "Smile" in wanted:
            detail["Smile"] = _boolean(smile_probability(points, happy))
        if "EyesOpen" in wanted:
            detail["EyesOpen"] = _boolean(eyes_open_probability(points))
        if "MouthOpen" in wanted:
            detail["MouthOpen"] = _boolean(mouth_open_probability(points))
        if "EyeDirection" in wanted:
            detail["EyeDirection"] = eye_direction(grey, points)
        if "FaceOccluded" in wanted:
            # Partly outside the image is occlusion in AWS's definition; inside it nothing else is measured.
            detail["FaceOccluded"] = ({"Value": True, "Confidence": min(99.0, 70.0 + 100.0 * outside)} if outside > 0
                                      else {"Value": False, "Confidence": 60.0})
        for member in UNSUPPORTED:
            if member in wanted:
                detail[member] = {"Value": False, "Confidence": UNSUPPORTED_CONFIDENCE}
        embedding = registry.get(FACE_ENGINE).embed(pixels, face) if with_embeddings else None
        faces.append(AnalyzedFace(
            detail={member: detail[member] for member in DETAIL_ORDER if member in detail},
            embedding=embedding,
            area=detail["BoundingBox"]["Width"] * detail["BoundingBox"]["Height"],
            confidence=face.confidence, brightness=brightness, sharpness=sharpness, yaw=yaw, pitch=pitch, roll=roll,
            box_pixels=(right - left, bottom - top), outside_fraction=outside))
    return faces


def aws_box(box: tuple[float, float, float, float], landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """Rekognition-like face box (pixels) from dlib's detection box (see BOX_RAISE_TOP), widened where needed to
    hold the brows, eyes, nose and mouth (points 17-67): HOG's box is upright, and on a tilted head a brow's end
    can stick out of it (Rekognition's boxes hold them; only its jaw points fall outside)."""
    left, top, right, bottom = box
    height = bottom - top
    inner = landmarks[17:68]
    (x0, y0), (x1, y1) = inner.min(axis=0), inner.max(axis=0)
    return (min(left, float(x0)), min(top - BOX_RAISE_TOP * height, float(y0)), max(right, float(x1)),
            max(bottom + BOX_LOWER_BOTTOM * height, float(y1)))


def _boolean(probability: float) -> dict:
    """{Value, Confidence} of a yes/no attribute from the probability of yes."""
    value = probability >= 0.5
    return {"Value": bool(value), "Confidence": float(100.0 * (probability if value else 1.0 - probability))}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _distance(a, b) -> float:
    return float(np.hypot(*(np.asarray(a) - np.asarray(b))))


def eye_aspect_ratio(points: np.ndarray) -> float:
    """Mean over both eyes of (the two lid-to-lid heights) / (2 x the corner-to-corner width) (Soukupová & Čech)."""
    ratios = []
    for first in (36, 42):
        p = points[first:first + 6]
        ratios.append((_distance(p[1], p[5]) + _distance(p[2], p[4])) / (2.0 * max(_distance(p[0], p[3]), 1e-6)))
    return float(np.mean(ratios))


def eyes_open_probability(points: np.ndarray) -> float:
    """Open eyes measure 0.21-0.4 on the test photos, eyes narrowed by a laugh or lowered to look down 0.11-0.16;
    0.18 is the midpoint."""
    return _sigmoid((eye_aspect_ratio(points) - 0.18) / 0.02)


def mouth_aspect_ratio(points: np.ndarray) -> float:
    """The inner lips' three gaps (61-67, 62-66, 63-65) over the inner mouth width (60-64)."""
    gap = (_distance(points[61], points[67]) + _distance(points[62], points[66]) + _distance(points[63], points[65]))
    return float(gap / (3.0 * max(_distance(points[60], points[64]), 1e-6)))


def mouth_open_probability(points: np.ndarray) -> float:
    """Closed mouths measure 0.00-0.11 on the test photos; open ones (speaking 0.42, smiles showing teeth
    0.18-0.23) above 0.14; 0.13 is between."""
    return _sigmoid((mouth_aspect_ratio(points) - 0.13) / 0.02)


def smile_probability(points: np.ndarray, happy: float | None) -> float:
    """Half landmark geometry, half the emotion network's HAPPY probability (when it ran).

    Geometry: mouth width (48-54) over the outer eye-corner span (36-45) — smiles measured 0.70-0.88 on the test
    photos, other expressions 0.55-0.67 (speaking included), so 0.69 is the midpoint."""
    width = _distance(points[48], points[54]) / max(_distance(points[36], points[45]), 1e-6)
    geometric = _sigmoid((width - 0.69) / 0.03)
    return geometric if happy is None else 0.5 * geometric + 0.5 * happy


# Pose from the landmarks' geometry, in the frame of the eye line (so that Roll does not leak into Yaw/Pitch).
# cv2.solvePnP against a generic 3-D face was tried first: on the group photo it returned the mirror solution
# (the wrong sign of Yaw) for three of six faces; these ratios kept the sign on every test face.
FRONTAL_NOSE_HEIGHT = 0.5  # nose tip between the eye line (0) and the mouth line (1) on frontal faces (obama: 0.51)
NOSE_DEPTH = 0.41  # nose tip's protrusion over the eye-to-mouth height (the generic face of Mallick's head-pose
# tutorial: 130 / 320)


def head_pose(points: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """(Yaw, Pitch, Roll) in degrees; signs in the module docstring. Geometric estimates:

    - Roll: the slope of the line between the eye centres (what Rekognition's Roll follows in its responses).
    - Yaw: where the nose tip sits between the two sides of the jaw outline (points 0/16, 1/15, 2/14), r = 0..1,
      on a round head: asin(2r - 1). Frontal faces give r = 0.5.
    - Pitch: where the nose tip sits between the eye line and the mouth line, q; the nose tip leaves the face's
      plane by NOSE_DEPTH of the eye-to-mouth height, so q = 0.5 - NOSE_DEPTH x tan(pitch)."""
    left_eye, right_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    angle = math.atan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0])
    cos, sin = math.cos(-angle), math.sin(-angle)
    level = (points - (left_eye + right_eye) / 2) @ np.array([[cos, -sin], [sin, cos]]).T  # eyes on y = 0
    nose = level[30]
    sides = [(nose[0] - level[a, 0]) / max(level[16 - a, 0] - level[a, 0], 1e-6) for a in (0, 1, 2)]
    yaw = math.degrees(math.asin(float(np.clip(2.0 * np.mean(sides) - 1.0, -1.0, 1.0))))
    mouth = float(np.mean(level[[48, 51, 54, 57], 1]))
    nose_height = nose[1] / mouth if mouth > 1e-6 else FRONTAL_NOSE_HEIGHT
    pitch = math.degrees(math.atan((FRONTAL_NOSE_HEIGHT - nose_height) / NOSE_DEPTH))
    return float(yaw), float(pitch), float(math.degrees(angle))


def quality(grey: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, float]:
    """(Brightness, Sharpness), each 0..100, of the face box's pixels.

    Brightness: mean luminance x 100/255 (the test faces: 34-66). Sharpness: variance of the Laplacian of the
    face scaled to 100 px wide (so it measures the face's own detail, not its size), mapped by
    100 x (1 - exp(-v / 60)): the test photos' faces give v = 82-865 (sharpness 75-100); the same faces blurred
    by a 1.5 px Gaussian give v = 7-29 (11-38)."""
    import cv2

    height, width = grey.shape[:2]
    left, top, right, bottom = box
    x0, y0 = max(0, int(round(left))), max(0, int(round(top)))
    x1, y1 = min(width, int(round(right))), min(height, int(round(bottom)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0, 0.0
    crop = grey[y0:y1, x0:x1].astype(np.float32)
    brightness = float(crop.mean() * 100.0 / 255.0)
    scaled = cv2.resize(crop, (100, max(2, round(100 * crop.shape[0] / crop.shape[1]))),
                        interpolation=cv2.INTER_AREA)
    variance = float(cv2.Laplacian(scaled, cv2.CV_32F).var())
    return brightness, float(100.0 * (1.0 - math.exp(-variance / 60.0)))


GAZE_PITCH_BIAS = 10.0


def eye_direction(grey: np.ndarray, points: np.ndarray) -> dict:
    """Gaze {Yaw, Pitch, Confidence} from where the pupil sits in each eye outline (heuristic).

    The pupil is the centroid of the darkest third of the pixels inside the eye's six-point outline; its offset
    from the outline's centre, over half the eye's width (height), times 40 (25) degrees — about the eye's
    rotation when the iris reaches a corner (a lid) — gives Yaw (Pitch). The lashes pull the dark centroid up:
    faces looking into the camera (obama, astronaut, biden, obama3) read Pitch 7-12 before GAZE_PITCH_BIAS is
    taken off. Same signs as Pose (toward the image's
    right, up). The confidence grows with the eye's size in pixels and its openness, capped at 90: it is a
    heuristic."""
    import cv2

    yaws, pitches, sizes = [], [], []
    for first in (36, 42):
        outline = points[first:first + 6]
        x0, y0 = np.floor(outline.min(axis=0)).astype(int)
        x1, y1 = np.ceil(outline.max(axis=0)).astype(int) + 1
        if x0 < 0 or y0 < 0 or x1 > grey.shape[1] or y1 > grey.shape[0] or x1 - x0 < 4 or y1 - y0 < 2:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(outline - (x0, y0)).astype(np.int32)], 1)
        values = grey[y0:y1, x0:x1].astype(np.float32)
        inside = values[mask > 0]
        if inside.size < 6:
            continue
        dark = (values <= np.percentile(inside, 33)) & (mask > 0)
        ys, xs = np.nonzero(dark)
        pupil = np.array([xs.mean() + x0, ys.mean() + y0])
        centre = outline.mean(axis=0)
        eye_width = _distance(outline[0], outline[3])
        eye_height = max((_distance(outline[1], outline[5]) + _distance(outline[2], outline[4])) / 2, 1.0)
        yaws.append(float(np.clip((pupil[0] - centre[0]) / (eye_width / 2), -1, 1)) * 40.0)
        pitches.append(float(np.clip(-(pupil[1] - centre[1]) / (eye_height / 2), -1, 1)) * 25.0 - GAZE_PITCH_BIAS)
        sizes.append(eye_width)
    if not yaws:
        return {"Yaw": 0.0, "Pitch": 0.0, "Confidence": 0.0}
    openness = eyes_open_probability(points)
    confidence = 90.0 * min(1.0, float(np.mean(sizes)) / 20.0) * openness
    return {"Yaw": float(np.mean(yaws)), "Pitch": float(np.mean(pitches)), "Confidence": float(confidence)}


# IndexFaces' QualityFilter bars. AWS: "If you specify AUTO, Amazon Rekognition chooses the quality bar" — here
# AUTO is MEDIUM. NONE filters nothing. EXCEEDS_MAX_FACES is the caller's. The pose bars are lenient (60 degrees
# at MEDIUM) because the geometric Yaw overstates large turns (two group-photo faces turned ~40 degrees read
# 51-55). Botocore's Reason enum has no EXCESSIVE_IMAGE_BLUR: blur is LOW_SHARPNESS.
QUALITY_BARS = {
    #        confidence  min side px  max |yaw|,|pitch|  brightness  sharpness  landmarks outside
    "LOW": (80.0, 20.0, 75.0, 10.0, 10.0, 0.25),
    "MEDIUM": (90.0, 40.0, 60.0, 20.0, 20.0, 0.10),
    "HIGH": (97.0, 60.0, 45.0, 30.0, 40.0, 0.0),
}
QUALITY_BARS["AUTO"] = QUALITY_BARS["MEDIUM"]


def unindexed_reasons(face: AnalyzedFace, quality_filter: str) -> list[str]:
    """Why IndexFaces (or a search) would leave this face out under `quality_filter` ([] = kept).

    Confidence below 90 at MEDIUM is a HOG score under ~0.07 (just over dlib's threshold); a face cut off by the
    image border (eye/nose/mouth landmarks outside it) is LOW_FACE_QUALITY: its embedding is unreliable."""
    if quality_filter == "NONE":
        return []
    confidence, min_side, max_angle, brightness, sharpness, outside = QUALITY_BARS[quality_filter]
    reasons = []
    if max(abs(face.yaw), abs(face.pitch)) > max_angle:
        reasons.append("EXTREME_POSE")
    if face.brightness < brightness:
        reasons.append("LOW_BRIGHTNESS")
    if face.sharpness < sharpness:
        reasons.append("LOW_SHARPNESS")
    if face.confidence < confidence:
        reasons.append("LOW_CONFIDENCE")
    if min(face.box_pixels) < min_side:
        reasons.append("SMALL_BOUNDING_BOX")
    if face.outside_fraction > outside:
        reasons.append("LOW_FACE_QUALITY")
    return reasons


def embedding_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two dlib embeddings (dlib's metric; 0.6 is its usual same-person threshold)."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


# Similarity(d) = 100 / (1 + exp(SIMILARITY_SLOPE x (d - SIMILARITY_MIDPOINT))), a logistic curve through 80 at
# d = 0.52. Distances measured on the test photos (tests/photos.py; HOG detection, 68-point alignment, one jitter):
#   same person, all 10 pairs of obama, obama2, obama3, obama_partial, obama_partial2: 0.214-0.410;
#   obama vs biden (5 pairs): 0.760-0.853;
#   different people (the group's six, biden, astronaut, tom_hanks, zidane, the bus's two men): 0.629-0.962.
# 80 (Rekognition's default threshold) sits at 0.52, the midpoint between the largest same-person distance (0.41)
# and the smallest different-person one (0.63) — stricter than dlib's 0.6, which maps to ~55 here.
#   d:          0.0    0.2    0.3    0.4    0.45   0.52   0.6    0.7    0.8    0.9
#   Similarity: 99.99  99.8   99.6   96.2   91.6   80.0   54.5   21.0   5.6    1.3
SIMILARITY_SLOPE = 15.0
SIMILARITY_MIDPOINT = 0.52 + math.log(4.0) / SIMILARITY_SLOPE  # 0.612: where Similarity is 50


def similarity(distance: float) -> float:
    """Rekognition's Similarity percent for a dlib embedding distance (monotone decreasing; curve above)."""
    return float(100.0 / (1.0 + math.exp(SIMILARITY_SLOPE * (distance - SIMILARITY_MIDPOINT))))
