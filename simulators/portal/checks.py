"""Checks of posted values: one per field kind ((value, label) -> the error shown in red, or None),
and the cross-field checks and reviews of the departments' wizards."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from stdnum.cn import ric as _ric
from stdnum.cn import uscc as _uscc

AMR_REJECT_MARKER = "测试驳回"
AMR_NAME_TAKEN = "名称重复：与已登记企业名称近似，请更换字号"


def decimal_or_none(value: str) -> Decimal | None:
    try:
        d = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def int_or(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _check_external_ref(v: str, label: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9-]{6,64}", v):
        return f"{label}应为6至64位字母、数字或连字符"
    return None


def _check_uscc(v: str, label: str) -> str | None:
    if not re.fullmatch(r"[0-9A-Z]{18}", v) or not _uscc.is_valid(v):
        return f"{label}格式或校验位不正确"
    return None


def _check_ric(v: str, label: str) -> str | None:
    if not re.fullmatch(r"\d{17}[\dX]", v) or _ric.calc_check_digit(v) != v[-1]:
        return f"{label}格式或校验位不正确"
    return None


def _check_mobile(v: str, label: str) -> str | None:
    return None if re.fullmatch(r"1[3-9]\d{9}", v) else f"{label}应为11位手机号码"


def _check_money(v: str, label: str) -> str | None:
    d = decimal_or_none(v)
    if d is None or d <= 0 or d.as_tuple().exponent < -4:
        return f"{label}应为大于0的金额（最多4位小数）"
    return None


def _check_division(v: str, label: str) -> str | None:
    return None if re.fullmatch(r"\d{6}", v) else f"{label}应为6位数字"


def _int_between(lo: int, hi: int) -> Callable[[str, str], str | None]:
    def check(v: str, label: str) -> str | None:
        n = int_or(v) if re.fullmatch(r"\d+", v) else None
        return None if n is not None and lo <= n <= hi else f"{label}应为{lo}至{hi}之间的整数"

    return check


def _check_hpf_rate(v: str, label: str) -> str | None:
    d = decimal_or_none(v)
    if d is None or not Decimal(5) <= d <= Decimal(12):
        return f"{label}应在5%至12%之间"
    return None


def _check_amount(v: str, label: str) -> str | None:
    d = decimal_or_none(v)
    if d is None or d < 0 or d.as_tuple().exponent < -4:  # type: ignore[operator]
        return f"{label}应为不小于0的金额（最多4位小数）"
    return None


def _check_date(v: str, label: str) -> str | None:
    try:
        date.fromisoformat(v)
    except ValueError:
        return f"{label}应为有效日期（年-月-日）"
    return None


CHECKS: dict[str, Callable[[str, str], str | None]] = {
    "external_ref": _check_external_ref,
    "uscc": _check_uscc,
    "ric": _check_ric,
    "mobile": _check_mobile,
    "money": _check_money,
    "division": _check_division,
    "count_1_50": _int_between(1, 50),
    "count_0_500": _int_between(0, 500),
    "count_0_100000": _int_between(0, 100000),
    "years_1_100": _int_between(1, 100),
    "hpf_rate": _check_hpf_rate,
    "date": _check_date,
    "amount": _check_amount,
}


# --- cross-field checks and reviews ----------------------------------------------


def amr_people_check(draft: dict[str, Any]) -> dict[str, str]:
    sup = draft.get("supervisor_id_number")
    if sup and sup in (draft.get("legal_rep_id_number"), draft.get("financial_officer_id_number")):
        return {"supervisor_id_number": "监事不得由法定代表人（执行董事）或财务负责人兼任"}
    return {}


def amr_shareholder_row(row: dict[str, Any], legend: str) -> dict[str, str]:
    number, kind = row.get("id_number", ""), row.get("kind")
    if not number or not kind:
        return {}
    if kind == "natural_person":
        msg = _check_ric(number, f"{legend}身份证号码")
    else:
        msg = _check_uscc(number, f"{legend}统一社会信用代码")
    return {"id_number": msg} if msg else {}


def amr_capital_check(draft: dict[str, Any]) -> dict[str, str]:
    capital = decimal_or_none(draft.get("registered_capital", ""))
    n = int_or(draft.get("shareholder_count"), 0) or 0
    amounts = [decimal_or_none(draft.get(f"shareholders-{i}-contribution", "")) for i in range(1, n + 1)]
    if capital is None or any(a is None for a in amounts):
        return {}
    if sum(amounts, Decimal(0)) != capital:
        return {"_form": f"股东认缴出资额合计（{sum(amounts, Decimal(0))}万元）与注册资本（{capital}万元）不一致"}
    return {}


def amr_name_review(data: dict[str, Any]) -> str | None:
    """amr's name check (a trigger for trials): a name containing 测试驳回 is taken."""
    return AMR_NAME_TAKEN if AMR_REJECT_MARKER in str(data.get("company_name") or "") else None
