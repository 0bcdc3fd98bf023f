"""Reading image captchas (验证码) offline: ddddocr's ONNX model (inside its wheel), read on CPU.

The model knows some 8,000 characters. A portal's captcha uses a few dozen (its alphabet, see
:class:`CaptchaRules`), so kaiban decodes the model's per-column probabilities itself: upper and lower
case of a letter are one class when the portal ignores case, every other character is dropped before
decoding (not after, as ddddocr 1.6.1's ``set_ranges`` does: that loses characters), and a CTC prefix
beam search yields the most likely answers of an allowed length, best first. The login page sends the
best one it has not yet sent and failed with (:meth:`CaptchaReading.best_untried`).

:func:`captcha_reader` loads the model once per process (about 0.2 s; no network: the model file is the
wheel's). Reading takes tens of milliseconds of CPU: callers in an event loop run it in a thread.
"""

from __future__ import annotations

import io
import string
import threading
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps

__all__ = [
    "COUNTERS",
    "DEFAULT_RULES",
    "CaptchaLog",
    "CaptchaReader",
    "CaptchaReading",
    "CaptchaRules",
    "captcha_reader",
]


@dataclass(frozen=True)
class CaptchaRules:
    """What a portal's captcha can be: its alphabet, the lengths it uses, whether case matters."""

    alphabet: str
    lengths: tuple[int, ...] = (4, 5)
    case_sensitive: bool = False
    # Preprocessing: the picture is read in grey, stretched sideways by each of these factors, and the
    # likeliest reading of any of them wins; a view read with probability ≥ ``CaptchaReader.CONFIDENT``
    # ends the reading. Warped, overlapping glyphs (the ``captcha`` library's ImageCaptcha) read far better
    # stretched (measured: first try 49 % as given, about 90 % with 1, 1.5 and 2); plain ones are read
    # surely as given and stop there. See BENCHMARKS.md.
    stretches: tuple[float, ...] = (1.0, 1.5, 2.0)

    def __post_init__(self) -> None:
        if not self.alphabet or len(set(self.alphabet)) != len(self.alphabet):
            raise ValueError("a captcha alphabet needs distinct characters")
        if not self.case_sensitive and self.alphabet != self.alphabet.upper():
            raise ValueError("a case-insensitive captcha alphabet is written in upper case")
        if not self.lengths or not self.stretches or min(self.stretches) <= 0:
            raise ValueError("a captcha needs lengths and positive stretch factors")


# The simulated portals (and many real ones): letters and digits without 0/O and 1/I/L, 4 or 5 of them.
DEFAULT_RULES = CaptchaRules(alphabet="".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL"))


@dataclass(frozen=True)
class CaptchaReading:
    """What the model read in one image: candidate answers with their probabilities, best first."""

    candidates: tuple[tuple[str, float], ...]
    ms: float  # time spent reading (preprocessing, inference, decoding)

    @property
    def best(self) -> str | None:
        return self.candidates[0][0] if self.candidates else None

    def best_untried(self, failed: Collection[str]) -> str | None:
        """The most likely answer not among ``failed`` (answers the portal refused before), or None."""
        return next((text for text, _ in self.candidates if text not in failed), None)


class CaptchaReader:
    """ddddocr's recognition model with kaiban's own decoding restricted to a portal's alphabet."""

    BEAM_WIDTH = 24
    CANDIDATES = 8
    CONFIDENT = 0.9  # a view read this surely ends the reading (measured: no loss in accuracy, a third the work)

    def __init__(self) -> None:
        import ddddocr  # 0.6 s to import: only where a captcha is read

        self._ocr = ddddocr.DdddOcr(show_ad=False, beta=True)
        self._charset: list[str] = list(self._ocr.ocr_engine.get_charset())
        self._columns: dict[CaptchaRules, list[np.ndarray]] = {}
        self._lock = threading.Lock()  # one inference at a time per process (2 cores: no gain from more)

    def _groups(self, rules: CaptchaRules) -> list[np.ndarray]:
        groups = self._columns.get(rules)
        if groups is None:
            wanted = {ch: i for i, ch in enumerate(rules.alphabet)}
            members: list[list[int]] = [[] for _ in rules.alphabet]
            for index, ch in enumerate(self._charset):
                key = ch if rules.case_sensitive else ch.upper()
                if index and len(ch) == 1 and key in wanted:
                    members[wanted[key]].append(index)
            groups = [np.array(m, dtype=np.int64) for m in members]
            self._columns[rules] = groups
        return groups

    def _probabilities(self, image: Image.Image) -> np.ndarray:
        """The model's per-column softmax, shape (columns, classes); column 0 of the classes is CTC's blank."""
        with self._lock:
            raw: Any = self._ocr.classification(image, probability=True)
        return np.asarray(raw["probabilities"], dtype=np.float32).reshape(-1, len(self._charset))

    def restricted(self, probabilities: np.ndarray, rules: CaptchaRules) -> np.ndarray:
        """Probabilities over (blank, *alphabet) per column, renormalised."""
        groups = self._groups(rules)
        out = np.empty((probabilities.shape[0], len(groups) + 1), dtype=np.float64)
        out[:, 0] = probabilities[:, 0]
        for k, cols in enumerate(groups, start=1):
            out[:, k] = probabilities[:, cols].sum(axis=1) if cols.size else 0.0
        out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        return out

    def read(self, png: bytes, rules: CaptchaRules = DEFAULT_RULES) -> CaptchaReading:
        """Read a captcha image (PNG/JPEG/GIF bytes): the candidate answers allowed by ``rules``, best first."""
        started = time.perf_counter()
        with Image.open(io.BytesIO(png)) as image:
            grey = ImageOps.autocontrast(image.convert("L"), cutoff=2)
        best: dict[str, float] = {}
        for factor in rules.stretches:
            view = (
                grey
                if factor == 1
                else grey.resize((round(grey.width * factor), grey.height), Image.Resampling.BICUBIC)
            )
            table = self.restricted(self._probabilities(view.convert("RGB")), rules)
            candidates = _beam_search(table, rules, self.BEAM_WIDTH, self.CANDIDATES)
            for text, p in candidates:
                best[text] = max(best.get(text, 0.0), p)
            if candidates and candidates[0][1] >= self.CONFIDENT:
                break  # sure enough: the other views would not change the answer (plain pictures stop here)
        ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)[: self.CANDIDATES]
        return CaptchaReading(tuple(ranked), (time.perf_counter() - started) * 1000)


