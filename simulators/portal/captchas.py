"""The login page's captchas (验证码): their text and, for the image kinds, the picture.

- ``arithmetic``: "3 + 4 = ?" as text;
- ``characters``: "请输入验证码：K7QP" as text;
- ``image``: 4–5 letters and digits drawn with PIL, each glyph slightly rotated, over noise lines
  and dots (the common kind on legacy portals);
- ``image_hard``: the PyPI ``captcha`` library's default ``ImageCaptcha`` (warped, overlapping glyphs,
  a noise curve): what a portal that wants to keep robots out shows.

Every captcha is used once: a login (right or wrong) pops it and the page shows a new one.
"""

from __future__ import annotations

import io
import random
import secrets
import string
from dataclasses import dataclass
from typing import Literal

from captcha.image import ImageCaptcha
from PIL import Image, ImageDraw, ImageFont

__all__ = ["ALPHABET", "IMAGE_KINDS", "Captcha", "CaptchaKind", "draw_image", "draw_image_hard", "new_captcha"]

CaptchaKind = Literal["arithmetic", "characters", "image", "image_hard"]
IMAGE_KINDS = ("image", "image_hard")
# Letters and digits a person cannot mistake for one another: no 0/O, 1/I/L.
ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL")


@dataclass(frozen=True)
class Captcha:
    """One captcha: what the page asks (text; empty for an image), the answer, the picture (PNG) if any."""

    question: str
    answer: str
    png: bytes | None = None


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.choice((4, 5))))


def draw_image(text: str, rng: random.Random) -> bytes:
    """The common image captcha: each glyph rotated by at most 15°, noise lines and dots. PNG bytes."""
    width, height = 30 + 24 * len(text), 44
    image = Image.new("RGB", (width, height), tuple(rng.randint(235, 255) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 5)):  # lines behind the text
        start = (rng.randint(0, width), rng.randint(0, height))
        end = (rng.randint(0, width), rng.randint(0, height))
        draw.line([start, end], fill=tuple(rng.randint(120, 200) for _ in range(3)), width=1)
    font = ImageFont.load_default(size=30)  # Pillow's own font: no system font needed
    x = 12
    for ch in text:
        glyph = Image.new("RGBA", (34, 40), (0, 0, 0, 0))
        colour = tuple(rng.randint(10, 110) for _ in range(3))
        ImageDraw.Draw(glyph).text((17, 20), ch, font=font, fill=(*colour, 255), anchor="mm")
        glyph = glyph.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BICUBIC, expand=False)
        image.paste(glyph, (x - 5, rng.randint(0, 4)), glyph)
        x += 24
    for _ in range(rng.randint(2, 3)):  # lines across the text
        start = (rng.randint(0, width // 3), rng.randint(0, height))
        end = (rng.randint(2 * width // 3, width), rng.randint(0, height))
        draw.line([start, end], fill=tuple(rng.randint(60, 160) for _ in range(3)), width=1)
    for _ in range(width * height // 25):  # dots
        draw.point((rng.randrange(width), rng.randrange(height)), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


_HARD = ImageCaptcha()  # the library's defaults: 160 × 60, DroidSansMono 42/50/56, warp, rotation ±30°


def draw_image_hard(text: str) -> bytes:
    """The ``captcha`` library's default ImageCaptcha of ``text`` (it draws with its own randomness). PNG bytes."""
    return _HARD.generate(text, format="png").getvalue()


def new_captcha(kind: CaptchaKind, rng: random.Random | None = None) -> Captcha:
    """A new captcha of ``kind``; ``rng`` makes the text (and the ``image`` picture) repeatable."""
    rng = rng or random.Random(secrets.randbits(64))
    if kind == "arithmetic":
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        op = rng.choice(("+", "-", "×"))
        if op == "-" and b > a:
            a, b = b, a
        answer = a + b if op == "+" else a - b if op == "-" else a * b
        return Captcha(f"{a} {op} {b} = ?", str(answer))
    text = _text(rng) if kind in IMAGE_KINDS else "".join(rng.choice(ALPHABET) for _ in range(4))
    if kind == "characters":
        return Captcha(f"请输入验证码：{text}", text)
    png = draw_image(text, rng) if kind == "image" else draw_image_hard(text)
    return Captcha("", text, png)
