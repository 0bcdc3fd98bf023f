"""Response bodies of the API (request bodies are the domain's own models)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from workflows.models import ApplicationView, DeadlineChange

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_text(value: Any) -> Any:
    """An instant the API takes in is RFC 3339 text (pydantic alone would also read numbers as Unix time)."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value)):
        return value
    raise PydanticCustomError("datetime_type", "Input should be an RFC 3339 date-time")


#: the instants the API reasons about (the working calendar, deadlines); outside, arithmetic overflows
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise PydanticCustomError("datetime_out_of_range", "时间须在 2000 年至 2099 年之间")
    return value


#: a date-time with its offset, as RFC 3339 text (``2026-09-30T14:00:00+08:00``), in the years 2000–2099
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_in_range)]


class SubmissionAccepted(BaseModel):
    application_id: str
    status: str
    due_at: datetime = Field(description="承诺办结时间")
    message: str
    links: dict[str, str]


class DeadlineExtensionRequest(BaseModel):
    department: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9_]{0,31}$", description="部门代码；不填则延长整件申请的时限"
    )
    new_due_at: IsoDateTime = Field(description="新的办结时限（须带时区，且晚于原时限）")
    reason: str = Field(min_length=1, max_length=500, description="延期理由（必填）")
    requested_by: str | None = Field(None, max_length=64, description="不再使用：延期人取自登录身份，此值被忽略")


class DeadlineAnswer(BaseModel):
    submitted_at: datetime
    application_due_at: datetime = Field(description="整件申请的承诺办结时间")
    department: str | None = None
    budget_minutes: int | None = Field(None, description="该部门事项的时限（工作分钟）")
    dispatched_at: datetime | None = None
    task_due_at: datetime | None = Field(None, description="该部门事项的办结时限")
    years_without_official_data: list[int] = Field(
        default_factory=list, description="涉及的年份中尚无官方节假日安排的（这些年份按周一至周五计算）"
    )
    calendar_notice: str | None = Field(None, description="时限涉及无官方安排的年份时的提示")


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ValidationProblem(BaseModel):
    """A request that does not validate (body, query, path or header): 422, one entry per field."""

    detail: str = Field(description="中文摘要，如「申请表有 2 处需要修改」")
    errors: list[FieldError]


class Problem(BaseModel):
    """A refusal: a Chinese ``detail`` for people, an English ``code`` for programs."""

    detail: str = Field(description="中文说明")
    code: str = Field(description="英文代码，如 forbidden、application_not_found")


class Health(BaseModel):
    status: str
    temporal: str


ApplicationDetail = ApplicationView
DeadlineChangeRecord = DeadlineChange


class ManualCompletionRequest(BaseModel):
    result: dict = Field(description="该部门的办理结果（按部门结果格式校验）")
    completed_by: str | None = Field(None, max_length=64, description="不再使用：办结人取自登录身份，此值被忽略")
    note: str | None = Field(None, max_length=500, description="说明")


class WithdrawalRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="撤回理由")
    requested_by: str | None = Field(None, max_length=64, description="不再使用：经办人取自登录身份，此值被忽略")


class CallbackAck(BaseModel):
    status: str
    detail: str
