"""DetectLabels on an ImageNet classifier: `Labels` from class probabilities through the label taxonomy, and
`ImageProperties` (quality, dominant colours, foreground and background) measured on the pixels.

Labels. A label's confidence is the summed probability of every ImageNet class that stands for it, directly or
through a descendant (taxonomy.labels_of_class), in percent: a parent is never less confident than its children,
and parents are returned as labels of their own, as AWS does. Faces found by the face detector add Person, Face
and Head. `Instances` (boxes) come from an object detector when one is switched on (services/rekognition/analysis.py).

Image properties. Brightness is the mean luma, Contrast the RMS contrast of luma as a share of its maximum,
Sharpness the variance of the Laplacian on a 512 px image on a log scale (`_sharpness`). Dominant colours are
k-means clusters (in Lab) of a downscaled image, each named by its nearest CSS3 colour (and reported with that
colour's RGB, as AWS does) and by one of 12 simplified colours; clusters that name the same CSS colour are merged.
Foreground is the union of a segmenting object detector's masks where one ran and found objects (yolo11n-seg,
models/detector.py), else a saliency heuristic (`foreground_mask`).
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping
from functools import cache
from typing import Any, Protocol

import numpy as np

from services.rekognition.taxonomy import CLASS_LABELS, FACE_LABELS, LABELS, labels_of_class

LABEL_MODEL_VERSION = "3.0"  # the DetectLabels response member LabelModelVersion (AWS's current label model)

GENERAL_LABELS = "GENERAL_LABELS"
IMAGE_PROPERTIES = "IMAGE_PROPERTIES"
DEFAULT_MIN_CONFIDENCE = 55.0  # botocore: "labels with a confidence values greater than or equal to 55 percent"
MAX_LABELS = 1000  # "The default and upper limit is 1000 labels"
DEFAULT_MAX_DOMINANT_COLORS = 10
FACE_LABEL_CONFIDENCE = 99.0  # a detected face is strong evidence of a person, face and head

COLOR_CLUSTERS = 10  # k-means clusters before merging by CSS colour (more when MaxDominantColors asks for more)
COLOR_SAMPLE_SIDE = 96  # longest side of the image the colours are clustered on
QUALITY_SIDE = 512  # longest side of the image sharpness is measured on (so it does not depend on resolution)
# Sharpness maps log10 of the Laplacian variance linearly from 1 (10: a heavily blurred image) to 0 and from 4.5
# (~31600: crisp, detailed) to 100. Sharp photos measure 3000-30000 at 512 px, the same blurred (σ = 2 px) 40-2000.
SHARPNESS_LOG10_RANGE = (1.0, 4.5)


class Classifier(Protocol):
    def classify(self, pixels: np.ndarray) -> np.ndarray: ...


def detect_labels(
    pixels: np.ndarray,
    request: Mapping[str, Any],
    face_count: int = 0,
    probabilities: np.ndarray | None = None,
    *,
    engine: Classifier | None = None,
    instances: Mapping[str, list[dict[str, Any]]] | None = None,
    foreground: np.ndarray | None = None,
) -> dict[str, Any]:
    """The `Labels` (and, when Features asks for it, `ImageProperties`) members of a DetectLabels response.

    `pixels`: the decoded image, uint8 RGB H×W×3. `request`: the DetectLabels input as parsed from the wire
    (MinConfidence, MaxLabels, Features, Settings; their ranges are checked by the wire layer). `face_count`:
    faces the face detector found. `probabilities`: the classifier's 1000 class probabilities when the caller
    already has them (batched); otherwise `engine.classify(pixels)` is run here. Without GENERAL_LABELS in
    Features, `Labels` is an empty list and no classifier is needed. `LabelModelVersion` is the caller's to add
    (LABEL_MODEL_VERSION). `instances`: label name -> `Instances` ({BoundingBox, Confidence}) an object detector
    found, when one is enabled; a label with instances is at least as confident as its best box. `foreground`:
    the union of a segmenting detector's object masks (bool H×W), used for ImageProperties' Foreground.
    """
    features = list(request.get("Features") or [GENERAL_LABELS])
    settings = request.get("Settings") or {}
    response: dict[str, Any] = {}
    if GENERAL_LABELS in features:
        if probabilities is None:
            if engine is None:
                raise ValueError("detect_labels needs the class probabilities or an engine to compute them")
            probabilities = engine.classify(pixels)
        response["Labels"] = general_labels(
            probabilities,
            face_count=face_count,
            instances=instances,
            min_confidence=request.get("MinConfidence"),
            max_labels=request.get("MaxLabels"),
            filters=settings.get("GeneralLabels") or {},
        )
    else:
        response["Labels"] = []
    if IMAGE_PROPERTIES in features:
        max_colors = (settings.get("ImageProperties") or {}).get("MaxDominantColors")
        response["ImageProperties"] = image_properties(
            pixels, DEFAULT_MAX_DOMINANT_COLORS if max_colors is None else int(max_colors), foreground=foreground)
    return response


# --- labels ---------------------------------------------------------------------------------------------------


@cache
def _label_matrix() -> tuple[tuple[str, ...], np.ndarray]:
    """(label names, labels × 1000 0/1 matrix): row L has a 1 for every class that stands for L."""
    names = tuple(LABELS)
    row = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(CLASS_LABELS)), dtype=np.float64)
    for index in range(len(CLASS_LABELS)):
        for name in labels_of_class(index):
            matrix[row[name], index] = 1.0
    return names, matrix


def label_confidences(probabilities: np.ndarray, face_count: int = 0,
                      instances: Mapping[str, list[dict[str, Any]]] | None = None) -> dict[str, float]:
    """Every label's confidence in percent (0..100), before any threshold or filter."""
    names, matrix = _label_matrix()
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if probabilities.shape != (matrix.shape[1],):
        raise ValueError(f"expected {matrix.shape[1]} class probabilities, got {probabilities.shape}")
    # Each class counts once per label, so a sum over a softmax stays <= 1; the clip only absorbs rounding.
    confidences = np.clip(matrix @ probabilities, 0.0, 1.0) * 100.0
    found = dict(zip(names, (float(c) for c in confidences)))
    if face_count > 0:
        for name in FACE_LABELS:
            for proven in (name, *LABELS[name].parents):
                found[proven] = max(found[proven], FACE_LABEL_CONFIDENCE)
    for name, boxes in (instances or {}).items():
        best = max((box["Confidence"] for box in boxes), default=0.0)
        for proven in (name, *LABELS[name].parents):
            found[proven] = max(found[proven], best)
    return found


