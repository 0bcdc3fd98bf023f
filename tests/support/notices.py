"""One escalation notice's fields for tests, whichever model carries them (the activity's or the store's)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MESSAGE = "税务登记已超过办理时限的80%，请部门负责人督促办理。"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


def note_fields(
    key: str = "KB20261130-AAAA.tax.warn.2.v1",
    *,
    application_id: str = "KB20261130-AAAA",
    department: str | None = "tax",
    level: str = "warn",
    audience: str = "department_supervisor",
    sequence: int = 2,
    fired_at: datetime = T0,
    message: str = MESSAGE,
) -> dict[str, Any]:
    return dict(
        key=key,
        application_id=application_id,
        department=department,
        level=level,
        audience=audience,
        sequence=sequence,
        due_at=T0 + timedelta(hours=2),
        planned_at=fired_at - timedelta(seconds=1),
        fired_at=fired_at,
        window_id="W-07",
        message=message,
    )
