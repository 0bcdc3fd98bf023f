"""Identifiers of the one form: resident ID numbers (GB 11643), USCCs (GB 32100), mobiles, division codes.

Each ``check_*`` returns the normalised value or raises a ``PydanticCustomError`` with its Chinese message.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

from stdnum.cn import ric as _ric
from stdnum.cn import uscc as _uscc

from domain.calendar import SHANGHAI
from domain.form_messages import form_error


def today_in_shanghai() -> date:
    return datetime.now(SHANGHAI).date()


# --------------------------------------------------------------------------- regions


@lru_cache(maxsize=1)
def region_table() -> dict[str, tuple[tuple[int | None, int | None, str], ...]]:
    """Every 6-digit administrative division code python-stdnum knows, for ANY year.

    ``stdnum/cn/loc.dat`` stores, per code, one or more names, each optionally with the
    years it was in use (``[1997-]小店区``). ``stdnum.cn.ric.validate`` rejects a code
    not in use in the birth year; people re-registered after a district change carry
    such codes, so the form only asks whether the code was ever assigned.
    Value: ``((start_year | None, end_year | None, name), ...)``.
    """
    from stdnum import numdb

    table: dict[str, tuple[tuple[int | None, int | None, str], ...]] = {}

    def walk(prefixes: list, head: str, province: str | None) -> None:
        for _length, low, high, props, children in prefixes:
            if low != high:  # ranges do not occur in loc.dat; ignore defensively
                continue
            code = head + low
            prov = props.get("province", province)
            if "county" in props and len(code) == 6:
                entries = []
                for part in props["county"].split(","):
                    start = end = None
                    if part.startswith("["):
                        span, part = part[1:].split("]", 1)
                        a, b = span.split("-")
                        start, end = (int(a) if a else None), (int(b) if b else None)
                    entries.append((start, end, part))
                table[code] = tuple(entries)
            if children:
                walk(children, code, prov)

    walk(numdb.get("cn/loc").prefixes, "", None)
    return table


def region_known(code: str) -> bool:
    """Whether the 6-digit code was ever an administrative division (any year)."""
    return code in region_table()


def region_in_use(code: str, year: int) -> bool:
    """Whether the 6-digit code was in use in ``year`` (what stdnum.cn.ric.validate demands)."""
    return any((s is None or s <= year) and (e is None or year <= e) for s, e, _ in region_table().get(code, ()))


_DIVISION_SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "省",
    "市",
    "盟",
    "州",
    "县",
    "区",
    "旗",
)
_GENERIC_DIVISIONS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "郊区", "城区", "矿区"}


@lru_cache(maxsize=1)
def _division_names() -> tuple[str, ...]:
    """Administrative-division names that may prefix a company name, longest first.

    Full names of every level (山西省, 太原市, 清徐县) and the short forms of provinces
    and prefecture-level cities (山西, 太原); short forms of counties are left out, as
    they are often ordinary words (平安, 和顺) that a trade name may legitimately be.
    """
    names: set[str] = {"中国", "中华", "全国"}
    for code, entries in region_table().items():
        for _, _, name in entries:
            if not name or name in _GENERIC_DIVISIONS:
                continue
            names.add(name)
            if code.endswith("00"):
                for suffix in _DIVISION_SUFFIXES:
                    if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                        names.add(name[: -len(suffix)])
                        break
    return tuple(sorted(names, key=len, reverse=True))


@lru_cache(maxsize=1)
def _division_index() -> tuple[frozenset[str], tuple[int, ...]]:
    """The division names as a set, and their lengths longest first: a prefix is found by slicing."""
    names = _division_names()
    return frozenset(names), tuple(sorted({len(n) for n in names}, reverse=True))


def trade_name_part(name_without_form: str) -> str:
    """What is left of a name (organisation form removed) after its administrative-division prefix."""
    rest = name_without_form.strip()
    names, lengths = _division_index()
    changed = True
    while rest and changed:
        changed = False
        for length in lengths:  # the longest division name the rest starts with
            if length <= len(rest) and rest[:length] in names:
                rest = rest[length:].strip()
                changed = True
                break
    return re.sub(r"[\s()（）\[\]【】]", "", rest)


# --------------------------------------------------------------------------- identifiers

_RIC_SHAPE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
_MOBILE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_SHAPE = re.compile(rf"^[{_USCC_ALPHABET}]{{2}}\d{{6}}[{_USCC_ALPHABET}]{{10}}$", re.ASCII)


def _shape_problem(value: str, length: int, what: str) -> str:
    if not value:
        return "未填写"
    if len(value) != length:
        return f"当前为 {len(value)} 位"
    if what == "手机号码":
        return "含有非数字字符" if not value.isascii() or not value.isdigit() else "号段不正确"
    return "含有不允许的字符"


def check_resident_id(value: str, *, role: str = "", name: str | None = None, today: date | None = None) -> str:
    """Validate a resident ID number (GB 11643-1999); return it normalised (trailing x → X).

    Checks, in this order: shape (18 characters, 17 digits + digit/X), check digit,
    birth date (a real date, not before 1900, not after ``today``), region prefix
    (any 6-digit division code ever assigned: re-registered IDs carry codes created
    after the birth year, which stdnum.cn.ric.validate would reject).
    """
    number = value.strip().upper()
    if not _RIC_SHAPE.match(number):
        raise form_error("id_format", role=role, name=name, problem=_shape_problem(number, 18, "身份证号码"))
    if number[-1] != _ric.calc_check_digit(number):
        raise form_error("id_check_digit", role=role, name=name)
    digits = number[6:14]
    birth_text = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    try:
        birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise form_error("id_birth_date", role=role, name=name, birth=birth_text, problem="不是真实的日期") from None
    if birth.year < 1900:
        raise form_error("id_birth_date", role=role, name=name, birth=birth_text, problem="早于 1900 年")
    if birth > (today or today_in_shanghai()):
        raise form_error("id_birth_date", role=role, name=name, birth=birth_text, problem="晚于今天")
    if not region_known(number[:6]):
        raise form_error("id_region", role=role, name=name, region=number[:6])
    return number


def check_uscc(value: str, *, role: str = "", name: str | None = None) -> str:
    """Validate a unified social credit code (GB 32100-2015); return it normalised (upper case).

    Shape per the standard: 18 characters of the code alphabet (digits and upper-case
    letters without I, O, Z, S, V); characters 1–2 (registration authority, entity type)
    any alphabet character; 3–8 the 6-digit division code; 18 the check character.

    ``stdnum.cn.uscc.validate`` also demands that characters 1–8 be digits, which
    rejects real codes of authorities coded by letters (e.g. ``Y`` 工会, ``N`` 农业,
    ``A``/``G`` ...). We do not use it for the verdict: the check character is computed
    with ``stdnum.cn.uscc.calc_check_digit`` (the standard's weights, any alphabet
    character) on every code of the right shape, so a correct check character is never
    rejected for that quirk. Which authority/type letters are assigned is not checked
    (the standard's code lists grow over time).
    """
    code = value.strip().upper()
    if not _USCC_SHAPE.match(code):
        problem = _shape_problem(code, 18, "统一社会信用代码")
        if len(code) == 18 and all(c in _USCC_ALPHABET for c in code):
            problem = "第 3–8 位应为数字"
        raise form_error("uscc_format", role=role, name=name, problem=problem)
    if code[-1] != _uscc.calc_check_digit(code):
        raise form_error("uscc_check_char", role=role, name=name)
    return code


def check_mobile(value: str, *, role: str = "", name: str | None = None) -> str:
    number = value.strip()
    if not _MOBILE.match(number):
        raise form_error("mobile_format", role=role, name=name, problem=_shape_problem(number, 11, "手机号码"))
    return number
