"""Realistic test materials, drawn: resident ID card fronts, business licences, premises proofs, articles.

For the tests and the bench (``python -m bench.materials``): each image is drawn with a CJK font
(WenQuanYi Micro Hei; HanaMin for characters outside the BMP) from the people and companies of a
generated application (``domain.samples``), and optionally degraded like a phone photo or a scan:
rotation, blur, noise, uneven light, JPEG. The same seed gives the same picture. Nothing here is a real
document: no emblem, no photo, no security pattern.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from domain.identifiers import region_table

FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf",
)
RARE_FONT_PATHS = ("/usr/share/fonts/truetype/hanazono/HanaMinB.ttf",)


@lru_cache(maxsize=32)
def font(size: int, rare: bool = False) -> ImageFont.FreeTypeFont:
    for path in (*RARE_FONT_PATHS, *FONT_PATHS) if rare else FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    raise FileNotFoundError(f"no CJK font: install fonts-wqy-microhei (looked for {FONT_PATHS})")


def _needs_rare(text: str) -> bool:
    return any(ord(c) > 0xFFFF for c in text)


@dataclass(frozen=True)
class Drawn:
    """One generated material: its bytes, type, and the truth it shows (the fields a reader should find)."""

    kind: str
    data: bytes
    content_type: str
    truth: dict[str, str]
    degraded: bool


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, fill: Any) -> None:
    draw.text(xy, text, font=font(size, _needs_rare(text)), fill=fill)


def _county_name(id_number: str) -> str:
    entries = region_table().get(id_number[:6])
    return entries[-1][2] if entries else "小店区"


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


# --------------------------------------------------------------------------- the kinds


def id_card(person: dict[str, Any], rng: random.Random) -> tuple[Image.Image, dict[str, str]]:
    """The front of a resident ID card (856 × 540, twice the card's millimetres × 10)."""
    w, h = 856, 540
    img = Image.new("RGB", (w, h), (236, 240, 236))
    draw = ImageDraw.Draw(img)
    for y in range(h):  # a faint pattern, like the card's guilloche
        if y % 6 == 0:
            draw.line([(0, y), (w, y)], fill=(226, 234, 230))
    draw.rounded_rectangle([4, 4, w - 5, h - 5], radius=28, outline=(200, 210, 205), width=3)
    label, ink = (60, 110, 160), (20, 20, 20)
    id_number = person["id_number"]
    birth = id_number[6:14]
    sex = "男" if int(id_number[16]) % 2 else "女"
    address = f"山西省{_county_name(id_number)}{rng.choice(['迎泽', '府西', '南内环', '长风', '平阳', '胜利'])}街{rng.randint(1, 300)}号"
    address += f"{rng.randint(1, 30)}号楼{rng.randint(1, 6)}单元{rng.randint(101, 2802)}号"
    _text(draw, (60, 60), "姓名", 30, label)
    _text(draw, (160, 56), person["name"], 36, ink)
    _text(draw, (60, 130), "性别", 30, label)
    _text(draw, (160, 128), sex, 32, ink)
    _text(draw, (260, 130), "民族", 30, label)
    _text(draw, (360, 128), "汉", 32, ink)
    _text(draw, (60, 200), "出生", 30, label)
    _text(draw, (160, 198), f"{int(birth[:4])}年{int(birth[4:6])}月{int(birth[6:])}日", 32, ink)
    _text(draw, (60, 270), "住址", 30, label)
    for i, line in enumerate(_wrap(address, 11)):
        _text(draw, (160, 268 + 44 * i), line, 32, ink)
    _text(draw, (60, 450), "公民身份号码", 30, label)
    _text(draw, (270, 446), id_number, 38, ink)
    draw.rectangle([600, 70, 800, 330], fill=(214, 222, 226), outline=(190, 200, 205))  # where the photo is
    return img, {"name": person["name"], "id_number": id_number, "address": address}


def business_licence(holder: dict[str, Any], legal_rep: str, rng: random.Random) -> tuple[Image.Image, dict[str, str]]:
    """A business licence (营业执照) of a corporate shareholder, landscape."""
    w, h = 1400, 990
    img = Image.new("RGB", (w, h), (252, 250, 244))
    draw = ImageDraw.Draw(img)
    draw.rectangle([20, 20, w - 21, h - 21], outline=(190, 60, 50), width=10)
    draw.rectangle([44, 44, w - 45, h - 45], outline=(190, 60, 50), width=2)
    _text(draw, (560, 90), "营业执照", 72, (170, 40, 30))
    ink, label = (25, 25, 25), (60, 60, 60)
    _text(draw, (110, 230), "统一社会信用代码", 30, label)
    _text(draw, (390, 226), holder["uscc"], 36, ink)
    capital = rng.choice(["100", "500", "1000", "3000", "5000"])
    rows = [
        ("名称", holder["name"]),
        ("类型", "有限责任公司（自然人投资或控股）"),
        ("法定代表人", legal_rep),
        ("注册资本", f"人民币{capital}万元"),
        ("成立日期", f"{rng.randint(2005, 2022)}年{rng.randint(1, 12):02d}月{rng.randint(1, 28):02d}日"),
        ("住所", f"山西省太原市{rng.choice(['小店区', '迎泽区', '杏花岭区', '万柏林区'])}{rng.randint(1, 200)}号"),
    ]
    for i, (k, v) in enumerate(rows):
        y = 320 + 80 * i
        _text(draw, (110, y), k, 30, label)
        _text(draw, (330, y - 2), v, 32, ink)
    _text(draw, (900, 860), "登记机关", 28, label)
    draw.ellipse([1080, 790, 1260, 970], outline=(200, 50, 40), width=5)
    return img, {"name": holder["name"], "uscc": holder["uscc"], "legal_representative": legal_rep}


def premises_proof(company: dict[str, Any], lessor: str, rng: random.Random) -> tuple[Image.Image, dict[str, str]]:
    """The first page of a lease (房屋租赁合同), with the premises' address."""
    w, h = 1240, 1754
    img = Image.new("RGB", (w, h), (253, 253, 250))
    draw = ImageDraw.Draw(img)
    ink = (20, 20, 20)
    _text(draw, (440, 120), "房屋租赁合同", 56, ink)
    address = company["address"]["detail"]
    lines = [
        f"出租方（甲方）：{lessor}",
        f"承租方（乙方）：{company['name']}",
        "第一条 房屋坐落",
        f"房屋坐落于{address}，",
        f"建筑面积{rng.randint(40, 400)}平方米，用途为办公。",
        f"第二条 租赁期限自{rng.randint(2025, 2026)}年1月1日起共{rng.randint(2, 5)}年。",
        f"第三条 月租金人民币{rng.randint(20, 200) * 100}元。",
    ]
    for i, line in enumerate(lines):
        _text(draw, (110, 280 + 90 * i), line, 34, ink)
    return img, {"address": address}


def articles(application: dict[str, Any]) -> tuple[Image.Image, dict[str, str]]:
    """The page of the articles of association that states capital and contributions."""
    w, h = 1240, 1754
    img = Image.new("RGB", (w, h), (253, 253, 250))
    draw = ImageDraw.Draw(img)
    ink = (20, 20, 20)
    company = application["company"]
    capital = format(Decimal(company["registered_capital_wan_yuan"]).normalize(), "f")
    _text(draw, (300, 120), f"{company['name']}章程", 48, ink)
    _text(draw, (110, 280), f"第一条 公司名称：{company['name']}", 34, ink)
    _text(draw, (110, 370), f"第二条 公司注册资本为人民币{capital}万元。", 34, ink)
    _text(draw, (110, 460), "第三条 股东的姓名或名称、认缴出资额：", 34, ink)
    truth = {"company_name": company["name"], "registered_capital": capital}
    for i, holder in enumerate(application["shareholders"]):
        amount = format(Decimal(holder["contribution_wan_yuan"]).normalize(), "f")
        _text(draw, (150, 550 + 80 * i), f"股东{holder['name']}认缴出资{amount}万元", 34, ink)
        truth[f"shareholders.{i}.name"] = holder["name"]
        truth[f"shareholders.{i}.contribution"] = amount
    return img, truth


# --------------------------------------------------------------------------- degradation


def degrade(img: Image.Image, rng: random.Random) -> Image.Image:
    """Like a phone photo or a scan: rotated a little, uneven light, blurred, noisy (JPEG comes at encoding)."""
    angle = rng.uniform(-4.0, 4.0)
    out = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(120, 118, 112))
    w, h = out.size
    light = Image.linear_gradient("L").resize((w, h)).rotate(rng.choice([0, 90, 180, 270]))
    light = light.point(lambda v: 190 + v * 65 // 255)  # 75–100 % brightness across the page
    out = Image.composite(out, Image.new("RGB", out.size, (0, 0, 0)), light)
    out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.1)))
    noise = Image.effect_noise((w, h), rng.uniform(8, 18)).convert("RGB")
    out = Image.blend(out, noise, 0.06)
    scale = rng.uniform(0.8, 1.0)
    return out.resize((int(w * scale), int(h * scale)), Image.Resampling.BILINEAR)


