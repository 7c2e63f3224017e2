"""Rekognition's DetectLabels, in-process on the real EfficientNet-Lite0 ImageNet classifier: models/vision.py,
services/rekognition/taxonomy.py, services/rekognition/labels.py.

The engine is loaded once from the model catalog; each photo is classified once and the probabilities reused.
Expected labels are what the model really gives on these photos at the default MinConfidence (55), except where a
test says it lowers the threshold (the classifier is unsure on the rocket and the bus)."""

from __future__ import annotations

from functools import cache

import botocore.session
import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from models.registry import ModelRegistry
from models.vision import CLASS_NAMES, ImageLabelEngine
from services.gateway.config import Settings
from services.gateway.protocol.shapes import write_value
from services.rekognition.labels import (
    FACE_LABEL_CONFIDENCE,
    LABEL_MODEL_VERSION,
    SIMPLIFIED_COLORS,
    _css_palette,
    detect_labels,
    simplified_color,
)
from services.rekognition.taxonomy import CATEGORIES, CLASS_LABELS, FACE_LABELS, LABELS, labels_of_class
from tests.photos import photo

ALL_FEATURES = {"Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES"]}


@pytest.fixture(scope="module")
def engine():
    with ModelRegistry(Settings(_env_file=None, models_dir=None, model_paths={}, allow_downloads=False)) as registry:
        yield registry.get("imagenet-labels")


@cache
def rgb(name: str) -> np.ndarray:
    try:
        path = photo(name)
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def probabilities(engine):
    """name -> the engine's class probabilities, computed once per photo."""
    found: dict[str, np.ndarray] = {}

    def of(name: str) -> np.ndarray:
        if name not in found:
            found[name] = engine.classify(rgb(name))
        return found[name]

    return of


def labels(name: str, probabilities, request: dict | None = None, face_count: int = 0) -> dict[str, dict]:
    response = detect_labels(rgb(name), request or {}, face_count=face_count, probabilities=probabilities(name))
    return {label["Name"]: label for label in response["Labels"]}


# ------------------------------------------------------------------------------------------------ the engine


def test_engine_loads_from_the_catalog_and_classifies(engine):
    assert isinstance(engine, ImageLabelEngine)
    assert len(CLASS_NAMES) == 1000 and CLASS_NAMES[967] == "espresso" and CLASS_NAMES[281] == "tabby cat"
    probabilities = engine.classify(rgb("coffee"))
    assert probabilities.shape == (1000,) and abs(float(probabilities.sum()) - 1.0) < 1e-4
    assert CLASS_NAMES[int(probabilities.argmax())] == "espresso" and probabilities.max() > 0.8


def test_batch_equals_single_images(engine):
    batch = engine.classify_batch([rgb("coffee"), rgb("chelsea")])
    assert batch.shape == (2, 1000)
    assert np.allclose(batch[0], engine.classify(rgb("coffee")), atol=1e-5)
    assert np.allclose(batch[1], engine.classify(rgb("chelsea")), atol=1e-5)
    assert engine.classify_batch([]).shape == (0, 1000)


def test_features_are_the_classifiers_input(engine):
    features = engine.features(rgb("chelsea"))
    assert features.shape == (1280,) and features.dtype == np.float32
    # The classifier's linear layer on the embedding gives the same probabilities: it is the penultimate layer.
    with torch.inference_mode():
        logits = engine.model._fc(torch.from_numpy(features)[None])
    assert np.allclose(torch.softmax(logits, 1)[0].numpy(), engine.classify(rgb("chelsea")), atol=1e-5)
    assert float(np.linalg.norm(features - engine.features(rgb("coffee")))) > 1.0  # different photos differ


def test_grey_and_rgba_images_are_accepted(engine):
    grey = np.asarray(Image.open(photo("coffee")).convert("L"))
    rgba = np.asarray(Image.open(photo("coffee")).convert("RGBA"))
    assert engine.classify(grey).shape == (1000,)
    assert np.allclose(engine.classify(rgba), engine.classify(rgb("coffee")), atol=1e-5)


# ------------------------------------------------------------------------------------------------ labels per photo


def test_coffee_is_a_coffee_cup(probabilities):
    found = labels("coffee", probabilities)
    assert {"Espresso", "Coffee", "Beverage", "Coffee Cup", "Cup"} <= set(found)
    assert found["Espresso"]["Parents"] == [{"Name": "Beverage"}, {"Name": "Coffee"}]
    assert found["Beverage"]["Aliases"] == [{"Name": "Drink"}]
    assert found["Coffee Cup"]["Categories"] == [{"Name": "Kitchen and Dining"}]
    assert found["Espresso"]["Confidence"] > 90


