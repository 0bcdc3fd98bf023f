"""The Chinese message of every custom error type of the one form, and how an error is made."""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

#: Every custom error type of the form and its Chinese message template. ``{who}`` is
#: the person the error is about, e.g. "股东「王晓明」的" (empty when unknown). Messages
#: never repeat an ID or mobile number (personal information; the check digit a wrong
#: number "should" have is not shown either: the typo is usually elsewhere).
ERROR_MESSAGES: dict[str, str] = {
    "id_format": "{who}身份证号码应为 18 位：前 17 位为数字，末位为数字或 X（{problem}）",
    "id_check_digit": "{who}身份证号码校验位不正确，请逐位核对号码",
    "id_birth_date": "{who}身份证号码中的出生日期 {birth} {problem}",
    "id_region": "{who}身份证号码的地区码 {region} 不是已知的行政区划代码",
    "uscc_format": "{who}统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V），第 3–8 位为行政区划代码（{problem}）",
    "uscc_check_char": "{who}统一社会信用代码校验码不正确，请逐位核对代码",
    "mobile_format": "{who}手机号码应为以 1 开头、第二位为 3–9 的 11 位数字（{problem}）",
    "capital_sum_mismatch": "各股东认缴出资额合计 {total} 万元，与注册资本 {capital} 万元不一致（相差 {diff} 万元）",
    "contribution_deadline_too_late": "{who}认缴出资期限 {deadline} 超过公司成立之日起 5 年（最迟 {latest}）",
    "contribution_deadline_past": "{who}认缴出资期限 {deadline} 早于今天（{today}）",
    "shareholder_duplicate": "{who}证件号码与第 {other} 位股东相同：同一股东只能填写一次",
    "supervisor_conflict": "监事「{name}」与{other}「{other_name}」是同一人（身份证号码相同）：董事、高级管理人员不得兼任监事",
    "company_name_form": "企业名称「{name}」应以{forms}结尾（企业类型为{entity_label}）",
    "company_trade_name": "企业名称「{name}」缺少字号：组织形式「{form}」之前除行政区划外没有内容",
    "housing_fund_rate_range": "住房公积金单位缴存比例应在 0.05 至 0.12 之间（即 5%–12%），当前为 {rate}",
    "housing_fund_rate_required": "登记住房公积金时必须填写单位缴存比例（0.05 至 0.12）",
    "seal_type_duplicate": "印章类型「{label}」重复",
    "invoice_type_duplicate": "发票种类「{label}」重复",
}


def who(role: str, name: str | None) -> str:
    if name:
        return f"{role}「{name}」的"
    return f"{role}的" if role else ""


def form_error(type_: str, *, role: str = "", name: str | None = None, **ctx: Any) -> PydanticCustomError:
    context = {"who": who(role, name), "role": role, "name": name or "", **{k: str(v) for k, v in ctx.items()}}
    return PydanticCustomError(type_, ERROR_MESSAGES[type_], context)
