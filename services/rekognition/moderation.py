"""DetectModerationLabels' `ModerationLabels` in AWS's content moderation taxonomy, version 7.

What is model output and what is mapping:
- Model output: NudeNet's body-part regions (class name + score per box; models/moderation.py) and open_nsfw's
  whole-image NSFW probability. Nothing else is measured.
- Mapping (this module, fixed tables): which v7 label each NudeNet class stands for, the v7 hierarchy above it, and
  how open_nsfw's score backs level 1 "Explicit". Confidence is the model's score x 100; a parent answers the
  highest confidence among its answered children (or its own evidence, for "Explicit").
- Not covered: v7 labels that no model here sees are never answered: in the three branches listed below,
  Explicit Sexual Activity, Sex Toys, Bare Back, Partially Exposed Buttocks, Partially Exposed Female Breast,
  Implied Nudity, Obstructed Intimate Parts (and its children), Kissing on the Lips and Male Swimwear or Underwear;
  and the other level-1 categories entirely (Violence, Visually Disturbing, Rude Gestures, Drugs & Tobacco, Alcohol,
  Gambling, Hate Symbols). True-positive behaviour has not been checked: only safe photos were available to test.

The taxonomy's names come from the Amazon Rekognition Developer Guide, "Using the image and video moderation APIs"
(docs.aws.amazon.com/rekognition/latest/dg/moderation-api.html, its label-category table), and AWS's
"Moderation V7 migration" guide (the v6.1 -> v7 L1/L2/L3 mapping tables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from models.moderation import Region
    from models.registry import ModelRegistry

MODERATION_MODEL_VERSION = "7.0"

# The v7 nudity-related branches: label -> (TaxonomyLevel, ParentName); "" is the parent of a level-1 label.
# Only these three level-1 categories are listed because only they can be produced from NudeNet's classes.
TAXONOMY: dict[str, tuple[int, str]] = {
    "Explicit": (1, ""),
    "Explicit Nudity": (2, "Explicit"),
    "Exposed Male Genitalia": (3, "Explicit Nudity"),
    "Exposed Female Genitalia": (3, "Explicit Nudity"),
    "Exposed Buttocks or Anus": (3, "Explicit Nudity"),
    "Exposed Female Nipple": (3, "Explicit Nudity"),
    "Explicit Sexual Activity": (2, "Explicit"),
    "Sex Toys": (2, "Explicit"),
    "Non-Explicit Nudity of Intimate parts and Kissing": (1, ""),
    "Non-Explicit Nudity": (2, "Non-Explicit Nudity of Intimate parts and Kissing"),
    "Bare Back": (3, "Non-Explicit Nudity"),
    "Exposed Male Nipple": (3, "Non-Explicit Nudity"),
    "Partially Exposed Buttocks": (3, "Non-Explicit Nudity"),
    "Partially Exposed Female Breast": (3, "Non-Explicit Nudity"),
    "Implied Nudity": (3, "Non-Explicit Nudity"),
    "Obstructed Intimate Parts": (2, "Non-Explicit Nudity of Intimate parts and Kissing"),
    "Obstructed Female Nipple": (3, "Obstructed Intimate Parts"),
    "Obstructed Male Genitalia": (3, "Obstructed Intimate Parts"),
    "Kissing on the Lips": (2, "Non-Explicit Nudity of Intimate parts and Kissing"),
    "Swimwear or Underwear": (1, ""),
    "Female Swimwear or Underwear": (2, "Swimwear or Underwear"),
    "Male Swimwear or Underwear": (2, "Swimwear or Underwear"),
}

# NudeNet class -> the deepest v7 label it stands for (its parents follow from TAXONOMY), or None where no v7
# label fits. Every NudeNet class has a row, so a new class cannot slip through unmapped.
NUDENET_TO_V7: dict[str, str | None] = {
    # Exposed genitalia, anus and buttocks are AWS's "Explicit Nudity" level-3 labels one for one.
    "MALE_GENITALIA_EXPOSED": "Exposed Male Genitalia",
    "FEMALE_GENITALIA_EXPOSED": "Exposed Female Genitalia",
    "ANUS_EXPOSED": "Exposed Buttocks or Anus",
    "BUTTOCKS_EXPOSED": "Exposed Buttocks or Anus",
    # NudeNet boxes a female breast as exposed when the nipple/areola shows, which is what AWS's label names.
    "FEMALE_BREAST_EXPOSED": "Exposed Female Nipple",
    # A bare male chest: v6.1's "Barechested Male" became v7's Non-Explicit Nudity / Exposed Male Nipple.
    "MALE_BREAST_EXPOSED": "Exposed Male Nipple",
    # A bare midriff is revealing clothing; v6.1's "Revealing Clothes" maps to v7's level 2 "Non-Explicit Nudity"
    # with no level 3.
    "BELLY_EXPOSED": "Non-Explicit Nudity",
    # Covered breast and covered genital area: NudeNet's boxes for bikini tops/bottoms, bras and briefs.
    "FEMALE_BREAST_COVERED": "Female Swimwear or Underwear",
    "FEMALE_GENITALIA_COVERED": "Female Swimwear or Underwear",
    # Covered buttocks/anus: swimwear or underwear from behind, but the class names no gender, so only the level-1
    # category is answered. (It also fires, weakly, on trousers: the least reliable row of this table.)
    "BUTTOCKS_COVERED": "Swimwear or Underwear",
    "ANUS_COVERED": "Swimwear or Underwear",
    # Faces, feet, armpits and a covered belly are no moderation concept in v7.
    "FACE_FEMALE": None,
    "FACE_MALE": None,
    "FEET_EXPOSED": None,
    "FEET_COVERED": None,
    "ARMPITS_EXPOSED": None,
    "ARMPITS_COVERED": None,
    "BELLY_COVERED": None,
}

# open_nsfw as evidence for level 1 "Explicit": it scores the whole image, so it names no body part and backs no
# level-2/3 label. Yahoo's guidance reads scores above 0.8 as NSFW with high probability; at or above that the
# score (x 100) is "Explicit"'s own confidence, answered even when no region fired (a body part NudeNet missed,
# or sexual activity, which it has no class for). Below it, the score is ignored: open_nsfw also scores swimwear
# and skin-heavy but safe photos in the middle range.
OPEN_NSFW_EXPLICIT = 0.8


def label_confidences(regions: list[Region], nsfw: float | None = None) -> dict[str, float]:
    """Every v7 label the evidence supports, with its confidence (0..100), parents included: the mapping alone."""
    confidences: dict[str, float] = {}
    for region in regions:
        name = NUDENET_TO_V7[region.label]
        confidence = 100.0 * region.score
        while name:  # the label, then its parents up to level 1
            confidences[name] = max(confidences.get(name, 0.0), confidence)
            name = TAXONOMY[name][1]
    if nsfw is not None and nsfw >= OPEN_NSFW_EXPLICIT:
        confidences["Explicit"] = max(confidences.get("Explicit", 0.0), 100.0 * nsfw)
    return confidences


def to_moderation_labels(confidences: dict[str, float], min_confidence: float = 50.0) -> list[dict]:
    """`ModerationLabels` entries at or above `min_confidence`, most confident first (a parent before its child on
    a tie)."""
    labels = [{"Confidence": confidence, "Name": name, "ParentName": TAXONOMY[name][1],
               "TaxonomyLevel": TAXONOMY[name][0]}
              for name, confidence in confidences.items() if confidence >= min_confidence]
    labels.sort(key=lambda label: (-label["Confidence"], label["TaxonomyLevel"], label["Name"]))
    return labels


def moderation_labels(pixels: np.ndarray, min_confidence: float = 50.0,
                      models: ModelRegistry | None = None) -> list[dict]:
    """DetectModerationLabels' `ModerationLabels` for an RGB uint8 image (H x W x 3).

    NudeNet drops candidates below 0.2, so a `min_confidence` under 20 answers nothing more than 20 does.
    """
    if models is None:
        from services.gateway.runtime import runtime

        models = runtime().models
    with models.use("nudenet") as detector:
        regions = detector.regions(pixels)
    with models.use("opennsfw") as classifier:
        nsfw = classifier.score(pixels)
    return to_moderation_labels(label_confidences(regions, nsfw), min_confidence)
