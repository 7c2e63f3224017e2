"""Rekognition's DetectModerationLabels and DetectText, in-process on the real engines (NudeNet, open_nsfw, RapidOCR):
services/rekognition/moderation.py, services/rekognition/text.py, models/moderation.py.

Only safe photos are available, so the moderation tests check that safe photos stay unflagged and that the
taxonomy mapping is consistent; the mapping from NudeNet classes to v7 labels is tested on synthetic regions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from models.moderation import NUDENET_LABELS, NudeNetEngine, OpenNsfwEngine, Region
from models.ocr import OcrLine, OcrWord
from models.registry import ModelRegistry
from services.gateway.config import Settings
from services.rekognition.moderation import (
    MODERATION_MODEL_VERSION,
    NUDENET_TO_V7,
    TAXONOMY,
    label_confidences,
    moderation_labels,
    to_moderation_labels,
)
from services.rekognition.text import MAX_WORDS, TEXT_MODEL_VERSION, detect_text, text_detections
from tests.photos import photo

SAFE_PHOTOS = ("coffee", "chelsea", "astronaut", "bus", "zidane", "group")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.fixture(scope="module")
def models():
    with ModelRegistry(Settings(_env_file=None, models_dir=None, model_paths={}, allow_downloads=False)) as registry:
        yield registry


def rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(photo(name)).convert("RGB"))


def level_one(name: str) -> str:
    while TAXONOMY[name][1]:
        name = TAXONOMY[name][1]
    return name


def font(size: int):
    return ImageFont.truetype(str(FONT), size) if FONT.exists() else ImageFont.load_default(size=size)


# ------------------------------------------------------------------------------------------------ moderation


def test_engines_load_from_the_catalog(models):
    assert isinstance(models.get("nudenet"), NudeNetEngine)
    assert isinstance(models.get("opennsfw"), OpenNsfwEngine)
    assert MODERATION_MODEL_VERSION == "7.0"


@pytest.mark.parametrize("name", SAFE_PHOTOS)
def test_safe_photos_get_no_explicit_label(models, name):
    labels = moderation_labels(rgb(name), models=models)
    assert not [label for label in labels if level_one(label["Name"]) == "Explicit"], labels
    assert models.get("opennsfw").score(rgb(name)) < 0.5


def test_nudenet_regions_are_boxes_inside_the_photo(models):
    pixels = rgb("group")  # six people: NudeNet finds their faces
    regions = models.get("nudenet").regions(pixels)
    height, width = pixels.shape[:2]
    assert regions and all(region.label in NUDENET_LABELS and 0 <= region.score <= 1 for region in regions)
    assert sum(region.label.startswith("FACE_") and region.score >= 0.5 for region in regions) >= 4
    for region in regions:
        left, top, w, h = region.box
        assert 0 <= left and 0 <= top and w > 0 and h > 0 and left + w <= width + 1e-6 and top + h <= height + 1e-6
    assert [region.score for region in regions] == sorted((region.score for region in regions), reverse=True)


def test_taxonomy_is_consistent():
    for name, (level, parent) in TAXONOMY.items():
        assert level in (1, 2, 3)
        if level == 1:
            assert parent == ""
        else:  # every ParentName is itself a label, one level up
            assert parent in TAXONOMY and TAXONOMY[parent][0] == level - 1, name


def test_every_nudenet_class_has_a_mapping_row():
    assert set(NUDENET_TO_V7) == set(NUDENET_LABELS)
    assert all(name is None or name in TAXONOMY for name in NUDENET_TO_V7.values())


def test_mapping_of_synthetic_regions_answers_the_chain_of_parents():
    """A mapping test: made-up Region objects, no model."""
    regions = [Region("FEMALE_BREAST_EXPOSED", 0.91, (0, 0, 10, 10)),
               Region("BUTTOCKS_EXPOSED", 0.62, (0, 0, 10, 10)),
               Region("FEMALE_BREAST_COVERED", 0.70, (0, 0, 10, 10)),
               Region("FACE_FEMALE", 0.99, (0, 0, 10, 10)),
               Region("MALE_BREAST_EXPOSED", 0.30, (0, 0, 10, 10))]
    labels = to_moderation_labels(label_confidences(regions, nsfw=0.1))
    answered = {label["Name"]: label for label in labels}
    assert set(answered) == {"Explicit", "Explicit Nudity", "Exposed Female Nipple", "Exposed Buttocks or Anus",
                             "Swimwear or Underwear", "Female Swimwear or Underwear"}
    assert answered["Exposed Female Nipple"] == {"Confidence": pytest.approx(91.0), "Name": "Exposed Female Nipple",
                                                 "ParentName": "Explicit Nudity", "TaxonomyLevel": 3}
    assert answered["Explicit Nudity"]["Confidence"] == pytest.approx(91.0)  # the best child's confidence
    assert answered["Explicit"]["TaxonomyLevel"] == 1 and answered["Explicit"]["ParentName"] == ""
    assert answered["Female Swimwear or Underwear"]["ParentName"] == "Swimwear or Underwear"
    # Most confident first, a parent before its child on a tie.
    assert [label["Name"] for label in labels][:3] == ["Explicit", "Explicit Nudity", "Exposed Female Nipple"]
    # The 30% bare chest is answered once the threshold is lowered.
    low = {label["Name"] for label in to_moderation_labels(label_confidences(regions), min_confidence=25)}
    assert {"Exposed Male Nipple", "Non-Explicit Nudity", "Non-Explicit Nudity of Intimate parts and Kissing"} <= low


def test_open_nsfw_backs_level_one_explicit_only_when_high():
    """A mapping test: the whole-image score alone answers level-1 "Explicit", nothing below it."""
    assert to_moderation_labels(label_confidences([], nsfw=0.93)) == [
        {"Confidence": pytest.approx(93.0), "Name": "Explicit", "ParentName": "", "TaxonomyLevel": 1}]
    assert to_moderation_labels(label_confidences([], nsfw=0.7)) == []
    # With a weaker region below it, the level-1 label keeps its own (higher) evidence.
    confidences = label_confidences([Region("ANUS_EXPOSED", 0.55, (0, 0, 1, 1))], nsfw=0.85)
    assert confidences["Explicit"] == pytest.approx(85.0)
    assert confidences["Explicit Nudity"] == pytest.approx(55.0)


# ------------------------------------------------------------------------------------------------ text

UPPER, LOWER = "ACME COFFEE ROASTERS", "Open daily 7am 5pm"


@pytest.fixture(scope="module")
def sign():
    """An 800 x 300 sign with two lines; the drawn boxes of each line and word, in ratios."""
    image = Image.new("RGB", (800, 300), "white")
    draw = ImageDraw.Draw(image)
    boxes = {}
    for text, origin, size in ((UPPER, (60, 50), 48), (LOWER, (60, 180), 36)):
        face = font(size)
        draw.text(origin, text, font=face, fill="black")
        boxes[text] = draw.textbbox(origin, text, font=face)
        x = origin[0]
        for word in text.split():
            left, top, right, bottom = draw.textbbox((x, origin[1]), word, font=face)
            boxes[word] = (left, top, right, bottom)
            x += draw.textlength(word + " ", font=face)
    ratios = {key: (l / 800, t / 300, r / 800, b / 300) for key, (l, t, r, b) in boxes.items()}
    return np.asarray(image), ratios


def near(box: dict, drawn: tuple[float, float, float, float], tolerance: float = 0.05) -> bool:
    """Edges within `tolerance` of the drawn ink box (OCR boxes are padded to the line height: ~10 px here)."""
    left, top, right, bottom = drawn
    return (abs(box["Left"] - left) < tolerance and abs(box["Top"] - top) < tolerance
            and abs(box["Left"] + box["Width"] - right) < tolerance
            and abs(box["Top"] + box["Height"] - bottom) < tolerance)


def test_lines_then_words_with_ids_parents_and_boxes(models, sign):
    pixels, drawn = sign
    detections = detect_text(pixels, None, models=models)
    assert TEXT_MODEL_VERSION == "3.0"
    lines = [d for d in detections if d["Type"] == "LINE"]
    words = [d for d in detections if d["Type"] == "WORD"]
    assert detections == lines + words  # every LINE before the first WORD
    assert [line["DetectedText"] for line in lines] == [UPPER, LOWER]
    assert [line["Id"] for line in lines] == [0, 1] and all("ParentId" not in line for line in lines)
    assert [word["DetectedText"] for word in words] == UPPER.split() + LOWER.split()
    assert [word["Id"] for word in words] == list(range(2, 9))
    assert [word["ParentId"] for word in words] == [0, 0, 0, 1, 1, 1, 1]
    for detection in detections:
        assert 0 <= detection["Confidence"] <= 100
        assert near(detection["Geometry"]["BoundingBox"], drawn[detection["DetectedText"]]), detection
        polygon = detection["Geometry"]["Polygon"]
        assert len(polygon) == 4 and all(0 <= point["X"] <= 1 and 0 <= point["Y"] <= 1 for point in polygon)


def test_region_of_interest_keeps_only_the_upper_line(models, sign):
    pixels, _ = sign
    upper_half = {"BoundingBox": {"Left": 0.0, "Top": 0.0, "Width": 1.0, "Height": 0.45}}
    detections = detect_text(pixels, {"RegionsOfInterest": [upper_half]}, models=models)
    assert [(d["Type"], d["DetectedText"]) for d in detections] == [
        ("LINE", UPPER), ("WORD", "ACME"), ("WORD", "COFFEE"), ("WORD", "ROASTERS")]
    assert [d["Id"] for d in detections] == [0, 1, 2, 3]
    # A triangle over the top-left corner: ACME wholly and COFFEE mostly inside it, ROASTERS and the lower line
    # mostly outside (under a sixth of "Open" is in it).
    triangle = {"Polygon": [{"X": 0.0, "Y": 0.0}, {"X": 0.75, "Y": 0.0}, {"X": 0.0, "Y": 0.75}]}
    kept = [d["DetectedText"] for d in detect_text(pixels, {"RegionsOfInterest": [triangle]}, models=models)]
    assert kept == ["ACME COFFEE", "ACME", "COFFEE"]  # the line is what is left of it


def test_word_filter_on_the_real_answer(models, sign):
    pixels, _ = sign
    everything = detect_text(pixels, None, models=models)
    kept = detect_text(pixels, {"WordFilter": {"MinConfidence": 50}}, models=models)
    assert kept == everything  # clean print: every word is far above 50
    # Each word is kept or dropped by its own box height, as answered unfiltered.
    heights = {d["DetectedText"]: d["Geometry"]["BoundingBox"]["Height"] for d in everything if d["Type"] == "WORD"}
    cut = (max(heights.values()) + min(heights.values())) / 2
    tall = detect_text(pixels, {"WordFilter": {"MinBoundingBoxHeight": cut}}, models=models)
    assert {d["DetectedText"] for d in tall if d["Type"] == "WORD"} == {w for w, h in heights.items() if h >= cut}
    wide = detect_text(pixels, {"WordFilter": {"MinBoundingBoxWidth": 0.2}}, models=models)
    assert [d["DetectedText"] for d in wide if d["Type"] == "WORD"] == ["COFFEE", "ROASTERS"]
    assert [d["DetectedText"] for d in wide if d["Type"] == "LINE"] == ["COFFEE ROASTERS"]


def test_min_confidence_filter_on_synthetic_ocr_lines():
    """A filter test on made-up OCR output (clean renders all read at ~100%): a 60% word is dropped by the
    MinConfidence asked for and by the documented default of 80, and its line is rebuilt from what is left."""
    def word(text, confidence, left):
        return OcrWord(text, confidence, [(left, 10), (left + 40, 10), (left + 40, 30), (left, 30)])

    line = OcrLine("good faint", 80.0, [(0, 10), (100, 10), (100, 30), (0, 30)],
                   [word("good", 99.0, 0), word("faint", 60.0, 60)])
    for filters in ({"WordFilter": {"MinConfidence": 70}}, {"WordFilter": {}}):
        detections = text_detections([line], 200, 100, filters)
        assert [(d["Type"], d["DetectedText"], d["Id"]) for d in detections] == [("LINE", "good", 0),
                                                                                 ("WORD", "good", 1)]
        assert detections[0]["Confidence"] == 99.0
        assert detections[0]["Geometry"]["BoundingBox"] == pytest.approx({"Width": 0.2, "Height": 0.2, "Left": 0.0,
                                                                          "Top": 0.1})
    assert [d["DetectedText"] for d in text_detections([line], 200, 100, None)] == ["good faint", "good", "faint"]


def test_at_most_100_words(models):
    image = Image.new("RGB", (1200, 900), "white")
    draw = ImageDraw.Draw(image)
    vocabulary = ["river", "stone", "maple", "cloud", "amber", "field", "north", "light", "grain", "house"]
    for row in range(15):  # 150 words
        draw.text((30, 20 + row * 58), " ".join(vocabulary[(row + i) % 10] for i in range(10)), font=font(30),
                  fill="black")
    detections = detect_text(np.asarray(image), None, models=models)
    words = [d for d in detections if d["Type"] == "WORD"]
    lines = [d for d in detections if d["Type"] == "LINE"]
    assert len(words) == MAX_WORDS
    assert {word["ParentId"] for word in words} == {line["Id"] for line in lines}  # no line without a word
    assert [d["Id"] for d in detections] == list(range(len(detections)))
