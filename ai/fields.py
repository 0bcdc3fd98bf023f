"""The fields of each kind of material, found in its text lines (``ai.ocr.Line``), each with a confidence.

Labels lead: on an ID card the name is the text after 姓名 (its own box, or the rest of the label's box),
the number is the 18 characters after 公民身份号码; a licence's USCC follows 统一社会信用代码. Where a label
is missing, a pattern over all text is the fallback (at a lower confidence). Variants the recogniser
sometimes answers (traditional forms) are mapped; every value then goes through the form's rules
(``domain.materials.checked``): a number with a wrong check digit is low confidence, not a fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ai.ocr import Line
from domain.materials import ReadField, checked

#: traditional or variant forms PP-OCR sometimes answers, as the simplified the documents print
VARIANTS = str.maketrans({"漢": "汉", "號": "号", "區": "区", "縣": "县", "門": "门", "廣": "广", "東": "东"})
ID_NUMBER = re.compile(r"[1-9]\d{16}[\dX]")
USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
FALLBACK_FACTOR = 0.8  # found by pattern, not after its label


def _clean(text: str) -> str:
    return text.translate(VARIANTS).strip()


def _compact(text: str) -> str:
    """For codes: no spaces, O read for 0 is not guessed (the check digit decides), x as X."""
    return re.sub(r"\s", "", text).replace("x", "X")


def _same_row(a: Line, b: Line) -> bool:
    return abs(a.middle - b.middle) < 0.6 * max(a.height, b.height)


def _after_label(lines: Sequence[Line], label: str) -> tuple[str, float, Line] | None:
    """The text after ``label``: the rest of the label's own box, else the nearest box right of it in its row."""
    for line in lines:
        text = re.sub(r"\s", "", _clean(line.text))
        if not text.startswith(label):
            continue
        rest = text[len(label) :].lstrip(":：")
        if rest:
            return rest, line.score, line
        right = [o for o in lines if o is not line and _same_row(o, line) and o.left > line.left]
        if right:
            nearest = min(right, key=lambda o: o.left)
            return _clean(nearest.text), min(line.score, nearest.score), nearest
        return None
    return None


def _block_after(lines: Sequence[Line], label: str, stop: Sequence[str]) -> tuple[str, float] | None:
    """A value over several lines (an address): from the label's row down to the next label."""
    start = _after_label(lines, label)
    if start is None:
        return None
    text, score, first = start
    labels = [o for o in lines if any(re.sub(r"\s", "", _clean(o.text)).startswith(s) for s in stop)]
    bottom = min((o.top for o in labels if o.top > first.top), default=float("inf"))
    parts, scores = [text], [score]
    for line in lines:
        if line.top <= first.top + 0.5 * first.height or line.left < first.left - first.height:
            continue
        if line.middle >= bottom:  # the next label's row (its value may be a box of its own)
            break
        parts.append(re.sub(r"\s", "", _clean(line.text)))
        scores.append(line.score)
    return "".join(parts), min(scores)


def _code(lines: Sequence[Line], label: str, pattern: re.Pattern[str]) -> ReadField | None:
    found = _after_label(lines, label)
    if found is not None:
        match = pattern.search(_compact(found[0]))
        if match:
            return ReadField(value=match.group(0), confidence=round(found[1], 3))
    for line in lines:  # no label read: any code-shaped text
        match = pattern.search(_compact(_clean(line.text)))
        if match:
            return ReadField(value=match.group(0), confidence=round(line.score * FALLBACK_FACTOR, 3))
    return None


def _text_field(lines: Sequence[Line], label: str) -> ReadField | None:
    found = _after_label(lines, label)
    if found is None or not found[0]:
        return None
    return ReadField(value=found[0], confidence=round(found[1], 3))


def _put(fields: dict[str, ReadField], name: str, value: ReadField | None) -> None:
    if value is not None:
        fields[name] = value


def id_card(lines: Sequence[Line]) -> dict[str, ReadField]:
    fields: dict[str, ReadField] = {}
    _put(fields, "name", _text_field(lines, "姓名"))
    _put(fields, "id_number", _code(lines, "公民身份号码", ID_NUMBER))
    address = _block_after(lines, "住址", ("公民身份号码",))
    if address:
        fields["address"] = ReadField(value=address[0], confidence=round(address[1], 3))
    return fields


def business_licence(lines: Sequence[Line]) -> dict[str, ReadField]:
    fields: dict[str, ReadField] = {}
    _put(fields, "uscc", _code(lines, "统一社会信用代码", USCC))
    _put(fields, "name", _text_field(lines, "名称"))
    _put(fields, "legal_representative", _text_field(lines, "法定代表人"))
    return fields


def premises_proof(lines: Sequence[Line]) -> dict[str, ReadField]:
    for line in lines:
        text = re.sub(r"\s", "", _clean(line.text))
        match = re.search(r"(?:坐落于|坐落|地址[:：]|位于)(.+?)[，,。]?$", text)
        if match and len(match.group(1)) >= 4:
            return {"address": ReadField(value=match.group(1), confidence=round(line.score, 3))}
    return {}


def articles(lines: Sequence[Line]) -> dict[str, ReadField]:
    fields: dict[str, ReadField] = {}
    holders = 0
    for line in lines:
        text = re.sub(r"\s", "", _clean(line.text))
        score = round(line.score, 3)
        if m := re.search(r"公司名称[:：](.+?)[，,。]?$", text):
            fields["company_name"] = ReadField(value=m.group(1), confidence=score)
        elif m := re.search(r"注册资本为?(?:人民币)?(\d+(?:\.\d+)?)万元", text):
            fields["registered_capital"] = ReadField(value=m.group(1), confidence=score)
        elif m := re.search(r"股东(.+?)认缴出资(?:额)?(?:为)?(\d+(?:\.\d+)?)万元", text):
            fields[f"shareholders.{holders}.name"] = ReadField(value=m.group(1), confidence=score)
            fields[f"shareholders.{holders}.contribution"] = ReadField(value=m.group(2), confidence=score)
            holders += 1
    return fields


EXTRACTORS: dict[str, Callable[[Sequence[Line]], dict[str, ReadField]]] = {
    "id_card": id_card,
    "business_licence": business_licence,
    "premises_proof": premises_proof,
    "articles_of_association": articles,
}


def fields_of(kind: str, lines: Sequence[Line]) -> dict[str, ReadField]:
    """The fields of a material of ``kind`` in its text lines, checked with the form's rules."""
    extract = EXTRACTORS.get(kind)
    return checked(kind, extract(lines)) if extract else {}
