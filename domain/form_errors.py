"""Field-level Chinese error messages for the one form.

``field_errors(exc)`` turns a pydantic ``ValidationError`` raised by
``domain.form.Application`` (or any of its parts) into what the window shows next to
each field::

    [{"field": "shareholders.0.id_number",
      "message": "股东「王晓明」的身份证号码校验位不正确，请逐位核对号码",
      "type": "id_check_digit"}]

The form's own rules already carry a Chinese message (kept as is); pydantic's built-in
error types are translated here; anything else gets a generic Chinese message plus
pydantic's English original. No input values are echoed (ID and mobile numbers are
personal information).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, get_args

from pydantic import ValidationError

from domain.form import ERROR_MESSAGES, MATERIAL_CONCERNS_PATTERN, LegalPersonShareholder, NaturalPersonShareholder

# Discriminator values of the tagged unions in the form: pydantic puts them into ``loc``
# (``shareholders.0.natural_person.id_number``); the clerk's field path has no such segment.
UNION_TAGS: frozenset[str] = frozenset(
    tag
    for model in (NaturalPersonShareholder, LegalPersonShareholder)
    for tag in get_args(model.model_fields["kind"].annotation)
)

# Patterns of the form's string fields, and what they mean to a clerk.
_PATTERN_HINTS: dict[str, str] = {
    r"^\d{6}$": "应为 6 位数字的行政区划代码",
    r"^[0-9a-f]{64}$": "应为 64 位小写十六进制的 SHA-256 摘要",
    MATERIAL_CONCERNS_PATTERN: "应注明材料所属：legal_representative、supervisor、financial_officer、tax_officer、"
    "liaison、company 或 shareholders.<序号>（从 0 起）",
}


def _quoted(text: Any) -> list[str]:
    """``"'a' or 'b'"`` / ``"'a', 'b'"`` → ``["a", "b"]``."""
    return re.findall(r"'([^']*)'", str(text))


def _join(values: list[str]) -> str:
    return "、".join(values)


def _literal(ctx: dict) -> str:
    allowed = _quoted(ctx.get("expected", ""))
    return f"取值无效，可选值：{_join(allowed)}" if allowed else "取值无效"


def _union_tag_invalid(ctx: dict) -> str:
    field = _join(_quoted(ctx.get("discriminator", ""))) or "kind"
    allowed = _join(_quoted(ctx.get("expected_tags", "")))
    return f"类型字段 {field} 的取值「{ctx.get('tag', '')}」无效，可选值：{allowed}"


def _union_tag_not_found(ctx: dict) -> str:
    field = _join(_quoted(ctx.get("discriminator", ""))) or "kind"
    return f"缺少类型字段 {field}"


def _string_too_short(ctx: dict) -> str:
    n = int(ctx.get("min_length", 1))
    return "不能为空" if n <= 1 else f"至少应有 {n} 个字符"


def _too_short(ctx: dict) -> str:
    n = int(ctx.get("min_length", 1))
    return "至少应填写 1 项" if n <= 1 else f"至少应填写 {n} 项"


def _pattern(ctx: dict) -> str:
    return _PATTERN_HINTS.get(str(ctx.get("pattern", "")), "格式不正确")


_DATE = "应为日期，格式为 YYYY-MM-DD（如 2026-09-01）"
_DATETIME = "应为带时区的日期时间（ISO 8601），如 2026-09-30T14:00:00+08:00"
_DECIMAL = '应为十进制数字（如 "100" 或 "12.5"）'
_INTEGER = "应为整数"
_BOOL = "应为是或否（true / false）"
_OBJECT = "应为一组字段（JSON 对象）"

#: Chinese messages for pydantic's built-in error types the form can produce: a text or
#: a function of the error's ``ctx``.
BUILTIN_MESSAGES: dict[str, Any] = {
    "missing": "必填项",
    "extra_forbidden": "不是申请表中的字段（多余字段）",
    "string_type": "应为文本",
    "string_too_short": _string_too_short,
    "string_too_long": lambda ctx: f"最多 {ctx.get('max_length')} 个字符",
    "string_pattern_mismatch": _pattern,
    "string_unicode": "文本编码无效（应为 UTF-8）",
    "literal_error": _literal,
    "enum": _literal,
    "decimal_parsing": _DECIMAL,
    "decimal_type": _DECIMAL,
    "decimal_max_digits": lambda ctx: f"数字位数过多（最多 {ctx.get('max_digits')} 位）",
    "decimal_max_places": lambda ctx: f"小数位数过多（最多 {ctx.get('decimal_places')} 位小数）",
    "decimal_whole_digits": lambda ctx: f"整数部分位数过多（最多 {ctx.get('whole_digits')} 位）",
    "finite_number": "应为有限的数字",
    "greater_than": lambda ctx: f"应大于 {ctx.get('gt')}",
    "greater_than_equal": lambda ctx: f"应大于或等于 {ctx.get('ge')}",
    "less_than": lambda ctx: f"应小于 {ctx.get('lt')}",
    "less_than_equal": lambda ctx: f"应小于或等于 {ctx.get('le')}",
    "int_parsing": _INTEGER,
    "int_type": _INTEGER,
    "int_from_float": "应为整数（不能有小数部分）",
    "int_parsing_size": "整数超出允许范围",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "date_parsing": _DATE,
    "date_type": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": "应为日期（不带时间），格式为 YYYY-MM-DD",
    "datetime_parsing": _DATETIME,
    "datetime_type": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "timezone_aware": "须带时区，例如 2026-09-30T14:00:00+08:00",
    "bool_parsing": _BOOL,
    "bool_type": _BOOL,
    "list_type": "应为列表",
    "too_short": _too_short,
    "too_long": lambda ctx: f"最多可填写 {ctx.get('max_length')} 项",
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "dict_type": _OBJECT,
    "union_tag_invalid": _union_tag_invalid,
    "union_tag_not_found": _union_tag_not_found,
    "none_required": "此处应留空",
    "json_invalid": "不是有效的 JSON",
    "json_type": "应为 JSON 文本",
}


_CJK = re.compile("[\u3400-\u9fff\U00020000-\U0003134f]")


def field_path(loc: tuple[str | int, ...]) -> str:
    """Dotted field path of a pydantic ``loc``, without union tag segments ("" for the form itself)."""
    parts: list[str] = []
    previous: str | int | None = None
    for segment in loc:
        if isinstance(segment, str) and segment in UNION_TAGS and isinstance(previous, int):
            previous = segment
            continue
        parts.append(str(segment))
        previous = segment
    return ".".join(parts)


def error_message(error: dict) -> str:
    """The Chinese message of one entry of ``ValidationError.errors()``."""
    type_ = error["type"]
    if type_ in ERROR_MESSAGES:
        return error["msg"]
    translation = BUILTIN_MESSAGES.get(type_)
    if translation is not None:
        return translation(error.get("ctx") or {}) if callable(translation) else translation
    if _CJK.search(error["msg"]):  # a custom error raised elsewhere with a Chinese message: keep it
        return error["msg"]
    return f"填写内容不符合要求（{error['msg']}）"


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """``[{"field": "shareholders.0.id_number", "message": <Chinese>, "type": <type>}, ...]``."""
    return [
        {"field": field_path(tuple(err["loc"])), "message": error_message(dict(err)), "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def request_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Like :func:`field_errors`, for the error dicts of FastAPI's ``RequestValidationError.errors()``.

    FastAPI prefixes ``loc`` with where the value came from (``("body", "company", "name")``):
    a leading ``body`` is dropped so the field is ``company.name``; other sources keep theirs
    (``header.idempotency-key``). For a JSON syntax error (``("body", 17)``) the field is "".
    """
    out = []
    for err in errors:
        loc = tuple(err.get("loc") or ())
        if loc and loc[0] == "body":
            loc = loc[1:]
        if err.get("type") == "json_invalid":
            loc = tuple(seg for seg in loc if not isinstance(seg, int))
        entry = {"type": err.get("type", ""), "msg": str(err.get("msg", "")), "ctx": err.get("ctx") or {}}
        out.append({"field": field_path(loc), "message": error_message(entry), "type": entry["type"]})
    return out
