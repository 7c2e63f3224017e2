"""SIGNATURES: handwritten ink that OCR did not read as printed text. A measured heuristic — no signature
detector ships in any package here:

ink on the page image is binarized and everything under an OCR word box (grown a little) or a long ruling line
is erased; what remains is joined into blobs (dilation). A blob is a signature when it is wider than tall
(aspect >= 1.8), between 1 and 6 printed line heights tall, at least 6% of the page wide and its ink is sparse and
stroke-like (2-35% of its box). Logos and figures are usually dense or far larger; they are refused by those
limits, not recognized.
"""

from __future__ import annotations

import numpy as np

from services.textract.page import Box, Page


def find_signatures(page: Page) -> list[tuple[Box, float]]:
    if page.image is None:
        return []
    import cv2

    height, width = page.image.shape[:2]
    gray = cv2.cvtColor(page.image, cv2.COLOR_RGB2GRAY)
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    line_heights = sorted(word.box[3] - word.box[1] for word in page.words) or [0.015]
    line_height = line_heights[len(line_heights) // 2] * height
    pad = max(2, int(line_height * 0.25))
    for word in page.words:
        x0, y0, x1, y1 = (int(word.box[0] * width) - pad, int(word.box[1] * height) - pad,
                          int(word.box[2] * width) + pad, int(word.box[3] * height) + pad)
        ink[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = 0
    # Ruling lines (signature lines, table borders) are not ink of a signature.
    long = max(20, width // 12)
    rules = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (long, 1)))
    rules |= cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, long)))
    ink = cv2.subtract(ink, cv2.dilate(rules, np.ones((3, 3), np.uint8)))
    ink = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))  # specks and scan noise
    joined = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(line_height)), max(3, int(line_height * 0.6)))))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    found = []
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        if w < 0.06 * width or h < line_height or h > 6 * line_height or w < 1.8 * h:
            continue
        density = float(np.count_nonzero(ink[y:y + h, x:x + w])) / float(w * h)
        if not 0.02 <= density <= 0.35:
            continue
        found.append(((x / width, y / height, (x + w) / width, (y + h) / height), 60.0))
    return found