def test_chelsea_is_a_cat(probabilities):
    found = labels("chelsea", probabilities)
    assert {"Cat", "Animal", "Mammal", "Pet"} <= set(found)
    cat = found["Cat"]
    assert cat["Parents"] == [{"Name": "Animal"}, {"Name": "Mammal"}, {"Name": "Pet"}]
    assert cat["Categories"] == [{"Name": "Animals and Pets"}] and cat["Instances"] == []
    assert cat["Confidence"] > 80 and "Dog" not in found


def test_motorcycle(probabilities):
    found = labels("motorcycle", probabilities)
    assert {"Motorcycle", "Vehicle", "Transportation"} <= set(found)
    assert found["Motorcycle"]["Parents"] == [{"Name": "Transportation"}, {"Name": "Vehicle"}]
    assert found["Motorcycle"]["Categories"] == [{"Name": "Vehicles and Automotive"}]


def test_bus(probabilities):
    # The classes it spreads over (minibus, police van, trolleybus) all are vehicles: Vehicle is sure, Bus is not.
    assert {"Vehicle", "Transportation"} <= set(labels("bus", probabilities))
    assert "Bus" in labels("bus", probabilities, {"MinConfidence": 35})


def test_rocket(probabilities):
    # missile + projectile: about 43% on this launch photo, so only under a lowered threshold.
    found = labels("rocket", probabilities, {"MinConfidence": 30})
    assert "Rocket" in found
    assert found["Rocket"]["Categories"] == [{"Name": "Vehicles and Automotive"}]


def test_darknet_animals(probabilities):
    dog = labels("dog", probabilities)
    assert {"Dog", "Canine", "Mammal", "Pet", "Animal"} <= set(dog)
    assert {"Name": "Dog"} in dog["Malamute"]["Parents"]
    assert {"Bird", "Animal"} <= set(labels("eagle", probabilities))
    assert {"Animal", "Mammal", "Wildlife"} <= set(labels("giraffe", probabilities))
    assert {"Animal", "Mammal"} <= set(labels("horses", probabilities))


def test_faces_add_person_face_and_head(probabilities):
    without = labels("zidane", probabilities)
    assert not {"Person", "Face", "Head"} & set(without)
    found = labels("zidane", probabilities, face_count=2)
    for name in FACE_LABELS:
        assert found[name]["Confidence"] >= FACE_LABEL_CONFIDENCE
    assert found["Person"]["Aliases"] == [{"Name": "Human"}]
    assert found["Face"]["Parents"] == [{"Name": "Head"}, {"Name": "Person"}]
    assert found["Person"]["Categories"] == [{"Name": "Person Description"}]


@pytest.mark.parametrize("name", ["coffee", "chelsea", "motorcycle", "bus", "zidane"])
def test_labels_are_sorted_and_parents_never_less_confident(name, probabilities):
    response = detect_labels(rgb(name), {"MinConfidence": 1}, face_count=1, probabilities=probabilities(name))
    confidences = [label["Confidence"] for label in response["Labels"]]
    assert confidences == sorted(confidences, reverse=True)
    found = {label["Name"]: label for label in response["Labels"]}
    for label in response["Labels"]:
        assert 0 < label["Confidence"] <= 100
        for parent in label["Parents"]:
            # every ancestor is itself returned, at least as confident
            assert found[parent["Name"]]["Confidence"] >= label["Confidence"] - 1e-6


# ------------------------------------------------------------------------------------------------ request members


def test_min_confidence_and_max_labels(probabilities):
    everything = detect_labels(rgb("coffee"), {"MinConfidence": 0.5}, probabilities=probabilities("coffee"))["Labels"]
    assert len(everything) > 5
    assert all(label["Confidence"] >= 0.5 for label in everything)
    default = detect_labels(rgb("coffee"), {}, probabilities=probabilities("coffee"))["Labels"]
    assert default and all(label["Confidence"] >= 55 for label in default) and len(default) < len(everything)
    high = detect_labels(rgb("coffee"), {"MinConfidence": 95.5}, probabilities=probabilities("coffee"))["Labels"]
    assert [label["Name"] for label in high] == ["Cup"]
    two = detect_labels(rgb("coffee"), {"MinConfidence": 0.5, "MaxLabels": 2},
                        probabilities=probabilities("coffee"))["Labels"]
    assert two == everything[:2]
    assert detect_labels(rgb("coffee"), {"MaxLabels": 0}, probabilities=probabilities("coffee"))["Labels"] == []


