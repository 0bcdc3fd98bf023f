"""What the portal departments issue once processing ends (USCC, seal codes, unit codes), and how
the progress page shows it (rows of (field, key, label, value))."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from stdnum.cn import uscc as _uscc

_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    total = sum(_ORG_ALPHABET.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def issue_uscc(division_code: str, serial: int | None = None) -> str:
    """A USCC as amr issues it: '91' (industry & commerce, enterprise) + division code
    + 9-character organisation code (GB 11714 check) + GB 32100 check character."""
    body = f"{serial % 10**8:08d}" if serial is not None else f"{secrets.randbelow(10**8):08d}"
    partial = "91" + division_code + body + org_code_check(body)
    return partial + _uscc.calc_check_digit(partial)


def amr_result(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    division = data["division_code"]
    # random organisation-code body; the row id keeps the last digits distinct
    serial = secrets.randbelow(10**4) * 10**4 + row_id % 10**4
    return {
        "uscc": issue_uscc(division, serial),
        "licence_serial": f"{division}{ready_at:%Y%m%d}{row_id:06d}",
        "approved_at": ready_at.isoformat(timespec="seconds"),
    }


def amr_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [
        ("uscc", None, "统一社会信用代码", result["uscc"]),
        ("licence_serial", None, "营业执照编号", result["licence_serial"]),
        ("approved_at", None, "核准日期", result["approved_at"]),
    ]


SEAL_TYPES: tuple[tuple[str, str], ...] = (
    ("GZ", "公章"),
    ("CWZ", "财务专用章"),
    ("FPZ", "发票专用章"),
    ("FRZ", "法定代表人名章"),
    ("HTZ", "合同专用章"),
)


def psb_result(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    region = data["uscc"][2:8]
    return {"seal_codes": {code: f"{region}{row_id:05d}{i:02d}" for i, code in enumerate(data["seal_types"], 1)}}


def psb_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    names = dict(SEAL_TYPES)
    return [("seal_code", names[c], f"{names[c]}编码", v) for c, v in result["seal_codes"].items()]


def hrss_result(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    return {"si_unit_code": f"{data['uscc'][2:8]}{row_id:08d}"}


def hrss_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [("si_unit_code", None, "单位社会保险登记编号", result["si_unit_code"])]


def hpf_result(row_id: int, data: dict[str, Any], ready_at: datetime) -> dict[str, Any]:
    return {"hpf_unit_account": f"{data['uscc'][2:6]}0001{row_id:08d}"}


def hpf_rows(result: dict[str, Any]) -> list[tuple[str, str | None, str, str]]:
    return [("hpf_unit_account", None, "单位公积金账号", result["hpf_unit_account"])]
