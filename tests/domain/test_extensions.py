"""An extended deadline is the instant the supervisor set, even outside working time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.calendar import WorkingCalendar
from domain.deadlines import plan_task
from domain.sla import SlaPolicy

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar()
POLICY = SlaPolicy()
FRIDAY_3PM = datetime(2026, 11, 27, 15, 0, tzinfo=SH)  # a working Friday
SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=SH)


def test_a_friday_task_extended_to_saturday_noon_is_due_saturday_noon():
    plan = plan_task(FRIDAY_3PM, 60, CALENDAR, POLICY, due_at=SATURDAY_NOON, re_escalations=2)
    assert plan.due_at == SATURDAY_NOON
    levels = {s.level: s.at for s in plan.steps}
    assert levels["breach"] == SATURDAY_NOON
    # the earlier rungs fall in the working time up to the deadline: 150 working minutes, Friday 15:00–17:30
    assert levels["remind"] == FRIDAY_3PM + timedelta(minutes=75)
    assert levels["warn"] == FRIDAY_3PM + timedelta(minutes=120)
    # re-escalations: every 60 working minutes after the deadline, i.e. from Monday morning
    re = [s.at for s in plan.steps if s.level == "re_escalate"]
    assert re == [datetime(2026, 11, 30, 10, 0, tzinfo=SH), datetime(2026, 11, 30, 11, 0, tzinfo=SH)]


def test_the_rounding_of_earlier_histories_is_kept_when_asked():
    old = plan_task(FRIDAY_3PM, 60, CALENDAR, POLICY, due_at=SATURDAY_NOON, re_escalations=1, exact_due=False)
    assert old.due_at == datetime(2026, 11, 27, 17, 30, tzinfo=SH)


def test_an_extension_inside_working_time_is_unchanged_by_the_rule():
    due = datetime(2026, 11, 30, 11, 0, tzinfo=SH)
    exact = plan_task(FRIDAY_3PM, 60, CALENDAR, POLICY, due_at=due, re_escalations=1)
    rounded = plan_task(FRIDAY_3PM, 60, CALENDAR, POLICY, due_at=due, re_escalations=1, exact_due=False)
    assert exact.due_at == rounded.due_at == due
    assert [s.at for s in exact.steps] == [s.at for s in rounded.steps]
