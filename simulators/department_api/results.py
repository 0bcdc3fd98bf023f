"""What a department API issues once processing ends (taxpayer record, medical-insurance unit code, bank account)."""

from __future__ import annotations

import hashlib
from typing import Any

from simulators.common import iso
from simulators.department_api.models import BankSubmission, NhsaSubmission, Submission, TaxSubmission

_PROVINCES = {"11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "31": "上海市", "44": "广东省"}
_CITIES = {"1401": "太原市", "1402": "大同市", "1404": "长治市", "1407": "晋中市", "1408": "运城市"}
_COUNTIES = {
    "140105": "小店区",
    "140106": "迎泽区",
    "140107": "杏花岭区",
    "140108": "尖草坪区",
    "140109": "万柏林区",
    "140110": "晋源区",
    "140121": "清徐县",
    "140122": "阳曲县",
    "140123": "娄烦县",
    "140181": "古交市",
}


def tax_authority_for(division_code: str) -> str:
    """The competent tax office for an administrative division (a small built-in table)."""
    county = _COUNTIES.get(division_code)
    city = _CITIES.get(division_code[:4])
    province = _PROVINCES.get(division_code[:2])
    if county and city:
        return f"国家税务总局{city}{county}税务局"
    if city:
        return f"国家税务总局{city}税务局"
    if province:
        return f"国家税务总局{province}税务局"
    return f"国家税务总局{division_code}税务局"


def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode("utf-8")).hexdigest(), 16) % 10**n).zfill(n)


def issue_result(code: str, body: Submission, ready_ts: float) -> dict[str, Any]:
    if isinstance(body, TaxSubmission):
        approved = list(dict.fromkeys(body.invoice_types))
        return {
            "taxpayer_id": body.uscc,
            "tax_authority": tax_authority_for(body.division_code),
            "invoice_types": approved,
        }
    if isinstance(body, NhsaSubmission):
        return {"mi_unit_code": body.division_code + _digits("nhsa:" + body.uscc, 8)}
    if isinstance(body, BankSubmission):
        return {
            "account_no": _digits(f"bank:{body.bank_code}:{body.uscc}", 19),
            "bank_code": body.bank_code,
            "opened_at": iso(ready_ts),
        }
    raise ValueError(f"unsupported department {code!r}")
