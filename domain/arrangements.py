"""A year's official holiday arrangement (国务院办公厅关于节假日安排的通知), as data. Pure.

The State Council publishes the next year's days off and make-up working days (调休上班日) each November or
December; ``chinese-calendar`` knows a year only once a release carries it. Until then kaiban plans that
year on Monday–Friday and says so. An admin loads the arrangement (``PUT /api/v1/admin/calendar/{year}``, or a
file ``config/calendar/<year>.yaml`` for a fresh install): the listed holidays are days off, the listed
workdays are working days, every other day of the year is Monday–Friday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MIN_YEAR, MAX_YEAR = 2004, 2100


class YearArrangement(BaseModel):
    """One year's days off (``holidays``) and make-up working days (``workdays``), and where they come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: int = Field(ge=MIN_YEAR, le=MAX_YEAR)
    holidays: tuple[date, ...] = Field(description="放假日（含与周末相连的休息日），YYYY-MM-DD")
    workdays: tuple[date, ...] = Field((), description="调休上班日（须为周六或周日），YYYY-MM-DD")
    source: str = Field(min_length=1, max_length=500, description="依据，例如通知的文号或网址")

    @field_validator("holidays", "workdays")
    @classmethod
    def _sorted_once(cls, days: tuple[date, ...]) -> tuple[date, ...]:
        return tuple(sorted(set(days)))

    @field_validator("source")
    @classmethod
    def _source(cls, source: str) -> str:
        source = source.strip()
        if not source:
            raise ValueError("须注明依据（通知的文号或网址）")
        return source

    @model_validator(mode="after")
    def _consistent(self) -> YearArrangement:
        if not self.holidays:
            raise ValueError(f"{self.year} 年的安排须列出放假日")
        outside = [d.isoformat() for d in (*self.holidays, *self.workdays) if d.year != self.year]
        if outside:
            raise ValueError(f"日期不在 {self.year} 年内：{'、'.join(outside)}")
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"同一天既是放假日又是调休上班日：{'、'.join(d.isoformat() for d in both)}")
        weekdays = [d.isoformat() for d in self.workdays if d.weekday() < 5]
        if weekdays:
            raise ValueError(f"调休上班日须为周六或周日，以下日期本就是工作日：{'、'.join(weekdays)}")
        return self

    def days(self) -> dict[date, bool]:
        """The days that differ from Monday–Friday or may: ``{date: is_working_day}``."""
        return {**{d: False for d in self.holidays}, **{d: True for d in self.workdays}}


def packaged_year(year: int) -> bool:
    """Whether the installed ``chinese-calendar`` carries ``year``'s official arrangement."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


#: from this month on, a missing arrangement for next year is a warning on the board
WARN_FROM_MONTH = 11


def missing_year_notice(year: int) -> str:
    """What people are told of a date in ``year`` while its arrangement is not known."""
    return (
        f"{year} 年的法定节假日安排尚未载入：涉及 {year} 年的时限暂按周一至周五计算，"
        f"请管理员在国务院办公厅通知发布后载入（PUT /api/v1/admin/calendar/{year}）"
    )


def next_year_warning(today: date, official: Callable[[int], bool]) -> str | None:
    """From 1 November, the warning that next year's arrangement is still missing (None: nothing to warn of)."""
    if today.month < WARN_FROM_MONTH or official(today.year + 1):
        return None
    return missing_year_notice(today.year + 1)


def arrangement_problems(exc: ValidationError) -> str:
    """What is wrong with an arrangement, in people's words, one reason after another."""
    reasons = []
    for e in exc.errors():
        where = ".".join(map(str, e["loc"]))
        message = str(e["msg"]).removeprefix("Value error, ")
        reasons.append(f"{where}：{message}" if where else message)
    return "；".join(reasons)