def encode(img: Image.Image, *, jpeg_quality: int | None) -> tuple[bytes, str]:
    out = io.BytesIO()
    if jpeg_quality is None:
        img.save(out, format="PNG", optimize=False)
        return out.getvalue(), "image/png"
    img.save(out, format="JPEG", quality=jpeg_quality)
    return out.getvalue(), "image/jpeg"


def _finish(kind: str, drawn: tuple[Image.Image, dict[str, str]], rng: random.Random, degraded: bool) -> Drawn:
    img, truth = drawn
    if degraded:
        data, content_type = encode(degrade(img, rng), jpeg_quality=rng.randint(45, 75))
    else:
        data, content_type = encode(img, jpeg_quality=None)
    return Drawn(kind=kind, data=data, content_type=content_type, truth=truth, degraded=degraded)


# --------------------------------------------------------------------------- what tests and the bench call


def draw_id_card(person: dict[str, Any], seed: int, *, degraded: bool = False) -> Drawn:
    rng = random.Random(f"id_card:{seed}")
    return _finish("id_card", id_card(person, rng), rng, degraded)


def draw_business_licence(holder: dict[str, Any], legal_rep: str, seed: int, *, degraded: bool = False) -> Drawn:
    rng = random.Random(f"licence:{seed}")
    return _finish("business_licence", business_licence(holder, legal_rep, rng), rng, degraded)


