"""SLA: application and task deadlines, escalation ladders, state."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from domain.calendar import WorkingCalendar
from domain.sla import (
    LadderRung,
    LadderStep,
    SlaPolicy,
    application_due,
    application_ladder,
    next_steps_after,
    remaining_working_minutes,
    sla_state,
    task_due,
    task_ladder,
)
from tests.support.clock import sh

pytestmark = pytest.mark.usefixtures("_fresh_warnings")  # tests/domain/conftest.py


@pytest.fixture
def policy() -> SlaPolicy:
    return SlaPolicy()


def summary(steps: list[LadderStep]) -> list[tuple[str, str, datetime, int]]:
    return [(s.level, s.audience, s.at, s.sequence) for s in steps]


# ---- policy ---------------------------------------------------------------------


def test_policy_defaults_are_domain_md(policy):
    assert policy.same_day_cutoff == time(15, 0)
    assert policy.application_due_time is None  # the calendar's close, 17:30
    assert [(r.level, r.fraction, r.audience) for r in policy.task_ladder] == [
        ("remind", 0.5, "department_handler"),
        ("warn", 0.8, "department_supervisor"),
        ("breach", 1.0, "window_supervisor"),
    ]
    assert policy.re_escalate_every_minutes == 60
    assert policy.re_escalate_audience == "leading_group_office"
    assert [(r.level, r.fraction, r.audience) for r in policy.application_ladder] == [
        ("warn", 0.8, "window_supervisor"),
        ("breach", 1.0, "window_supervisor"),
    ]
    assert policy.at_risk_threshold == 0.8


def test_policy_loads_from_plain_data():
    policy = SlaPolicy.model_validate(
        {
            "same_day_cutoff": "14:00",
            "re_escalate_every_minutes": 30,
            "application_ladder": [
                {"level": "warn", "fraction": 0.75, "audience": "window_supervisor"},
                {"level": "breach", "fraction": 1.0, "audience": "leading_group_office"},
            ],
        }
    )
    assert policy.same_day_cutoff == time(14, 0)
    assert policy.application_ladder[1].audience == "leading_group_office"


@pytest.mark.parametrize(
    "ladder",
    [
        [{"level": "breach", "fraction": 0.9, "audience": "x"}],  # breach is at the deadline
        [{"level": "warn", "fraction": 1.0, "audience": "x"}],  # warn must come before it
        [
            {"level": "warn", "fraction": 0.8, "audience": "x"},
            {"level": "remind", "fraction": 0.5, "audience": "x"},
        ],  # not increasing
        [
            {"level": "warn", "fraction": 0.5, "audience": "x"},
            {"level": "warn", "fraction": 0.8, "audience": "x"},
        ],  # a level twice
        [{"level": "remind", "fraction": 0, "audience": "x"}],
        [{"level": "re_escalate", "fraction": 0.5, "audience": "x"}],
        [{"level": "remind", "fraction": 0.5, "audience": ""}],
    ],
)
def test_policy_rejects_bad_ladders(ladder):
    with pytest.raises(ValidationError):
        SlaPolicy.model_validate({"task_ladder": ladder})


def test_policy_rejects_other_bad_values():
    with pytest.raises(ValidationError):
        SlaPolicy(re_escalate_every_minutes=0)
    with pytest.raises(ValidationError):
        SlaPolicy(at_risk_threshold=1.5)
    with pytest.raises(ValidationError):
        SlaPolicy(same_day_cutoff=time(15), application_due_time=time(14))
    with pytest.raises(ValidationError):
        SlaPolicy.model_validate({"unknown_setting": 1})


# ---- application deadline -------------------------------------------------------


def test_submitted_before_cutoff_is_due_the_same_day(cal, policy):
    assert application_due(sh(2026, 9, 30, 14, 0), cal, policy) == sh(2026, 9, 30, 17, 30)


def test_submitted_friday_after_cutoff_is_due_on_the_make_up_saturday(cal, policy):
    assert application_due(sh(2026, 10, 9, 16, 0), cal, policy) == sh(2026, 10, 10, 17, 30)


def test_cutoff_boundary(cal, policy):
    assert application_due(sh(2026, 9, 29, 15, 0, 0), cal, policy) == sh(2026, 9, 29, 17, 30)
    assert application_due(sh(2026, 9, 29, 15, 0, 1), cal, policy) == sh(2026, 9, 30, 17, 30)
    assert application_due(sh(2026, 9, 29, 7, 0), cal, policy) == sh(2026, 9, 29, 17, 30)  # before opening
    assert application_due(sh(2026, 9, 29, 20, 0), cal, policy) == sh(2026, 9, 30, 17, 30)


def test_submitted_on_a_holiday_or_weekend(cal, policy):
    assert application_due(sh(2026, 10, 3, 10, 0), cal, policy) == sh(2026, 10, 8, 17, 30)
    assert application_due(sh(2026, 9, 13, 10, 0), cal, policy) == sh(2026, 9, 14, 17, 30)  # Sunday
    assert application_due(sh(2026, 9, 30, 16, 0), cal, policy) == sh(2026, 10, 8, 17, 30)


def test_application_due_uses_the_calendar_time_zone_date(cal, policy):
    # 2026-09-30 06:59 UTC = 14:59 in Shanghai → same day
    assert application_due(datetime(2026, 9, 30, 6, 59, tzinfo=UTC), cal, policy) == sh(2026, 9, 30, 17, 30)
    # 2026-09-29 23:00 UTC = 2026-09-30 07:00 in Shanghai → due 2026-09-30, not 09-29
    assert application_due(datetime(2026, 9, 29, 23, 0, tzinfo=UTC), cal, policy) == sh(2026, 9, 30, 17, 30)


def test_application_due_follows_policy_and_overrides():
    cal = WorkingCalendar(overrides={date(2026, 10, 10): False})
    policy = SlaPolicy(same_day_cutoff=time(12, 0), application_due_time=time(17, 0))
    assert application_due(sh(2026, 10, 9, 12, 30), cal, policy) == sh(2026, 10, 12, 17, 0)
    assert application_due(sh(2026, 10, 9, 11, 30), cal, policy) == sh(2026, 10, 9, 17, 0)


def test_application_due_in_an_unknown_year_is_computed_and_warns_once(cal, policy):
    with capture_logs() as logs:
        # Friday 2027-03-05 16:00 (after the cut-off) → Monday 2027-03-08 by the fallback
        for _ in range(20):
            due = application_due(sh(2027, 3, 5, 16, 0), cal, policy)
    assert due == sh(2027, 3, 8, 17, 30)
    warnings = [e for e in logs if e["event"] == "calendar_year_unknown"]
    assert len(warnings) == 1
    assert warnings[0]["year"] == 2027
    assert warnings[0]["log_level"] == "warning"


# ---- task deadline --------------------------------------------------------------


def test_task_due(cal):
    assert task_due(sh(2026, 9, 29, 17, 0), 60, cal) == sh(2026, 9, 30, 9, 30)
    assert task_due(sh(2026, 9, 30, 17, 20), 120, cal) == sh(2026, 10, 8, 10, 50)
    with pytest.raises(ValueError):
        task_due(sh(2026, 9, 29, 10), 0, cal)


def test_task_due_override_moves_past_october_8():
    cal = WorkingCalendar(overrides={date(2026, 10, 8): False})
    assert task_due(sh(2026, 9, 30, 17, 20), 120, cal) == sh(2026, 10, 9, 10, 50)


def test_task_due_in_an_unknown_year(cal):
    with capture_logs() as logs:
        assert task_due(sh(2027, 12, 31, 17, 0), 60, cal) == sh(2028, 1, 3, 9, 30)  # Fri → Mon
    assert sorted(e["year"] for e in logs if e["event"] == "calendar_year_unknown") == [2027, 2028]


# ---- task ladder ----------------------------------------------------------------


def test_task_ladder_for_60_minutes_from_10_00(cal, policy):
    steps = task_ladder(sh(2026, 9, 29, 10, 0), 60, cal, policy, re_escalations=3)
    assert summary(steps) == [
        ("remind", "department_handler", sh(2026, 9, 29, 10, 30), 1),
        ("warn", "department_supervisor", sh(2026, 9, 29, 10, 48), 2),
        ("breach", "window_supervisor", sh(2026, 9, 29, 11, 0), 3),
        ("re_escalate", "leading_group_office", sh(2026, 9, 29, 12, 0), 4),  # no lunch break
        ("re_escalate", "leading_group_office", sh(2026, 9, 29, 13, 0), 5),
        ("re_escalate", "leading_group_office", sh(2026, 9, 29, 14, 0), 6),
    ]
    # the breach is the task's deadline
    assert steps[2].at == task_due(sh(2026, 9, 29, 10, 0), 60, cal)


def test_task_ladder_without_re_escalations(cal, policy):
    steps = task_ladder(sh(2026, 9, 29, 10, 0), 60, cal, policy, re_escalations=0)
    assert [s.level for s in steps] == ["remind", "warn", "breach"]
    with pytest.raises(ValueError):
        task_ladder(sh(2026, 9, 29, 10, 0), 60, cal, policy, re_escalations=-1)


def test_task_ladder_steps_cross_the_evening_into_the_next_morning(cal, policy):
    # 60 minutes from 17:10: 20 today, the rest tomorrow morning
    steps = task_ladder(sh(2026, 9, 29, 17, 10), 60, cal, policy, re_escalations=1)
    assert [s.at for s in steps] == [
        sh(2026, 9, 30, 9, 10),  # remind at 30 = 20 + 10
        sh(2026, 9, 30, 9, 28),  # warn at 48 = 20 + 28
        sh(2026, 9, 30, 9, 40),  # breach at 60
        sh(2026, 9, 30, 10, 40),
    ]


def test_re_escalations_cross_the_evening_and_the_holiday(cal, policy):
    steps = task_ladder(sh(2026, 9, 29, 15, 0), 60, cal, policy, re_escalations=3)
    assert [s.at for s in steps if s.level != "remind" and s.level != "warn"] == [
        sh(2026, 9, 29, 16, 0),  # breach
        sh(2026, 9, 29, 17, 0),
        sh(2026, 9, 30, 9, 30),  # 30 minutes left on the 29th, 30 on the 30th
        sh(2026, 9, 30, 10, 30),
    ]
    steps = task_ladder(sh(2026, 9, 30, 16, 0), 60, cal, policy, re_escalations=1)
    assert steps[-2].at == sh(2026, 9, 30, 17, 0)
    assert steps[-1].at == sh(2026, 10, 8, 9, 30)  # after National Day


def test_task_ladder_step_exactly_at_the_close_stays_that_evening(cal, policy):
    steps = task_ladder(sh(2026, 9, 29, 16, 30), 120, cal, policy, re_escalations=0)
    assert [s.at for s in steps] == [
        sh(2026, 9, 29, 17, 30),  # remind at 60: exactly the close
        sh(2026, 9, 30, 9, 36),  # warn at 96
        sh(2026, 9, 30, 10, 0),  # breach at 120 = 60 + 60
    ]


def test_task_ladder_follows_the_policy(cal):
    policy = SlaPolicy(
        task_ladder=(
            LadderRung(level="warn", fraction=0.5, audience="dept_lead"),
            LadderRung(level="breach", fraction=1.0, audience="director"),
        ),
        re_escalate_every_minutes=30,
        re_escalate_audience="mayor_office",
    )
    steps = task_ladder(sh(2026, 9, 29, 10, 0), 120, cal, policy, re_escalations=2)
    assert summary(steps) == [
        ("warn", "dept_lead", sh(2026, 9, 29, 11, 0), 1),
        ("breach", "director", sh(2026, 9, 29, 12, 0), 2),
        ("re_escalate", "mayor_office", sh(2026, 9, 29, 12, 30), 3),
        ("re_escalate", "mayor_office", sh(2026, 9, 29, 13, 0), 4),
    ]


def test_task_ladder_in_an_unknown_year_is_computed(cal, policy):
    with capture_logs() as logs:
        steps = task_ladder(sh(2027, 3, 5, 17, 0), 60, cal, policy, re_escalations=1)
    assert [s.at for s in steps] == [
        sh(2027, 3, 5, 17, 30),
        sh(2027, 3, 8, 9, 18),
        sh(2027, 3, 8, 9, 30),
        sh(2027, 3, 8, 10, 30),
    ]
    assert len([e for e in logs if e["event"] == "calendar_year_unknown"]) == 1


def test_ladder_steps_are_frozen(cal, policy):
    step = task_ladder(sh(2026, 9, 29, 10, 0), 60, cal, policy, re_escalations=0)[0]
    with pytest.raises(AttributeError):
        step.at = sh(2026, 9, 29, 11)  # type: ignore[misc]


# ---- application ladder ---------------------------------------------------------


def test_application_ladder_same_day(cal, policy):
    submitted = sh(2026, 9, 30, 14, 0)
    due = application_due(submitted, cal, policy)
    steps = application_ladder(submitted, due, cal, policy)
    # 210 working minutes; warn at 168
    assert summary(steps) == [
        ("warn", "window_supervisor", sh(2026, 9, 30, 16, 48), 1),
        ("breach", "window_supervisor", sh(2026, 9, 30, 17, 30), 2),
    ]


def test_application_ladder_over_the_evening(cal, policy):
    submitted = sh(2026, 10, 9, 16, 0)
    due = application_due(submitted, cal, policy)
    steps = application_ladder(submitted, due, cal, policy)
    # 90 minutes on Friday + 510 on the make-up Saturday = 600; warn at 480 = 90 + 390
    assert [s.at for s in steps] == [sh(2026, 10, 10, 15, 30), sh(2026, 10, 10, 17, 30)]


def test_application_ladder_submitted_on_a_holiday(cal, policy):
    submitted = sh(2026, 10, 3, 10, 0)
    due = application_due(submitted, cal, policy)
    steps = application_ladder(submitted, due, cal, policy)
    # 510 minutes on 2026-10-08; warn at 408 → 15:48
    assert [s.at for s in steps] == [sh(2026, 10, 8, 15, 48), sh(2026, 10, 8, 17, 30)]


def test_application_ladder_after_an_extension(cal, policy):
    submitted = sh(2026, 9, 29, 10, 0)
    extended_due = sh(2026, 9, 30, 12, 0)  # a supervisor extended the deadline
    steps = application_ladder(submitted, extended_due, cal, policy)
    # 450 + 180 = 630; warn at 504 = 450 + 54
    assert [s.at for s in steps] == [sh(2026, 9, 30, 9, 54), extended_due]


def test_application_ladder_with_no_working_time_left(cal, policy):
    steps = application_ladder(sh(2026, 9, 30, 18, 0), sh(2026, 9, 30, 17, 30), cal, policy)
    assert [s.at for s in steps] == [sh(2026, 9, 30, 17, 30)] * 2


# ---- next steps -----------------------------------------------------------------


def test_next_steps_after(cal, policy):
    steps = task_ladder(sh(2026, 9, 29, 10, 0), 60, cal, policy, re_escalations=2)
    assert next_steps_after(steps, sh(2026, 9, 29, 9, 0)) == steps
    after_warn = next_steps_after(steps, sh(2026, 9, 29, 10, 48))  # a step at t counts as done
    assert [s.sequence for s in after_warn] == [3, 4, 5]
    assert [s.sequence for s in next_steps_after(steps, sh(2026, 9, 29, 10, 47))] == [2, 3, 4, 5]
    assert next_steps_after(steps, sh(2026, 9, 29, 13, 0)) == []
    assert next_steps_after(reversed(steps), sh(2026, 9, 29, 9, 0)) == steps  # sorted by time
    with pytest.raises(ValueError):
        next_steps_after(steps, datetime(2026, 9, 29, 10, 0))


# ---- state ----------------------------------------------------------------------


def test_sla_state_transitions_within_a_day(cal, policy):
    start, due = sh(2026, 9, 29, 10, 0), sh(2026, 9, 29, 11, 0)

    def state(h: int, m: int, s: int = 0) -> str:
        return sla_state(sh(2026, 9, 29, h, m, s), start, due, cal, policy)

    assert state(9, 0) == "on_track"  # before the start
    assert state(10, 0) == "on_track"
    assert state(10, 47, 59) == "on_track"
    assert state(10, 48) == "at_risk"  # 80 % elapsed, like the warn step
    assert state(10, 59, 59) == "at_risk"
    assert state(11, 0) == "breached"
    assert state(16, 0) == "breached"


def test_sla_state_counts_working_time_only(cal, policy):
    start = sh(2026, 9, 29, 17, 0)
    due = task_due(start, 60, cal)  # 09:30 next day
    assert sla_state(sh(2026, 9, 29, 17, 20), start, due, cal, policy) == "on_track"
    assert sla_state(sh(2026, 9, 29, 23, 0), start, due, cal, policy) == "on_track"  # 30 of 60 overnight
    assert sla_state(sh(2026, 9, 30, 9, 17), start, due, cal, policy) == "on_track"
    assert sla_state(sh(2026, 9, 30, 9, 18), start, due, cal, policy) == "at_risk"
    assert sla_state(sh(2026, 9, 30, 9, 30), start, due, cal, policy) == "breached"
    # across National Day: 10 minutes before the holiday, 110 after
    start = sh(2026, 9, 30, 17, 20)
    due = task_due(start, 120, cal)
    assert sla_state(sh(2026, 10, 5, 12, 0), start, due, cal, policy) == "on_track"
    assert sla_state(sh(2026, 10, 8, 10, 26), start, due, cal, policy) == "at_risk"  # 10 + 86 = 96 = 80 %
    assert sla_state(sh(2026, 10, 8, 10, 50), start, due, cal, policy) == "breached"


def test_sla_state_overdue_outside_working_time_is_breached(cal, policy):
    start, due = sh(2026, 9, 11, 14, 0), sh(2026, 9, 11, 17, 30)  # a Friday
    assert sla_state(sh(2026, 9, 12, 10, 0), start, due, cal, policy) == "breached"  # Saturday


def test_sla_state_threshold_is_configurable(cal):
    start, due = sh(2026, 9, 29, 10, 0), sh(2026, 9, 29, 11, 0)
    policy = SlaPolicy(at_risk_threshold=0.5)
    assert sla_state(sh(2026, 9, 29, 10, 29), start, due, cal, policy) == "on_track"
    assert sla_state(sh(2026, 9, 29, 10, 30), start, due, cal, policy) == "at_risk"


def test_remaining_working_minutes(cal):
    due = sh(2026, 9, 29, 11, 0)
    assert remaining_working_minutes(sh(2026, 9, 29, 10, 15), due, cal) == 45
    assert remaining_working_minutes(sh(2026, 9, 29, 11, 0), due, cal) == 0
    assert remaining_working_minutes(sh(2026, 9, 29, 11, 30), due, cal) == -30
    # across the night and the holiday
    assert remaining_working_minutes(sh(2026, 9, 30, 17, 0), sh(2026, 10, 8, 9, 30), cal) == 60
    assert remaining_working_minutes(sh(2026, 10, 8, 10, 0), sh(2026, 9, 30, 17, 0), cal) == -90
    # overdue only by non-working time: nothing lost yet
    assert remaining_working_minutes(sh(2026, 9, 29, 18, 0), sh(2026, 9, 29, 17, 30), cal) == 0


def test_naive_datetimes_are_refused(cal, policy):
    naive = datetime(2026, 9, 29, 10, 0)
    aware = sh(2026, 9, 29, 11, 0)
    with pytest.raises(ValueError, match="naive"):
        application_due(naive, cal, policy)
    with pytest.raises(ValueError, match="naive"):
        task_due(naive, 60, cal)
    with pytest.raises(ValueError, match="naive"):
        task_ladder(naive, 60, cal, policy, re_escalations=1)
    with pytest.raises(ValueError, match="naive"):
        application_ladder(naive, aware, cal, policy)
    with pytest.raises(ValueError, match="naive"):
        sla_state(naive, aware, aware, cal, policy)
    with pytest.raises(ValueError, match="naive"):
        sla_state(aware, aware, naive, cal, policy)
    with pytest.raises(ValueError, match="naive"):
        remaining_working_minutes(naive, aware, cal)
