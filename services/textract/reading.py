"""From document bytes to Pages: format checks and limits, the PDF text layer where a page has one, OCR (with
page rotation detected) where it does not.

Limits (AWS's where it states them): sync documents 10 MB, async 500 MB; images at most 10,000 px a side;
async documents at most 3,000 pages; sync PDFs and TIFFs one page. A page is rendered at 200 dpi for OCR and for
the features that look at pixels, never larger than 4,000 px a side, so each page's work is bounded.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np

from models.pdf import PdfError, PdfFile, PdfSegment, PdfWord
from services.gateway.runtime import runtime
from services.textract.errors import (
    INVALID_DOCUMENT,
    TOO_LARGE,
    UNSUPPORTED_FORMAT,
    BadDocument,
    DocumentTooLarge,
    UnsupportedDocument,
)
from services.textract.page import Line, Page, Rule, Word

log = logging.getLogger("aigate.textract")

MAX_SYNC_BYTES = 10 * 1024 * 1024
MAX_ASYNC_BYTES = 500 * 1024 * 1024
MAX_IMAGE_SIDE = 10_000
MAX_PAGES = 3_000
RENDER_DPI = 200
MAX_RENDER_SIDE = 4_000


def document_format(data: bytes) -> str:
    """PDF, PNG, JPEG or TIFF from the file's signature; anything else is UnsupportedDocumentException."""
    if data[:5] == b"%PDF-" or b"%PDF-" in data[:1024]:
        return "PDF"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    raise UnsupportedDocument(UNSUPPORTED_FORMAT)


class Document:
    """An opened document: its page count and each page read on demand (`page(i, need_image)`)."""

    def __init__(self, data: bytes, *, sync: bool) -> None:
        limit = MAX_SYNC_BYTES if sync else MAX_ASYNC_BYTES
        if not data:
            raise BadDocument(INVALID_DOCUMENT)
        if len(data) > limit:
            raise DocumentTooLarge(TOO_LARGE)
        self.format = document_format(data)
        self._pdf: PdfFile | None = None
        self._image = None
        if self.format == "PDF":
            try:
                self._pdf = PdfFile(data)
            except PdfError as error:
                # An encrypted PDF is a format Textract does not take; a damaged or empty one is a bad document.
                if error.reason == "encrypted":
                    raise UnsupportedDocument(UNSUPPORTED_FORMAT) from None
                raise BadDocument(INVALID_DOCUMENT) from None
            self.page_count = self._pdf.page_count
        else:
            self._image = _open_image(data)
            self.page_count = getattr(self._image, "n_frames", 1)
        if self.page_count > MAX_PAGES:
            raise UnsupportedDocument(UNSUPPORTED_FORMAT)
        if sync and self.page_count > 1:
            raise UnsupportedDocument(UNSUPPORTED_FORMAT)

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
        if self._image is not None:
            self._image.close()

    def __enter__(self) -> Document:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def page(self, index: int, need_image: bool = False) -> Page:
        """Page `index` (0-based) with its words and lines; `need_image` also keeps the rendered image."""
        if self._pdf is not None:
            return self._pdf_page(index, need_image)
        return self._image_page(index)

    # ------------------------------------------------------------------ PDF pages

    def _pdf_page(self, index: int, need_image: bool) -> Page:
        pdf = self._pdf
        assert pdf is not None
        try:
            width_pt, height_pt = pdf.size(index)
            words = pdf.words(index)
            image = pdf.render(index, RENDER_DPI, MAX_RENDER_SIDE) if (need_image or not words) else None
        except PdfError:
            raise BadDocument(INVALID_DOCUMENT) from None
        except Exception as error:  # PDFium and pdfminer raise many types on damaged content streams
            log.info("unreadable PDF page", extra={"fields": {"page": index + 1, "error": repr(error)[:200]}})
            raise BadDocument(INVALID_DOCUMENT) from None
        if not words:  # a scanned page: OCR its rendering
            page = ocr_page(index + 1, image)
            return page
        scale = RENDER_DPI / 72.0
        page = Page(number=index + 1, width=int(width_pt * scale), height=int(height_pt * scale), image=image,
                    digital=True)
        page.words = [_pdf_word(word, width_pt, height_pt) for word in words]
        page.lines = group_lines(page.words)
        page.rules = [_rule(segment, width_pt, height_pt) for segment in pdf.segments(index)]
        return page

    # ------------------------------------------------------------------ images

    def _image_page(self, index: int) -> Page:
        image = self._image
        try:
            image.seek(index)
            rgb = np.asarray(image.convert("RGB"))
        except Exception:  # truncated or corrupt pixel data
            raise BadDocument(INVALID_DOCUMENT) from None
        return ocr_page(index + 1, rgb)


def _open_image(data: bytes):
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except Exception:
        raise BadDocument(INVALID_DOCUMENT) from None
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise DocumentTooLarge(TOO_LARGE)  # checked before any pixel is decoded (no decompression bombs)
    if width < 1 or height < 1:
        raise BadDocument(INVALID_DOCUMENT)
    return image