def draw_premises_proof(application: dict[str, Any], seed: int, *, degraded: bool = False) -> Drawn:
    rng = random.Random(f"premises:{seed}")
    lessor = application["supervisor"]["name"]
    return _finish("premises_proof", premises_proof(application["company"], lessor, rng), rng, degraded)


def draw_articles(application: dict[str, Any], seed: int, *, degraded: bool = False) -> Drawn:
    rng = random.Random(f"articles:{seed}")
    return _finish("articles_of_association", articles(application), rng, degraded)


def material_set(application: dict[str, Any], seed: int, *, degraded: bool = False) -> list[tuple[str, Drawn]]:
    """The materials of ``application`` (whom each concerns, the drawing): the legal representative's ID
    card, each natural shareholder's, each corporate shareholder's licence, the premises proof, the articles."""
    out: list[tuple[str, Drawn]] = [
        ("legal_representative", draw_id_card(application["legal_representative"], seed, degraded=degraded))
    ]
    for i, holder in enumerate(application["shareholders"]):
        if holder["kind"] == "natural_person":
            if holder["id_number"] != application["legal_representative"]["id_number"]:
                out.append((f"shareholders.{i}", draw_id_card(holder, seed * 100 + i, degraded=degraded)))
        else:
            rep = application["supervisor"]["name"]
            out.append((f"shareholders.{i}", draw_business_licence(holder, rep, seed * 100 + i, degraded=degraded)))
    out.append(("company", draw_premises_proof(application, seed, degraded=degraded)))
    out.append(("company", draw_articles(application, seed, degraded=degraded)))
    return out
