"""PDF pages: the text layer and ruling lines from pdfplumber (MIT), rendering from pypdfium2 (Apache-2.0 /
BSD-3-Clause, PDFium). Everything here is in PDF points with the origin at the page's top left."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


class PdfError(Exception):
    """A PDF that can't be read: `reason` is "corrupt", "encrypted" or "empty"."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class PdfWord:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float


@dataclass
class PdfSegment:
    x0: float
    top: float
    x1: float
    bottom: float


class PdfFile:
    """An open PDF. `close()` frees both readers."""

    def __init__(self, data: bytes) -> None:
        import pypdfium2

        try:
            self._pdfium = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as error:
            text = str(error).lower()
            raise PdfError("encrypted" if "password" in text else "corrupt", str(error)) from None
        self.page_count = len(self._pdfium)
        if self.page_count == 0:
            self._pdfium.close()
            raise PdfError("empty")
        self._data = data
        self._plumber = None

    def close(self) -> None:
        self._pdfium.close()
        if self._plumber is not None:
            self._plumber.close()

    def __enter__(self) -> PdfFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def size(self, index: int) -> tuple[float, float]:
        """The page's (width, height) in points, as displayed (rotation applied)."""
        page = self._pdfium[index]
        width, height = page.get_size()
        return float(width), float(height)

    def _plumbed(self, index: int):
        import pdfplumber

        if self._plumber is None:
            try:
                self._plumber = pdfplumber.open(io.BytesIO(self._data))
            except Exception as error:  # pdfminer raises many types on damaged files
                raise PdfError("corrupt", f"{type(error).__name__}: {error}") from None
        return self._plumber.pages[index]

    def words(self, index: int) -> list[PdfWord]:
        """The words of the page's text layer (empty for a scanned page)."""
        try:
            page = self._plumbed(index)
            words = page.extract_words(keep_blank_chars=False, use_text_flow=False, extra_attrs=["upright"])
        except PdfError:
            raise
        except Exception as error:
            raise PdfError("corrupt", f"{type(error).__name__}: {error}") from None
        return [PdfWord(w["text"], float(w["x0"]), float(w["top"]), float(w["x1"]), float(w["bottom"]))
                for w in words if w["text"].strip() and w.get("upright", True)]

    def segments(self, index: int) -> list[PdfSegment]:
        """Ruling lines: the page's line objects and the edges of its rectangles (thin rectangles are lines)."""
        page = self._plumbed(index)
        try:
            edges = page.edges
        except Exception:
            return []
        return [PdfSegment(float(e["x0"]), float(e["top"]), float(e["x1"]), float(e["bottom"])) for e in edges]

    def render(self, index: int, dpi: float, max_side: int) -> np.ndarray:
        """The page as an RGB image at `dpi`, scaled down so that neither side exceeds `max_side` pixels."""
        page = self._pdfium[index]
        width, height = page.get_size()
        scale = min(dpi / 72.0, max_side / max(width, height, 1.0))
        bitmap = page.render(scale=scale)
        image = bitmap.to_numpy()
        if image.shape[2] == 4:
            image = image[:, :, :3]
        # pypdfium2 renders BGR(A) by default
        return np.ascontiguousarray(image[:, :, ::-1])
