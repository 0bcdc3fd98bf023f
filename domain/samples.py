"""Random-but-deterministic valid applications, in the JSON form of the intake contract.

``generate_application(seed)`` is used by ``make demo``, the benchmarks and tests; what it
guarantees is in docs/samples.md. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from stdnum.cn import ric, uscc

from domain.form import latest_contribution_deadline
from domain.identifiers import region_in_use, region_table, today_in_shanghai
from domain.labels import BANK_LABELS

RARE_CHARS = ("𬱖", "䶮")

_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
    "余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁建国志文俊峰浩宇轩晨阳亮东海林"
_FEMALE = "娜静敏丽艳芳娟霞秀英玲婷雪琳慧颖洁倩萍红梅兰琴燕蕾瑶欣怡佳"
_TRADE = "晋创汾云华泰恒嘉瑞博鑫源达盛通远宏康丰信德安和兴锦诚卓越启明捷拓弘峻"
_INDUSTRIES = {
    "科技": ["软件开发", "信息技术咨询服务", "数据处理服务"],
    "信息技术": ["信息系统集成服务", "软件开发", "网络技术服务"],
    "商贸": ["日用百货销售", "五金产品零售", "电子产品销售"],
    "餐饮管理": ["餐饮服务", "餐饮管理", "食品销售"],
    "建筑工程": ["建设工程施工", "建筑材料销售", "园林绿化工程施工"],
    "文化传媒": ["文艺创作", "广告设计、代理", "会议及展览服务"],
    "物流": ["普通货物仓储服务", "道路货物运输", "装卸搬运"],
    "农业开发": ["谷物种植", "农产品的生产、销售、加工", "农业机械服务"],
    "咨询服务": ["企业管理咨询", "财务咨询", "市场调查"],
}
_NAME_PREFIXES = ("", "山西", "太原", "太原市", "山西省")
_WINDOWS = ("TY-XD-01", "TY-XD-02", "TY-QX-01", "DT-PC-01", "JZ-YC-01", "CZ-LZ-01")
_BANKS = BANK_LABELS
_CAPITALS = ("10", "30", "50", "100", "100", "200", "300", "500", "1000", "12.5", "66.6", "88.88")
_ROADS = ("文源路", "迎泽大街", "长风街", "体育路", "并州路", "平阳路", "学府街", "南内环街")
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@lru_cache(maxsize=1)
def shanxi_counties() -> tuple[tuple[str, str], ...]:
    """(code, name) of Shanxi county-level divisions (no 市辖区, no city-level codes), sorted."""
    out = []
    for code, entries in sorted(region_table().items()):
        if code.startswith("14") and code[4:] not in ("00", "01"):
            out.append((code, entries[-1][2]))
    return tuple(out)


@lru_cache(maxsize=1)
def _shanxi_cities() -> tuple[str, ...]:
    return tuple(
        code for code in sorted(region_table()) if code.startswith("14") and code[2:4] != "00" and code.endswith("00")
    )


def _money(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


class _People:
    """Makes distinct people (unique ID numbers) from one random stream."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today
        self.ids: set[str] = set()

    def person(self, *, rare: str | None = None, mobile: bool = True) -> dict[str, str]:
        rng = self.rng
        male = rng.random() < 0.5
        given_pool = _MALE if male else _FEMALE
        given = "".join(rng.choice(given_pool) for _ in range(rng.choice((1, 2))))
        if rare:
            given = (given[:1] + rare) if len(given) > 1 else rare
        name = rng.choice(_SURNAMES) + given
        while True:
            birth = self.today - timedelta(days=rng.randint(20 * 366, 60 * 365))
            in_use = [code for code, _ in shanxi_counties() if region_in_use(code, birth.year)]
            region = rng.choice(in_use)
            seq = rng.randrange(1, 999, 2) if male else rng.randrange(2, 999, 2)
            body = f"{region}{birth:%Y%m%d}{seq:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.ids:
                self.ids.add(number)
                break
        out = {"name": name, "id_number": number}
        if mobile:
            out["mobile"] = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        return out