def _names_set(values: Any) -> set[str]:
    # Filters match label and category names without regard to case.
    return {str(value).casefold() for value in values or ()}


def general_labels(
    probabilities: np.ndarray,
    *,
    face_count: int = 0,
    instances: Mapping[str, list[dict[str, Any]]] | None = None,
    min_confidence: float | None = None,
    max_labels: int | None = None,
    filters: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """DetectLabels' `Labels`: filtered (Settings.GeneralLabels), at least `min_confidence`, most confident first,
    at most `max_labels`.

    A label passes the inclusion filters when none are given, or when its name is in LabelInclusionFilters or its
    category in LabelCategoryInclusionFilters; the exclusion filters then remove it by name or category.
    """
    filters = filters or {}
    include = _names_set(filters.get("LabelInclusionFilters"))
    exclude = _names_set(filters.get("LabelExclusionFilters"))
    include_categories = _names_set(filters.get("LabelCategoryInclusionFilters"))
    exclude_categories = _names_set(filters.get("LabelCategoryExclusionFilters"))
    threshold = DEFAULT_MIN_CONFIDENCE if min_confidence is None else float(min_confidence)
    limit = MAX_LABELS if max_labels is None else min(int(max_labels), MAX_LABELS)

    kept = []
    for name, confidence in label_confidences(probabilities, face_count, instances).items():
        label = LABELS[name]
        categories = {category.casefold() for category in label.categories}
        if (include or include_categories) and not (
                name.casefold() in include or categories & include_categories):
            continue
        if name.casefold() in exclude or categories & exclude_categories:
            continue
        if confidence <= 0.0 or confidence < threshold:
            continue
        kept.append((confidence, label))
    # Most confident first; at equal confidence ancestors before their descendants (as AWS lists them).
    kept.sort(key=lambda item: (-item[0], len(item[1].parents), item[1].name))
    return [
        {
            "Name": label.name,
            "Confidence": confidence,
            "Instances": list((instances or {}).get(label.name, [])),
            "Parents": [{"Name": parent} for parent in label.parents],
            "Aliases": [{"Name": alias} for alias in label.aliases],
            "Categories": [{"Name": category} for category in label.categories],
        }
        for confidence, label in kept[:limit]
    ]


# --- image properties -----------------------------------------------------------------------------------------

# The CSS3 extended colour keywords (one name per colour; for grey, AWS's spellings "gray" and "dimgrey").
_CSS_TABLE = """
    aliceblue f0f8ff antiquewhite faebd7 aqua 00ffff aquamarine 7fffd4 azure f0ffff beige f5f5dc bisque ffe4c4
    black 000000 blanchedalmond ffebcd blue 0000ff blueviolet 8a2be2 brown a52a2a burlywood deb887
    cadetblue 5f9ea0 chartreuse 7fff00 chocolate d2691e coral ff7f50 cornflowerblue 6495ed cornsilk fff8dc
    crimson dc143c darkblue 00008b darkcyan 008b8b darkgoldenrod b8860b darkgreen 006400 darkgrey a9a9a9
    darkkhaki bdb76b darkmagenta 8b008b darkolivegreen 556b2f darkorange ff8c00 darkorchid 9932cc darkred 8b0000
    darksalmon e9967a darkseagreen 8fbc8f darkslateblue 483d8b darkslategrey 2f4f4f darkturquoise 00ced1
    darkviolet 9400d3 deeppink ff1493 deepskyblue 00bfff dimgrey 696969 dodgerblue 1e90ff firebrick b22222
    floralwhite fffaf0 forestgreen 228b22 fuchsia ff00ff gainsboro dcdcdc ghostwhite f8f8ff gold ffd700
    goldenrod daa520 gray 808080 green 008000 greenyellow adff2f honeydew f0fff0 hotpink ff69b4 indianred cd5c5c
    indigo 4b0082 ivory fffff0 khaki f0e68c lavender e6e6fa lavenderblush fff0f5 lawngreen 7cfc00
    lemonchiffon fffacd lightblue add8e6 lightcoral f08080 lightcyan e0ffff lightgoldenrodyellow fafad2
    lightgreen 90ee90 lightgrey d3d3d3 lightpink ffb6c1 lightsalmon ffa07a lightseagreen 20b2aa
    lightskyblue 87cefa lightslategrey 778899 lightsteelblue b0c4de lightyellow ffffe0 lime 00ff00
    limegreen 32cd32 linen faf0e6 maroon 800000 mediumaquamarine 66cdaa mediumblue 0000cd mediumorchid ba55d3
    mediumpurple 9370db mediumseagreen 3cb371 mediumslateblue 7b68ee mediumspringgreen 00fa9a
    mediumturquoise 48d1cc mediumvioletred c71585 midnightblue 191970 mintcream f5fffa mistyrose ffe4e1
    moccasin ffe4b5 navajowhite ffdead navy 000080 oldlace fdf5e6 olive 808000 olivedrab 6b8e23 orange ffa500
    orangered ff4500 orchid da70d6 palegoldenrod eee8aa palegreen 98fb98 paleturquoise afeeee
    palevioletred db7093 papayawhip ffefd5 peachpuff ffdab9 peru cd853f pink ffc0cb plum dda0dd
    powderblue b0e0e6 purple 800080 red ff0000 rosybrown bc8f8f royalblue 4169e1 saddlebrown 8b4513
    salmon fa8072 sandybrown f4a460 seagreen 2e8b57 seashell fff5ee sienna a0522d silver c0c0c0 skyblue 87ceeb
    slateblue 6a5acd slategrey 708090 snow fffafa springgreen 00ff7f steelblue 4682b4 tan d2b48c teal 008080
    thistle d8bfd8 tomato ff6347 turquoise 40e0d0 violet ee82ee wheat f5deb3 white ffffff whitesmoke f5f5f5
    yellow ffff00 yellowgreen 9acd32
"""
SIMPLIFIED_COLORS = ("black", "white", "grey", "red", "pink", "orange", "brown", "yellow", "green", "teal",
                     "blue", "purple")


def simplified_color(red: int, green: int, blue: int) -> str:
    """One of SIMPLIFIED_COLORS for an RGB colour, by hue, saturation and value."""
    hue, saturation, value = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    hue *= 360
    if value < 0.2:
        return "black"
    if saturation < 0.15:
        return "white" if value > 0.85 else "grey"
    if value < 0.35 and saturation < 0.5:  # dark, muted colours read as grey (AWS: darkslategrey -> grey)
        return "grey"
    if hue < 15 or hue >= 345:
        return "pink" if saturation < 0.5 and value > 0.7 else "red"
    if hue < 45:
        return "brown" if value < 0.65 or saturation < 0.45 else "orange"
    if hue < 70:
        return "green" if value < 0.55 else "yellow"
    if hue < 165:
        return "green"
    if hue < 195:
        return "teal"
    if hue < 255:
        return "blue"
    if hue < 315:  # CSS purple, violet, orchid and fuchsia sit at 300-302
        return "purple"
    return "pink"


@cache
def _css_palette() -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(names, RGB uint8 N×3, Lab float N×3) of the CSS colours."""
    tokens = _CSS_TABLE.split()
    names = tuple(tokens[0::2])
    rgb = np.array([[int(h[i:i + 2], 16) for i in (0, 2, 4)] for h in tokens[1::2]], dtype=np.uint8)
    return names, rgb, _to_lab(rgb)


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    # float32 input in 0..1 gives Lab in its natural ranges (L 0..100), so distances are CIE76 ΔE.
    return cv2.cvtColor(rgb.reshape(-1, 1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)


def _downscale(pixels: np.ndarray, side: int) -> np.ndarray:
    import cv2

    height, width = pixels.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def _kmeans(points: np.ndarray, k: int, iterations: int = 20) -> np.ndarray:
    """Cluster index of each point: Lloyd's k-means with a seeded k-means++ start (same input, same answer)."""
    rng = np.random.default_rng(0)
    k = min(k, len(points))
    centres = [points[rng.integers(len(points))]]
    distance = ((points - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        if distance.sum() <= 0:
            break  # fewer distinct colours than clusters
        centres.append(points[rng.choice(len(points), p=distance / distance.sum())])
        distance = np.minimum(distance, ((points - centres[-1]) ** 2).sum(1))
    centres = np.array(centres)
    for _ in range(iterations):
        assignment = ((points[:, None, :] - centres[None]) ** 2).sum(2).argmin(1)
        moved = np.array([points[assignment == i].mean(0) if (assignment == i).any() else centres[i]
                          for i in range(len(centres))])
        if np.allclose(moved, centres, atol=1e-3):
            break
        centres = moved
    return ((points[:, None, :] - centres[None]) ** 2).sum(2).argmin(1)


def dominant_colors(pixels: np.ndarray, max_colors: int, mask: np.ndarray | None = None) -> list[dict[str, Any]]:
    """The dominant colours of `pixels` (where `mask` is true), most frequent first, at most `max_colors`."""
    if max_colors <= 0:
        return []
    sample = _downscale(pixels, COLOR_SAMPLE_SIDE)
    chosen = np.ones(sample.shape[:2], dtype=bool) if mask is None else _resize_mask(mask, sample.shape[:2])
    points_rgb = sample[chosen].reshape(-1, 3)
    if len(points_rgb) == 0:
        return []
    points = _to_lab(points_rgb)
    assignment = _kmeans(points, max(COLOR_CLUSTERS, max_colors))
    names, palette_rgb, palette_lab = _css_palette()
    shares: dict[int, float] = {}
    for cluster in np.unique(assignment):
        members = points[assignment == cluster]
        nearest = int(((palette_lab - members.mean(0)) ** 2).sum(1).argmin())
        shares[nearest] = shares.get(nearest, 0.0) + 100.0 * len(members) / len(points)
    colors = []
    for index, percent in sorted(shares.items(), key=lambda item: -item[1])[:max_colors]:
        red, green, blue = (int(v) for v in palette_rgb[index])
        colors.append({
            "Red": red, "Green": green, "Blue": blue,
            "HexCode": f"#{red:02x}{green:02x}{blue:02x}",
            "CSSColor": names[index],
            "SimplifiedColor": simplified_color(red, green, blue),
            "PixelPercent": percent,
        })
    return colors


def _resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


def _luma(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma in 0..1."""
    return (pixels[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) / 255.0


def _sharpness(laplacian: np.ndarray) -> float:
    """Laplacian variance (luma in 0..255) → 0..100 on a log scale (SHARPNESS_LOG10_RANGE)."""
    if laplacian.size == 0:
        return 0.0
    low, high = SHARPNESS_LOG10_RANGE
    score = (np.log10(float(laplacian.var()) + 1.0) - low) / (high - low)
    return float(100.0 * min(1.0, max(0.0, score)))


def _laplacian(luma: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.Laplacian(luma * 255.0, cv2.CV_32F, ksize=3)


def quality(pixels: np.ndarray, mask: np.ndarray | None = None, *, contrast: bool = True) -> dict[str, float]:
    """Brightness, Sharpness and (for the whole image) Contrast, each 0..100, over `mask` when given."""
    image = _downscale(pixels, QUALITY_SIDE)
    luma = _luma(image)
    laplacian = _laplacian(luma)
    if mask is not None:
        chosen = _resize_mask(mask, luma.shape)
        luma, laplacian = luma[chosen], laplacian[chosen]
    if luma.size == 0:
        return {"Brightness": 0.0, "Sharpness": 0.0, **({"Contrast": 0.0} if contrast else {})}
    result = {"Brightness": float(100.0 * luma.mean()), "Sharpness": _sharpness(laplacian)}
    if contrast:
        # RMS contrast (standard deviation of luma) over its largest possible value, 0.5.
        result["Contrast"] = float(min(100.0, 100.0 * luma.std() / 0.5))
    return result


def foreground_mask(pixels: np.ndarray) -> np.ndarray:
    """A heuristic foreground (True) / background split, with no segmentation model: a pixel's saliency is its Lab
    distance from the mean colour of the image border, weighted by a centred Gaussian (subjects are usually
    central, backgrounds reach the edges) and smoothed; pixels above Otsu's threshold of it are foreground. The
    split is kept between 10% and 90% of the image so both parts always have pixels."""
    import cv2

    small = _downscale(pixels, 128)
    height, width = small.shape[:2]
    lab = _to_lab(small.reshape(-1, 3)).reshape(height, width, 3)
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    distance = np.sqrt(((lab - border.mean(0)) ** 2).sum(2))
    ys, xs = np.mgrid[0:height, 0:width]
    centre = np.exp(-(((ys - (height - 1) / 2) / (0.35 * height)) ** 2
                      + ((xs - (width - 1) / 2) / (0.35 * width)) ** 2) / 2)
    # Smoothed so that the split follows regions rather than single pixels of texture.
    saliency = cv2.GaussianBlur((distance * centre).astype(np.float32), (0, 0), max(1.0, 0.02 * max(height, width)))
    scaled = np.uint8(255 * saliency / saliency.max()) if saliency.max() > 0 else np.zeros_like(saliency, np.uint8)
    threshold, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    low, high = np.quantile(scaled, 0.1), np.quantile(scaled, 0.9)
    threshold = min(max(threshold, low), high)
    mask = scaled > threshold
    if not mask.any() or mask.all():  # a flat image: call the central half the foreground
        mask = centre > np.quantile(centre, 0.5)
    return _resize_mask(mask, pixels.shape[:2])


def image_properties(pixels: np.ndarray, max_dominant_colors: int = DEFAULT_MAX_DOMINANT_COLORS, *,
                     foreground: np.ndarray | None = None) -> dict[str, Any]:
    """DetectLabels' `ImageProperties`: the whole image's Quality (Brightness, Sharpness, Contrast) and
    DominantColors, and Foreground / Background with Quality (Brightness, Sharpness, as AWS reports them) and
    DominantColors, split by `foreground` (a detector's object masks) when it marks some pixels, else by
    `foreground_mask` (a heuristic)."""
    from models.vision import as_rgb

    pixels = as_rgb(pixels)
    usable = foreground is not None and foreground.shape == pixels.shape[:2] and foreground.any()
    mask = foreground.astype(bool) if usable else foreground_mask(pixels)
    return {
        "Quality": quality(pixels),
        "DominantColors": dominant_colors(pixels, max_dominant_colors),
        "Foreground": {
            "Quality": quality(pixels, mask, contrast=False),
            "DominantColors": dominant_colors(pixels, max_dominant_colors, mask),
        },
        "Background": {
            "Quality": quality(pixels, ~mask, contrast=False),
            "DominantColors": dominant_colors(pixels, max_dominant_colors, ~mask),
        },
    }