def test_label_filters(probabilities):
    def names(general_labels: dict, name: str = "coffee") -> set[str]:
        request = {"MinConfidence": 1, "Settings": {"GeneralLabels": general_labels}}
        return set(labels(name, probabilities, request))

    assert names({"LabelInclusionFilters": ["Cat"]}, "chelsea") == {"Cat"}
    assert names({"LabelInclusionFilters": ["cat", "Animal"]}, "chelsea") == {"Cat", "Animal"}  # any case
    assert "Animal" not in names({"LabelExclusionFilters": ["Animal"]}, "chelsea")
    food = names({"LabelCategoryInclusionFilters": ["Food and Beverage"]})
    assert {"Espresso", "Beverage"} <= food and "Cup" not in food
    assert all(LABELS[name].categories == ("Food and Beverage",) for name in food)
    no_kitchen = names({"LabelCategoryExclusionFilters": ["Kitchen and Dining"]})
    assert "Espresso" in no_kitchen and not {"Cup", "Coffee Cup"} & no_kitchen
    # Inclusion by name or by category; exclusion then removes.
    both = names({"LabelInclusionFilters": ["Cup"], "LabelCategoryInclusionFilters": ["Food and Beverage"],
                  "LabelExclusionFilters": ["Coffee"]})
    assert {"Cup", "Espresso"} <= both and "Coffee" not in both and "Coffee Cup" not in both


def test_features(probabilities):
    only_labels = detect_labels(rgb("coffee"), {}, probabilities=probabilities("coffee"))
    assert set(only_labels) == {"Labels"}
    # IMAGE_PROPERTIES alone needs no classifier at all.
    only_properties = detect_labels(rgb("coffee"), {"Features": ["IMAGE_PROPERTIES"]})
    assert only_properties["Labels"] == [] and "ImageProperties" in only_properties
    with pytest.raises(ValueError):
        detect_labels(rgb("coffee"), {})  # labels asked for, and neither probabilities nor an engine


def test_engine_argument_runs_the_classifier(engine, probabilities):
    response = detect_labels(rgb("chelsea"), {}, engine=engine)
    assert response["Labels"] == labels_list("chelsea", probabilities)


def labels_list(name: str, probabilities) -> list[dict]:
    return detect_labels(rgb(name), {}, probabilities=probabilities(name))["Labels"]


def test_response_fits_botocore_output_shape(probabilities):
    shape = botocore.session.get_session().get_service_model("rekognition").operation_model("DetectLabels")
    response = detect_labels(rgb("coffee"), ALL_FEATURES, face_count=1, probabilities=probabilities("coffee"))
    response["LabelModelVersion"] = LABEL_MODEL_VERSION
    wire = write_value(shape.output_shape, response)  # unknown members fail loudly
    assert wire["LabelModelVersion"] == "3.0" and wire["Labels"]


# ------------------------------------------------------------------------------------------------ image properties


def test_image_properties_quality_and_colors():
    properties = detect_labels(rgb("coffee"), {"Features": ["IMAGE_PROPERTIES"]})["ImageProperties"]
    assert set(properties["Quality"]) == {"Brightness", "Sharpness", "Contrast"}
    for part in ("Foreground", "Background"):
        # as AWS reports them: Contrast only for the whole image
        assert set(properties[part]["Quality"]) == {"Brightness", "Sharpness"}
        assert properties[part]["DominantColors"]
    for quality in (properties["Quality"], properties["Foreground"]["Quality"], properties["Background"]["Quality"]):
        assert all(0 <= value <= 100 for value in quality.values())
    names, _, _ = _css_palette()
    for colors in (properties["DominantColors"], properties["Foreground"]["DominantColors"],
                   properties["Background"]["DominantColors"]):
        assert 1 <= len(colors) <= 10
        assert abs(sum(color["PixelPercent"] for color in colors) - 100) < 0.01
        assert [c["PixelPercent"] for c in colors] == sorted((c["PixelPercent"] for c in colors), reverse=True)
        for color in colors:
            assert color["HexCode"] == f"#{color['Red']:02x}{color['Green']:02x}{color['Blue']:02x}"
            assert color["CSSColor"] in names and color["SimplifiedColor"] in SIMPLIFIED_COLORS
    # The espresso photo is a brown/red cup on dark wood.
    assert {"brown", "red", "orange"} & {color["SimplifiedColor"] for color in properties["DominantColors"][:3]}