def _uscc(rng: random.Random) -> str:
    body = "91" + rng.choice(_shanxi_cities()) + "".join(rng.choice(_USCC_ALPHABET) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def _split(rng: random.Random, capital: Decimal, parts: int) -> list[Decimal]:
    """``parts`` positive amounts (multiples of 0.01 万元) summing exactly to ``capital``."""
    units = int(capital * 100)
    cuts = sorted(rng.sample(range(1, units), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, units]
    return [Decimal(bounds[i + 1] - bounds[i]) / 100 for i in range(parts)]


def _shareholders(
    rng: random.Random, people: _People, legal_rep: dict[str, Any], capital: Decimal, today: date
) -> list[dict[str, Any]]:
    """Usually the legal representative, sometimes others, sometimes a company; contributions add up."""
    holders: list[dict[str, Any]] = []
    if rng.random() < 0.75:
        holders.append({"kind": "natural_person", "name": legal_rep["name"], "id_number": legal_rep["id_number"]})
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        p = people.person(mobile=False)
        holders.append({"kind": "natural_person", "name": p["name"], "id_number": p["id_number"]})
    if not holders or rng.random() < 0.3:
        holders.append(
            {
                "kind": "legal_person",
                "name": f"山西{''.join(rng.sample(_TRADE, 2))}投资有限公司",
                "uscc": _uscc(rng),
            }
        )
    latest = latest_contribution_deadline(today)
    for holder, amount in zip(holders, _split(rng, capital, len(holders)), strict=True):
        holder["contribution_wan_yuan"] = _money(amount)
        holder["contribution_method"] = "currency" if rng.random() < 0.85 else "intellectual_property"
        holder["contribution_deadline"] = (today + timedelta(days=rng.randint(30, (latest - today).days))).isoformat()
    return [
        {
            k: h[k]
            for k in (
                "kind",
                "name",
                "id_number",
                "uscc",
                "contribution_wan_yuan",
                "contribution_method",
                "contribution_deadline",
            )
            if k in h
        }
        for h in holders
    ]


def _materials(seed: int, company_name: str) -> list[dict[str, str]]:
    return [
        {
            "kind": kind,
            "filename": filename,
            "sha256": hashlib.sha256(f"{seed}:{kind}:{company_name}".encode()).hexdigest(),
        }
        for kind, filename in (("premises_proof", "租赁合同.pdf"), ("articles_of_association", "公司章程.pdf"))
    ]


def generate_application(
    seed: int,
    *,
    rare_chars: bool = False,
    today: date | None = None,
    all_departments: bool = True,
) -> dict[str, Any]:
    """A valid application (JSON contract form), the same for the same arguments."""
    rng = random.Random(seed)
    today = today or today_in_shanghai()
    people = _People(rng, today)

    legal_rep = people.person(rare=RARE_CHARS[0] if rare_chars else None)
    supervisor = people.person(rare=RARE_CHARS[1] if rare_chars else None)
    financial = people.person()
    tax_officer = dict(financial) if rng.random() < 0.4 else people.person()
    liaison = dict(tax_officer) if rng.random() < 0.6 else people.person()

    # company
    industry = rng.choice(sorted(_INDUSTRIES))
    trade = "".join(rng.sample(_TRADE, rng.choice((2, 2, 3))))
    if rare_chars:
        trade = trade[:1] + rng.choice(RARE_CHARS) + trade[1:]
    company_name = f"{rng.choice(_NAME_PREFIXES)}{trade}{industry}有限公司"
    county_code, county_name = rng.choice([c for c in shanxi_counties() if region_in_use(c[0], today.year)])
    capital = Decimal(rng.choice(_CAPITALS))

    shareholders = _shareholders(rng, people, legal_rep, capital, today)

    # departments
    ask = (lambda: True) if all_departments else (lambda: rng.random() < 0.7)
    si_register, mi_register, hf_register, bank = ask(), ask(), ask(), ask()
    employees = [people.person(mobile=False) for _ in range(rng.randint(0, 3))] if si_register else []
    seal_types = ["official", "financial", "invoice", "legal_representative"]
    if rng.random() < 0.3:
        seal_types.append("contract")
    bank_code = rng.choice(sorted(_BANKS))

    return {
        "window": {"window_id": rng.choice(_WINDOWS), "clerk_id": f"clerk-{rng.randint(1, 40):04d}"},
        "company": {
            "name": company_name,
            "entity_type": "limited_liability_company",
            "registered_capital_wan_yuan": _money(capital),
            "address": {
                "division_code": county_code,
                "detail": f"山西省{county_name}{rng.choice(_ROADS)} {rng.randint(1, 300)} 号 {rng.randint(1, 20)} 层",
            },
            "business_scope": list(_INDUSTRIES[industry]),
            "operating_term_years": rng.choice((None, None, 20, 30)),
            "employees_expected": len(employees) + rng.randint(1, 30),
        },
        "legal_representative": {**legal_rep, "role": "executive_director"},
        "shareholders": shareholders,
        "supervisor": supervisor,
        "financial_officer": financial,
        "tax_officer": tax_officer,
        "liaison": liaison,
        "seal": {"types": seal_types},
        "tax": {
            "invoice_types": rng.choice((["digital_general"], ["digital_general", "digital_special"], [])),
            "expected_monthly_invoice_amount_wan_yuan": str(rng.choice((0, 5, 10, 20, 50, 100))),
        },
        "social_insurance": {"register": si_register, "enroll_employees": employees},
        "medical_insurance": {"register": mi_register},
        "housing_fund": {
            "register": hf_register,
            "contribution_rate": f"0.{rng.randint(5, 12):02d}" if hf_register else None,
        },
        "bank_account": (
            {"bank_code": bank_code, "branch_name": f"{_BANKS[bank_code]}{county_name}支行", "account_type": "basic"}
            if bank
            else None
        ),
        "materials": _materials(seed, company_name),
    }