def _beam_search(table: np.ndarray, rules: CaptchaRules, width: int, n: int) -> list[tuple[str, float]]:
    """CTC prefix beam search over ``table`` (columns × (blank, *alphabet)): the ``n`` likeliest texts
    of an allowed length with their probabilities, best first."""
    alphabet = rules.alphabet
    longest = max(rules.lengths)
    # prefix -> [p of the prefix with the column ending in blank, p ending in its last character]
    beams: dict[str, list[float]] = {"": [1.0, 0.0]}
    for row in table:
        blank = float(row[0])
        top = np.argsort(row[1:])[::-1][:8]  # the likeliest characters of a column suffice
        nxt: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for prefix, (pb, pnb) in beams.items():
            nxt[prefix][0] += (pb + pnb) * blank
            for k in top:
                p = float(row[k + 1])
                if p < 1e-4:
                    continue
                ch = alphabet[k]
                if prefix and prefix[-1] == ch:
                    nxt[prefix][1] += pnb * p  # the same character, continued
                    if len(prefix) < longest:
                        nxt[prefix + ch][1] += pb * p  # the character again, after a blank
                elif len(prefix) < longest:
                    nxt[prefix + ch][1] += (pb + pnb) * p
        ranked = sorted(nxt.items(), key=lambda kv: kv[1][0] + kv[1][1], reverse=True)[:width]
        beams = dict(ranked)
    allowed = [(prefix, pb + pnb) for prefix, (pb, pnb) in beams.items() if len(prefix) in rules.lengths]
    allowed.sort(key=lambda kv: kv[1], reverse=True)
    return allowed[:n]


# What this process's robots did with image captchas since it started (read by the bench, logged per task).
COUNTERS: dict[str, float] = {
    "logins": 0,  # logins that met an image captcha, solved or not
    "solved": 0,
    "unsolved": 0,  # logins that gave up (CaptchaUnsolved)
    "answers": 0,  # answers sent (or pictures given up on), over all those logins
    "reads": 0,
    "ocr_ms": 0.0,
}


@dataclass
class CaptchaLog:
    """One login's captcha: its kind (``"text"`` or ``"image"``), the answers the portal refused, how
    many attempts it took and the time spent reading pictures."""

    kind: str | None = None
    refused: set[str] = field(default_factory=set)
    attempts: int = 0
    reads: int = 0
    ocr_ms: float = 0.0

    def read(self, ms: float) -> None:
        self.reads += 1
        self.ocr_ms += ms

    def counted(self, *, solved: bool) -> None:
        """Add this login to :data:`COUNTERS`."""
        COUNTERS["logins"] += 1
        COUNTERS["solved" if solved else "unsolved"] += 1
        COUNTERS["answers"] += self.attempts
        COUNTERS["reads"] += self.reads
        COUNTERS["ocr_ms"] += self.ocr_ms


_reader: CaptchaReader | None = None
_reader_lock = threading.Lock()


def captcha_reader() -> CaptchaReader:
    """The process's one :class:`CaptchaReader` (loaded on first use)."""
    global _reader
    with _reader_lock:
        if _reader is None:
            _reader = CaptchaReader()
        return _reader