def test_max_dominant_colors():
    def colors(count: int) -> list[dict]:
        request = {"Features": ["IMAGE_PROPERTIES"], "Settings": {"ImageProperties": {"MaxDominantColors": count}}}
        return detect_labels(rgb("chelsea"), request)["ImageProperties"]["DominantColors"]

    ten = colors(10)
    assert colors(3) == ten[:3]
    assert colors(0) == []
    assert 1 <= len(colors(20)) <= 20


def test_quality_follows_the_pixels():
    base = Image.open(photo("chelsea")).convert("RGB")
    sharp = detect_labels(np.asarray(base), {"Features": ["IMAGE_PROPERTIES"]})["ImageProperties"]["Quality"]
    blurred_pixels = np.asarray(base.filter(ImageFilter.GaussianBlur(3)))
    blurred = detect_labels(blurred_pixels, {"Features": ["IMAGE_PROPERTIES"]})["ImageProperties"]["Quality"]
    darker_pixels = (np.asarray(base).astype(np.float32) * 0.4).astype(np.uint8)
    darker = detect_labels(darker_pixels, {"Features": ["IMAGE_PROPERTIES"]})["ImageProperties"]["Quality"]
    assert blurred["Sharpness"] < sharp["Sharpness"] - 20
    assert darker["Brightness"] < sharp["Brightness"] * 0.5
    assert darker["Contrast"] < sharp["Contrast"]


def test_flat_image_has_one_color():
    red = np.zeros((60, 80, 3), dtype=np.uint8)
    red[...] = (255, 0, 0)
    properties = detect_labels(red, {"Features": ["IMAGE_PROPERTIES"]})["ImageProperties"]
    assert properties["DominantColors"] == [{"Red": 255, "Green": 0, "Blue": 0, "HexCode": "#ff0000",
                                             "CSSColor": "red", "SimplifiedColor": "red", "PixelPercent": 100.0}]
    assert properties["Quality"]["Contrast"] == 0 and properties["Quality"]["Sharpness"] == 0


def test_simplified_colors_of_aws_examples():
    # The first five (RGB, simplified colour) pairs are from a real DetectLabels response; the rest are primaries.
    for rgb_value, expected in [((47, 79, 79), "grey"), ((85, 107, 47), "green"), ((128, 128, 128), "grey"),
                                ((0, 0, 0), "black"), ((105, 105, 105), "grey"), ((255, 255, 255), "white"),
                                ((0, 0, 255), "blue"), ((255, 255, 0), "yellow"), ((128, 0, 128), "purple")]:
        assert simplified_color(*rgb_value) == expected, rgb_value
    assert len(SIMPLIFIED_COLORS) == 12


# ------------------------------------------------------------------------------------------------ the taxonomy


def test_every_class_maps_to_known_labels():
    assert len(CLASS_LABELS) == 1000
    for index, names in enumerate(CLASS_LABELS):
        assert names, index
        assert all(name in LABELS for name in names), index
        assert set(names) <= labels_of_class(index)


def test_taxonomy_is_consistent():
    for name, label in LABELS.items():
        assert name not in label.parents
        assert list(label.parents) == sorted(set(label.parents))
        for parent in label.parents:
            assert parent in LABELS, (name, parent)
            # Parents lists every ancestor: a parent's own ancestors are there too.
            assert set(LABELS[parent].parents) <= set(label.parents), (name, parent)
        assert len(label.categories) == 1 and label.categories[0] in CATEGORIES, name
        assert name not in label.aliases
    for name in FACE_LABELS:
        assert name in LABELS


def test_taxonomy_examples():
    assert LABELS["Cat"].parents == ("Animal", "Mammal", "Pet")
    assert LABELS["Dog"].parents == ("Animal", "Canine", "Mammal", "Pet")
    assert LABELS["Golden Retriever"].parents == ("Animal", "Canine", "Dog", "Mammal", "Pet")
    assert LABELS["Horse"].parents == ("Animal", "Mammal")
    assert LABELS["Car"].parents == ("Transportation", "Vehicle")
    assert LABELS["Mobile Phone"].parents == ("Electronics", "Phone")
    assert LABELS["Mobile Phone"].aliases == ("Cell Phone",)
    assert LABELS["Mobile Phone"].categories == ("Technology and Computing",)
    assert LABELS["Clothing"].aliases == ("Apparel",)
    assert {"Cat", "Animal"} <= labels_of_class(CLASS_NAMES.index("Egyptian Mau"))
    assert {"Espresso", "Coffee Cup", "Beverage"} <= labels_of_class(CLASS_NAMES.index("espresso"))
    assert {"Golden Retriever", "Dog"} <= labels_of_class(CLASS_NAMES.index("Golden Retriever"))
