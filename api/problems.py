"""What the API answers when it does not do what was asked, and how the OpenAPI schema says so.

Every refusal is ``Problem`` (``{"detail": <Chinese>, "code": <english>}``) and every validation failure
``ValidationProblem`` (``{"detail", "errors": [{"field", "message", "type"}]}``); ``responses(...)`` documents
the statuses a route can answer with those models (FastAPI's own 422 schema is never used).
"""

from __future__ import annotations

from typing import Any

from api.schemas import Problem, ValidationProblem

DESCRIPTIONS: dict[int, str] = {
    400: "请求内容无法解析（应为 UTF-8 编码的 JSON）",
    401: "缺少、无效或过期的身份凭证（回调：签名无效或已使用）",
    403: "身份有效，但无权进行此操作",
    404: "不存在，或对当前身份不可见",
    409: "当前状态下不能办理（理由为中文）",
    413: "请求内容过大",
    415: "请求内容类型应为 application/json",
    422: "请求校验未通过（逐字段中文提示）",
    503: "工作流服务暂不可用，请稍后重试",
}


def responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: each status with its model; ``descriptions`` as ``s404="…"`` override."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ValidationProblem if status == 422 else Problem
        out[status] = {"model": model, "description": descriptions.get(f"s{status}", DESCRIPTIONS[status])}
    return out


#: what every /api/v1 route can answer: no identity, a body too large, a parameter that does not validate
COMMON = (401, 413, 422)
#: what a route that reads an application (or asks Temporal) adds
READS = (*COMMON, 403, 404, 503)
#: what a route that posts a JSON body adds
POSTS = (400, 415)

#: English codes of the framework's own refusals (routing, parsing)
HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("malformed_body", "请求内容无法解析：应为 UTF-8 编码的 JSON"),
    404: ("not_found", "未找到该地址"),
    405: ("method_not_allowed", "该地址不支持此请求方法"),
    409: ("conflict", "当前状态下不能办理"),
    413: ("body_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请求内容类型应为 application/json"),
    503: ("unavailable", "服务暂不可用，请稍后重试"),
}
_ENGLISH_DETAILS = {"Not Found", "Method Not Allowed", "There was an error parsing the body"}


def http_problem(status: int, detail: Any) -> dict[str, str]:
    """The body of a framework ``HTTPException``: its Chinese detail kept, an English one replaced."""
    code, default = HTTP_CODES.get(status, (f"http_{status}", "请求未能办理"))
    text = str(detail) if detail else ""
    if not text or text in _ENGLISH_DETAILS or text.isascii():
        text = default
    return {"detail": text, "code": code}