def _pdf_word(word: PdfWord, width: float, height: float) -> Word:
    box = (_clamp(word.x0 / width), _clamp(word.top / height), _clamp(word.x1 / width), _clamp(word.bottom / height))
    return Word(text=word.text, box=box, confidence=99.9)


def _rule(segment: PdfSegment, width: float, height: float) -> Rule:
    return Rule(_clamp(segment.x0 / width), _clamp(segment.top / height), _clamp(segment.x1 / width),
                _clamp(segment.bottom / height))


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)


# ---------------------------------------------------------------------- OCR


def ocr_page(number: int, image: np.ndarray) -> Page:
    """A page read by OCR: its rotation is detected first and the text read upright; geometry is reported in
    the coordinates of the image as it came (as Textract does)."""
    height, width = image.shape[:2]
    models = runtime().models
    turns = 0
    if min(height, width) >= 32:
        turns = (models.get("page-orientation").rotation(image) // 90) % 4
    upright = np.ascontiguousarray(np.rot90(image, turns)) if turns else image
    up_height, up_width = upright.shape[:2]
    with models.use(runtime().settings.textract_ocr_engine) as engine:
        ocr_lines = engine.recognize(upright)
    page = Page(number=number, width=width, height=height, image=image, rotation=turns * 90)
    ink = _ink(upright)
    for ocr_line in ocr_lines:
        indexes = []
        for ocr_word in ocr_line.words:
            text = ocr_word.text.replace("\u2013", "-")  # Textract reads an en dash as a hyphen
            points = _tighten(ink, ocr_word.polygon)
            polygon = [_unrotate((x / up_width, y / up_height), turns) for x, y in points]
            xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
            box = (_clamp(min(xs)), _clamp(min(ys)), _clamp(max(xs)), _clamp(max(ys)))
            page.words.append(Word(text, box, ocr_word.confidence, polygon=polygon))
            indexes.append(len(page.words) - 1)
        if indexes:
            page.lines.append(Line(indexes, ocr_line.confidence))
    return page


def _ink(image: np.ndarray) -> np.ndarray:
    """Dark pixels (Otsu's threshold on the grey image), to fit word boxes to their letters."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return ink


def _tighten(ink: np.ndarray, polygon: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The word's box shrunk to the ink inside it: the recognizer's boxes are as tall as the (padded) line."""
    height, width = ink.shape
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    x0, x1 = max(int(min(xs)), 0), min(int(np.ceil(max(xs))), width)
    y0, y1 = max(int(min(ys)), 0), min(int(np.ceil(max(ys))), height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return polygon
    crop = ink[y0:y1, x0:x1]
    rows, columns = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
    if rows.size == 0 or columns.size == 0 or crop.mean() > 0.6:  # no ink, or inverted text: keep the box
        return polygon
    left, right = x0 + columns[0], x0 + columns[-1] + 1
    top, bottom = y0 + rows[0], y0 + rows[-1] + 1
    return [(float(left), float(top)), (float(right), float(top)), (float(right), float(bottom)),
            (float(left), float(bottom))]


def _unrotate(point: tuple[float, float], turns: int) -> tuple[float, float]:
    """A normalized point of the image turned `turns` x 90 degrees counter-clockwise, in the original image."""
    u, v = point
    if turns == 1:
        return (1 - v, u)
    if turns == 2:
        return (1 - u, 1 - v)
    if turns == 3:
        return (v, 1 - u)
    return (u, v)


# ---------------------------------------------------------------------- lines of a PDF text layer


@dataclass
class _Row:
    top: float
    bottom: float
    words: list[int]


def group_lines(words: list[Word]) -> list[Line]:
    """Words into lines, top to bottom: words that share a baseline band and sit closer than two line heights
    apart horizontally (a wider gap starts a new line, as between table columns or page columns)."""
    order = sorted(range(len(words)), key=lambda i: (words[i].box[1], words[i].box[0]))
    rows: list[_Row] = []
    for i in order:
        top, bottom = words[i].box[1], words[i].box[3]
        for row in rows:
            overlap = min(bottom, row.bottom) - max(top, row.top)
            if overlap > 0.5 * min(bottom - top, row.bottom - row.top):
                row.words.append(i)
                row.top, row.bottom = min(row.top, top), max(row.bottom, bottom)
                break
        else:
            rows.append(_Row(top, bottom, [i]))
    lines = []
    for row in sorted(rows, key=lambda r: r.top):
        row.words.sort(key=lambda i: words[i].box[0])
        current = [row.words[0]]
        for i in row.words[1:]:
            previous = words[current[-1]]
            height = max(previous.box[3] - previous.box[1], words[i].box[3] - words[i].box[1])
            if words[i].box[0] - previous.box[2] > 2.0 * height:
                lines.append(Line(current, 99.9))
                current = [i]
            else:
                current.append(i)
        lines.append(Line(current, 99.9))
    lines.sort(key=lambda line: (min(words[i].box[1] for i in line.words), min(words[i].box[0] for i in line.words)))
    return lines
