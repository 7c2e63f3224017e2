"""The face engines (models/faces.py) and their Rekognition shapes (services/rekognition/faces.py), in-process on
real photos (tests/photos.py). Engines load once per module; each photo is analysed once (ALL attributes and
embeddings) and the answers shared by the tests."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from services.rekognition import faces
from tests.photos import photo

OBAMAS = ("obama", "obama2", "obama3", "obama_partial", "obama_partial2")


@pytest.fixture(scope="module")
def registry():
    from models.registry import ModelRegistry
    from services.gateway.config import Settings

    with ModelRegistry(Settings()) as models:
        yield models


def pixels_of(name: str) -> np.ndarray:
    return np.asarray(Image.open(photo(name)).convert("RGB"))


@pytest.fixture(scope="module")
def analyzed(registry):
    cache: dict[str, list[faces.AnalyzedFace]] = {}

    def get(name: str) -> list[faces.AnalyzedFace]:
        if name not in cache:
            cache[name] = faces.analyze_faces(pixels_of(name), ["ALL"], with_embeddings=True, models=registry)
        return cache[name]

    return get


@pytest.mark.parametrize("name, count", [("obama", 1), ("group", 6), ("astronaut", 1), ("chelsea", 0),
                                         ("mask_blue", 0)])
def test_face_counts(analyzed, name, count):
    # astronaut: the mission patch on her suit is a weak HOG detection that the CNN check removes.
    assert len(analyzed(name)) == count


def test_faces_are_ordered_largest_first_and_capped(analyzed, registry):
    areas = [face.area for face in analyzed("group")]
    assert areas == sorted(areas, reverse=True)
    two = faces.analyze_faces(pixels_of("group"), ["DEFAULT"], max_faces=2, models=registry)
    assert [face.area for face in two] == pytest.approx(areas[:2])


def test_same_person_is_closer_than_different_people(analyzed):
    embeddings = {name: analyzed(name)[0].embedding for name in OBAMAS}
    biden = analyzed("biden")[0].embedding
    assert all(e.shape == (128,) and e.dtype == np.float32 for e in embeddings.values())
    same = [faces.embedding_distance(embeddings[a], embeddings[b]) for a, b in itertools.combinations(OBAMAS, 2)]
    different = [faces.embedding_distance(embeddings[a], biden) for a in OBAMAS]
    assert max(same) < min(different)
    assert all(faces.similarity(d) >= 80 for d in same), same
    assert all(faces.similarity(d) < 80 for d in different), different
    # And the six people of the group photo are all below 80 against each other.
    group = [face.embedding for face in analyzed("group")]
    assert all(faces.similarity(faces.embedding_distance(a, b)) < 80 for a, b in itertools.combinations(group, 2))


def test_similarity_curve():
    assert faces.similarity(0.52) == pytest.approx(80.0)
    values = [faces.similarity(d / 20) for d in range(0, 31)]
    assert values == sorted(values, reverse=True) and values[0] > 99.9 and values[-1] < 0.1


def test_landmarks_lie_in_their_boxes(analyzed):
    for name in ("obama", "group", "astronaut"):
        for face in analyzed(name):
            box = face.detail["BoundingBox"]
            marks = {mark["Type"]: (mark["X"], mark["Y"]) for mark in face.detail["Landmarks"]}
            assert set(marks) == set(faces.LANDMARKS) and len(marks) == 30
            # Eyes, brows, nose and mouth inside the box; the jaw outline of a turned face may sit outside it, as
            # Rekognition's upperJawline points do: 20% of the box's size of slack for those.
            for kind, (x, y) in marks.items():
                slack = 0.2 if "Jawline" in kind or kind == "chinBottom" else 0.0
                fx, fy = (x - box["Left"]) / box["Width"], (y - box["Top"]) / box["Height"]
                assert -slack - 1e-9 <= fx <= 1 + slack + 1e-9 and -slack - 1e-9 <= fy <= 1 + slack + 1e-9, kind
            # "left" is the image's left; the eyes are above the nose, the nose above the mouth and chin.
            assert marks["eyeLeft"][0] < marks["nose"][0] < marks["eyeRight"][0]
            assert marks["mouthLeft"][0] < marks["mouthRight"][0]
            assert marks["eyeLeft"][1] < marks["nose"][1] < marks["mouthDown"][1] < marks["chinBottom"][1]


def test_gender_and_age(analyzed):
    (astronaut,) = analyzed("astronaut")
    assert astronaut.detail["Gender"]["Value"] == "Female"
    low, high = astronaut.detail["AgeRange"]["Low"], astronaut.detail["AgeRange"]["High"]
    assert 15 <= low < high <= 60
    # The group photo, left to right: three women and three men, as seated/standing.
    by_position = sorted(analyzed("group"), key=lambda face: face.detail["BoundingBox"]["Left"])
    expected = ["Female", "Female", "Male", "Male", "Male", "Female"]
    right = sum(face.detail["Gender"]["Value"] == want for face, want in zip(by_position, expected))
    assert right >= 5  # measured: 5 of 6 (the man standing on the right reads Female 88)


def test_smiles_and_emotions(analyzed):
    for name in ("astronaut", "obama"):
        detail = analyzed(name)[0].detail
        emotions = detail["Emotions"]
        assert [e["Type"] for e in emotions][0] == "HAPPY"
        assert sorted(e["Type"] for e in emotions) == sorted(["HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED",
                                                              "SURPRISED", "CALM", "FEAR"])
        confidences = [e["Confidence"] for e in emotions]
        assert confidences == sorted(confidences, reverse=True) and sum(confidences) == pytest.approx(100, abs=0.5)
        assert detail["Smile"]["Value"] is True and detail["Smile"]["Confidence"] > 80
        assert detail["EyesOpen"]["Value"] is True
    # Biden's closed mouth and straight face.
    biden = analyzed("biden")[0].detail
    assert biden["Smile"]["Value"] is False and biden["MouthOpen"]["Value"] is False
    assert analyzed("obama2")[0].detail["MouthOpen"]["Value"] is True  # speaking


def test_attribute_selection(analyzed, registry):
    default = ["BoundingBox", "Landmarks", "Pose", "Quality", "Confidence"]
    assert list(analyzed("astronaut")[0].detail) == list(faces.DETAIL_ORDER)  # ALL, in botocore's order
    image = pixels_of("tom_hanks")
    for attributes in ([], ["DEFAULT"]):
        (face,) = faces.analyze_faces(image, attributes, models=registry)
        assert list(face.detail) == default and face.embedding is None
    (face,) = faces.analyze_faces(image, ["GENDER", "SUNGLASSES"], models=registry)
    assert list(face.detail) == ["BoundingBox", "Sunglasses", "Gender", *default[1:]]
    assert face.detail["Sunglasses"] == {"Value": False, "Confidence": faces.UNSUPPORTED_CONFIDENCE}
    with pytest.raises(ValueError):
        faces.analyze_faces(image, ["NOSE_RING"], models=registry)


def test_pose_follows_a_mirrored_face(analyzed, registry):
    turned = analyzed("obama2")[0]
    assert turned.yaw < -15  # turned toward the image's left
    (mirrored,) = faces.analyze_faces(np.ascontiguousarray(pixels_of("obama2")[:, ::-1]), ["DEFAULT"],
                                      models=registry)
    assert mirrored.yaw == pytest.approx(-turned.yaw, abs=8)
    assert mirrored.roll == pytest.approx(-turned.roll, abs=3)
    frontal = analyzed("obama")[0]
    assert abs(frontal.yaw) < 10 and abs(frontal.roll) < 5 and abs(frontal.pitch) < 15


def test_quality_and_unindexed_reasons(analyzed, registry):
    import cv2

    sharp = analyzed("obama")[0]
    assert 30 < sharp.brightness < 80 and sharp.sharpness > 90
    assert faces.unindexed_reasons(sharp, "AUTO") == [] and faces.unindexed_reasons(sharp, "HIGH") == []
    blurred_pixels = cv2.GaussianBlur(pixels_of("obama"), (0, 0), 6)
    (blurred,) = faces.analyze_faces(blurred_pixels, ["DEFAULT"], models=registry)
    assert blurred.sharpness < 40 < sharp.sharpness
    assert "LOW_SHARPNESS" in faces.unindexed_reasons(blurred, "HIGH")
    dark = replace(sharp, brightness=5.0, confidence=70.0, box_pixels=(15.0, 18.0), yaw=80.0)
    assert faces.unindexed_reasons(dark, "LOW") == ["EXTREME_POSE", "LOW_BRIGHTNESS", "LOW_CONFIDENCE",
                                                    "SMALL_BOUNDING_BOX"]
    assert faces.unindexed_reasons(dark, "NONE") == []
    # The bars tighten from LOW to HIGH; AUTO is MEDIUM.
    middling = replace(sharp, sharpness=30.0)
    assert [bool(faces.unindexed_reasons(middling, bar)) for bar in ("LOW", "MEDIUM", "AUTO", "HIGH")] == [
        False, False, False, True]


def test_engine_calls_are_thread_safe(registry):
    engine = registry.get(faces.FACE_ENGINE)
    image = pixels_of("tom_hanks")
    (reference,) = engine.detect(image)
    results = []

    def work():
        (face,) = engine.detect(image)
        results.append(engine.embed(image, face))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = engine.embed(image, reference)
    assert len(results) == 4 and all(np.array_equal(result, expected) for result in results)
