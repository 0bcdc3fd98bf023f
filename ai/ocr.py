"""Text lines of a material's image, read offline on CPU by RapidOCR (PP-OCR ONNX models inside its wheel).

One :class:`Reader` per worker process: the models load once (``Reader()``), and ``lines(data)`` reads a
PNG, JPEG or the first page of a PDF. No network: RapidOCR's ``vis()`` (which would download a font) is
never called, and only the models in the wheel are named. onnxruntime would take a thread per core unless
told: ``threads`` (``KAIBAN_OCR_THREADS``) sets it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

#: a page is read at most this large (longest side, pixels): A4 at ~100 dpi, enough for print; larger only costs
#: time (measured: 1.7 s a lease page at 1200, 3.1 s at 1800, same fields)
MAX_SIDE = 1200
PDF_SCALE = 150 / 72  # pypdfium2 renders at 72 dpi × scale


@dataclass(frozen=True, slots=True)
class Line:
    """One text box: its text, the recogniser's score (0–1), and its box (left, top, right, bottom)."""

    text: str
    score: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


class Unreadable(Exception):
    """The file is no image or PDF that can be read (broken, empty, encrypted)."""


def image_of(data: bytes) -> Image.Image:
    """The picture of a PNG or JPEG (EXIF rotation applied), or of a PDF's first page, in RGB."""
    if data.startswith(b"%PDF-"):
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(data)
            try:
                if len(pdf) == 0:
                    raise Unreadable("the PDF has no page")
                return pdf[0].render(scale=PDF_SCALE).to_pil().convert("RGB")
            finally:
                pdf.close()
        except pdfium.PdfiumError as exc:
            raise Unreadable(f"PDF cannot be read: {exc}") from exc
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:  # PIL raises several kinds for a broken file
        raise Unreadable(f"image cannot be read: {exc}") from exc
    return ImageOps.exif_transpose(img).convert("RGB")


def _bounded(img: Image.Image) -> Image.Image:
    side = max(img.size)
    if side <= MAX_SIDE:
        return img
    scale = MAX_SIDE / side
    return img.resize((int(img.width * scale), int(img.height * scale)), Image.Resampling.BILINEAR)


def _malloc_trim() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)``: the buffers of a page freed by onnxruntime go back to the system, so a
    worker's memory stays flat however the pages' sizes vary (a no-op where there is no glibc)."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return lambda: None
    return lambda: trim(0) and None


class Reader:
    """RapidOCR loaded once. ``lines`` may be called from several threads: calls are serialised."""

    def __init__(self, *, threads: int = 1, det_limit_side_len: int = 480) -> None:
        from rapidocr import RapidOCR

        self._engine = RapidOCR(
            params={
                "Global.log_level": "warning",
                "Global.use_cls": False,  # materials are upright; a few degrees of tilt the detector takes
                "Det.limit_side_len": det_limit_side_len,
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        self._lock = threading.Lock()
        self._trim = _malloc_trim()

    def lines(self, data: bytes) -> list[Line]:
        """The text lines of the material, top to bottom, left to right."""
        img = _bounded(image_of(data))
        array = np.asarray(img)[:, :, ::-1].copy()  # RGB → BGR, as OpenCV reads
        with self._lock:
            result: Any = self._engine(array)  # det + rec: a RapidOCROutput
            self._trim()
        if result.txts is None or result.boxes is None or result.scores is None:
            return []
        out = []
        for text, score, box in zip(result.txts, result.scores, result.boxes, strict=True):
            xs = [float(p[0]) for p in box]
            ys = [float(p[1]) for p in box]
            out.append(Line(str(text), float(score), min(xs), min(ys), max(xs), max(ys)))
        out.sort(key=lambda line: (line.middle, line.left))
        return out
