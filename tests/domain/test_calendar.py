"""Working calendar: statutory holidays, make-up days, overrides, unknown years, arithmetic."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest
from structlog.testing import capture_logs

from domain import calendar as calendar_module
from domain.calendar import CalendarOverridesError, WorkingCalendar, parse_overrides
from runtime.settings import load_overrides
from tests.support.clock import SH, sh

pytestmark = pytest.mark.usefixtures("_fresh_warnings")  # tests/domain/conftest.py


def _unknown_year_warnings(logs: list[dict]) -> list[dict]:
    return [e for e in logs if e["event"] == "calendar_year_unknown"]


# ---- working days ---------------------------------------------------------------


def test_statutory_holidays_and_make_up_days(cal):
    assert cal.is_working_day(date(2026, 9, 30))  # Wednesday
    assert not cal.is_working_day(date(2026, 10, 1))  # National Day
    assert not cal.is_working_day(date(2026, 10, 5))  # Monday, holiday
    assert not cal.is_working_day(date(2026, 10, 7))
    assert cal.is_working_day(date(2026, 10, 8))
    assert cal.is_working_day(date(2026, 10, 10))  # Saturday, make-up working day (调休)
    assert not cal.is_working_day(date(2026, 10, 11))  # Sunday
    assert cal.is_working_day(date(2026, 9, 20))  # Sunday, make-up working day
    assert not cal.is_working_day(date(2026, 9, 25))  # Friday, Mid-autumn Festival


def test_next_working_day_skips_the_holiday_and_counts_the_make_up_saturday(cal):
    assert cal.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert cal.next_working_day(date(2026, 10, 9)) == date(2026, 10, 10)
    assert cal.next_working_day(date(2026, 10, 10)) == date(2026, 10, 12)
    assert cal.next_working_day(date(2026, 9, 11)) == date(2026, 9, 14)  # Friday → Monday


def test_end_and_start_of_working_day(cal):
    assert cal.end_of_working_day(date(2026, 10, 10)) == sh(2026, 10, 10, 17, 30)
    assert cal.start_of_working_day(date(2026, 10, 10)) == sh(2026, 10, 10, 9, 0)
    with pytest.raises(ValueError, match="not a working day"):
        cal.end_of_working_day(date(2026, 10, 1))
    with pytest.raises(TypeError):
        cal.end_of_working_day(sh(2026, 10, 10, 12))  # a datetime is not a date here


def test_overrides_win_over_chinese_calendar():
    cal = WorkingCalendar(overrides={date(2026, 10, 8): False, date(2026, 10, 3): True})
    assert not cal.is_working_day(date(2026, 10, 8))
    assert cal.is_working_day(date(2026, 10, 3))  # a holiday Saturday turned into a working day
    assert cal.next_working_day(date(2026, 10, 2)) == date(2026, 10, 3)


def test_a_calendar_without_working_days_fails_clearly_instead_of_looping():
    start = date(2026, 1, 1)
    cal = WorkingCalendar(overrides={start + timedelta(days=i): False for i in range(400)})
    with pytest.raises(ValueError, match="no working day within 366 days after 2026-01-01"):
        cal.next_working_day(start)


def test_overrides_must_be_date_to_bool():
    with pytest.raises(CalendarOverridesError):
        WorkingCalendar(overrides={date(2026, 10, 8): "no"})  # type: ignore[dict-item]
    with pytest.raises(CalendarOverridesError):
        WorkingCalendar(overrides={sh(2026, 10, 8): False})  # a datetime key


# ---- unknown years --------------------------------------------------------------


def test_unknown_year_falls_back_to_monday_to_friday_and_warns(cal):
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 3, 5))  # the premise: the package does not know 2027
    with capture_logs() as logs:
        # Friday 2027-03-05 17:00 + 60 working minutes → Monday 09:30
        due = cal.add_working_minutes(sh(2027, 3, 5, 17, 0), 60)
    assert due == sh(2027, 3, 8, 9, 30)
    warnings = _unknown_year_warnings(logs)
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["year"] == 2027
    assert warnings[0]["fallback"] == "monday_to_friday"


def test_unknown_year_warning_is_logged_once_per_year(cal):
    with capture_logs() as logs:
        for day in range(1, 29):
            cal.is_working_day(date(2027, 2, day))
        for _ in range(50):
            cal.add_working_minutes(sh(2027, 6, 1, 10), 600)
        WorkingCalendar().is_working_day(date(2027, 7, 1))  # another instance, same process
        cal.is_working_day(date(2028, 1, 3))
        cal.is_working_day(date(2028, 1, 4))
    warnings = _unknown_year_warnings(logs)
    assert [w["year"] for w in warnings] == [2027, 2028]


def test_fallback_is_monday_to_friday(cal):
    assert cal.is_working_day(date(2027, 3, 5))  # Friday
    assert not cal.is_working_day(date(2027, 3, 6))  # Saturday
    assert not cal.is_working_day(date(2027, 3, 7))  # Sunday
    assert cal.is_working_day(date(2027, 3, 8))  # Monday


def test_overrides_for_an_unknown_year_need_no_fallback():
    cal = WorkingCalendar(overrides={date(2027, 1, 1): False, date(2027, 2, 6): True})
    with capture_logs() as logs:
        assert not cal.is_working_day(date(2027, 1, 1))  # Friday, New Year
        assert cal.is_working_day(date(2027, 2, 6))  # Saturday, make-up
    assert _unknown_year_warnings(logs) == []


# ---- instants -------------------------------------------------------------------


def test_next_working_start(cal):
    assert cal.next_working_start(sh(2026, 9, 29, 10, 15)) == sh(2026, 9, 29, 10, 15)
    assert cal.next_working_start(sh(2026, 9, 29, 7, 0)) == sh(2026, 9, 29, 9, 0)
    assert cal.next_working_start(sh(2026, 9, 29, 17, 30)) == sh(2026, 9, 30, 9, 0)  # 17:30 is closed
    assert cal.next_working_start(sh(2026, 9, 29, 17, 29)) == sh(2026, 9, 29, 17, 29)
    assert cal.next_working_start(sh(2026, 9, 13, 12, 0)) == sh(2026, 9, 14, 9, 0)  # Sunday
    assert cal.next_working_start(sh(2026, 10, 1, 10, 0)) == sh(2026, 10, 8, 9, 0)  # holiday


def test_60_minutes_from_17_00_end_at_09_30_next_working_day(cal):
    assert cal.add_working_minutes(sh(2026, 9, 29, 17, 0), 60) == sh(2026, 9, 30, 9, 30)
    # Friday evening → Monday morning
    assert cal.add_working_minutes(sh(2026, 9, 11, 17, 0), 60) == sh(2026, 9, 14, 9, 30)


def test_120_minutes_from_17_20_before_national_day_end_on_october_8(cal):
    assert cal.add_working_minutes(sh(2026, 9, 30, 17, 20), 120) == sh(2026, 10, 8, 10, 50)


def test_override_moves_the_national_day_case_to_october_9():
    cal = WorkingCalendar(overrides={date(2026, 10, 8): False})
    assert cal.add_working_minutes(sh(2026, 9, 30, 17, 20), 120) == sh(2026, 10, 9, 10, 50)


def test_add_within_one_day_and_up_to_the_close(cal):
    assert cal.add_working_minutes(sh(2026, 9, 29, 10, 0), 60) == sh(2026, 9, 29, 11, 0)
    assert cal.add_working_minutes(sh(2026, 9, 29, 12, 0), 60) == sh(2026, 9, 29, 13, 0)  # no lunch break
    assert cal.add_working_minutes(sh(2026, 9, 29, 17, 0), 30) == sh(2026, 9, 29, 17, 30)  # ends at the close
    assert cal.add_working_minutes(sh(2026, 9, 29, 17, 0), 31) == sh(2026, 9, 30, 9, 1)
    assert cal.add_working_minutes(sh(2026, 9, 29, 10, 0), 0.5) == sh(2026, 9, 29, 10, 0, 30)
    assert cal.add_working_minutes(sh(2026, 9, 29, 10, 0), 0) == sh(2026, 9, 29, 10, 0)
    assert cal.add_working_minutes(sh(2026, 9, 29, 20, 0), 0) == sh(2026, 9, 30, 9, 0)  # starts next morning
    # a whole working day (510 minutes) from the opening ends at the close the same day
    assert cal.add_working_minutes(sh(2026, 9, 29, 9, 0), 510) == sh(2026, 9, 29, 17, 30)


def test_start_on_a_non_working_day_begins_at_the_next_working_start(cal):
    assert cal.add_working_minutes(sh(2026, 10, 3, 11, 0), 90) == sh(2026, 10, 8, 10, 30)
    assert cal.add_working_minutes(sh(2026, 10, 11, 11, 0), 30) == sh(2026, 10, 12, 9, 30)  # Sunday


def test_add_negative_or_non_numeric_minutes_is_refused(cal):
    with pytest.raises(ValueError):
        cal.add_working_minutes(sh(2026, 9, 29, 10), -1)
    with pytest.raises(TypeError):
        cal.add_working_minutes(sh(2026, 9, 29, 10), "60")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        cal.add_working_minutes(sh(2026, 9, 29, 10), float("nan"))


def test_results_are_in_the_calendar_time_zone(cal):
    start = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    due = cal.add_working_minutes(start, 30)
    assert due.tzinfo == SH
    assert due == sh(2026, 9, 29, 10, 30)
    assert due.hour == 10 and due.minute == 30
    # 2026-09-29 23:00 UTC is 2026-09-30 07:00 in Shanghai: the Shanghai date decides
    late_utc = datetime(2026, 9, 29, 23, 0, tzinfo=UTC)
    assert cal.next_working_start(late_utc) == sh(2026, 9, 30, 9, 0)


def test_naive_datetimes_are_refused(cal):
    naive = datetime(2026, 9, 29, 10, 0)
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_minutes(naive, 60)
    with pytest.raises(ValueError, match="naive"):
        cal.working_minutes_between(naive, sh(2026, 9, 29, 11))
    with pytest.raises(ValueError, match="naive"):
        cal.working_minutes_between(sh(2026, 9, 29, 11), naive)
    with pytest.raises(ValueError, match="naive"):
        cal.next_working_start(naive)


# ---- between --------------------------------------------------------------------


def test_working_minutes_between_across_a_weekend(cal):
    # Friday 16:30 → Monday 10:00: 60 on Friday + 60 on Monday
    assert cal.working_minutes_between(sh(2026, 9, 11, 16, 30), sh(2026, 9, 14, 10, 0)) == 120
    assert cal.working_minutes_between(sh(2026, 9, 14, 10, 0), sh(2026, 9, 11, 16, 30)) == -120


def test_working_minutes_between_across_the_national_day_holiday(cal):
    assert cal.working_minutes_between(sh(2026, 9, 30, 17, 0), sh(2026, 10, 8, 9, 30)) == 60
    assert cal.working_minutes_between(sh(2026, 9, 30, 17, 20), sh(2026, 10, 8, 10, 50)) == 120
    # holiday start and end: nothing counts until the first working morning
    assert cal.working_minutes_between(sh(2026, 10, 1, 12), sh(2026, 10, 7, 12)) == 0
    # through the make-up Saturday: Fri 17:00 → Mon 09:00 = 30 + 510
    assert cal.working_minutes_between(sh(2026, 10, 9, 17, 0), sh(2026, 10, 12, 9, 0)) == 30 + 510


def test_working_minutes_between_is_the_inverse_of_add(cal):
    start = sh(2026, 9, 30, 16, 7, 30)
    for minutes in (0.25, 1, 59, 60, 83, 510, 511, 2000):
        end = cal.add_working_minutes(start, minutes)
        assert cal.working_minutes_between(start, end) == pytest.approx(minutes)


def test_working_minutes_between_same_instant_and_non_working_span(cal):
    t = sh(2026, 9, 29, 10)
    assert cal.working_minutes_between(t, t) == 0
    assert cal.working_minutes_between(sh(2026, 9, 29, 17, 30), sh(2026, 9, 30, 9, 0)) == 0
    assert cal.working_minutes_between(sh(2026, 9, 29, 6, 0), sh(2026, 9, 29, 23, 0)) == 510


# ---- efficiency -----------------------------------------------------------------


def test_adding_iterates_days_not_minutes(cal, monkeypatch):
    calls: list[date] = []
    real = chinese_calendar.is_workday

    def counting(d):
        calls.append(d)
        return real(d)

    monkeypatch.setattr(calendar_module.chinese_calendar, "is_workday", counting)
    cal.add_working_minutes(sh(2026, 9, 29, 10, 0), 60)
    assert len(calls) <= 2
    calls.clear()
    assert cal.add_working_minutes(sh(2026, 9, 30, 17, 20), 120) == sh(2026, 10, 8, 10, 50)
    assert len(calls) <= 12  # about one look-up per day of the holiday, not per minute
    calls.clear()
    cal.working_minutes_between(sh(2026, 9, 30, 17, 0), sh(2026, 10, 8, 9, 30))
    assert len(calls) <= 12


# ---- custom hours and time zone -------------------------------------------------


def test_custom_working_hours():
    cal = WorkingCalendar(day_start=time(8, 30), day_end=time(12, 0))
    assert cal.add_working_minutes(sh(2026, 9, 29, 11, 30), 60) == sh(2026, 9, 30, 9, 0)
    assert cal.end_of_working_day(date(2026, 9, 29)) == sh(2026, 9, 29, 12, 0)
    assert cal.working_minutes_per_day() == 210
    with pytest.raises(ValueError):
        WorkingCalendar(day_start=time(18, 0), day_end=time(9, 0))


def test_other_time_zone_uses_local_hours():
    cal = WorkingCalendar(tz="UTC")
    start = sh(2026, 9, 29, 17, 0)  # 09:00 UTC
    assert cal.add_working_minutes(start, 60) == datetime(2026, 9, 29, 10, 0, tzinfo=UTC)
    assert cal.add_working_minutes(start, 60).utcoffset() == timedelta(0)


# ---- override files -------------------------------------------------------------


def test_load_overrides_from_yaml(tmp_path):
    path = tmp_path / "overrides.yaml"
    path.write_text('"2027-01-01": false\n2027-02-06: true\n', encoding="utf-8")
    assert load_overrides(path) == {date(2027, 1, 1): False, date(2027, 2, 6): True}


def test_load_overrides_from_json(tmp_path):
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps({"2027-01-01": False, "2027-02-06": True}), encoding="utf-8")
    overrides = load_overrides(path)
    assert overrides == {date(2027, 1, 1): False, date(2027, 2, 6): True}
    cal = WorkingCalendar(overrides=overrides)
    # Thursday 2026-12-31 17:00 + 60 → New Year's Day off → Monday 2027-01-04 09:30
    assert cal.add_working_minutes(sh(2026, 12, 31, 17, 0), 60) == sh(2027, 1, 4, 9, 30)


def test_load_overrides_empty_file_means_none(tmp_path):
    path = tmp_path / "overrides.yaml"
    path.write_text("", encoding="utf-8")
    assert load_overrides(path) == {}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("list.yaml", "- 2027-01-01\n", "mapping"),
        ("bad_key.json", '{"1 January 2027": false}', "YYYY-MM-DD"),
        ("bad_date.json", '{"2027-02-30": false}', "YYYY-MM-DD"),
        ("bad_value.json", '{"2027-01-01": "off"}', "true"),
        ("number_value.json", '{"2027-01-01": 0}', "true"),
        ("broken.json", '{"2027-01-01": fal', "JSON"),
        ("broken.yaml", "2027-01-01: [", "YAML"),
    ],
)
def test_load_overrides_rejects_bad_content(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarOverridesError, match=message) as excinfo:
        load_overrides(path)
    assert name in str(excinfo.value)  # the error names the file


def test_parse_overrides_accepts_dates_and_iso_strings():
    assert parse_overrides({date(2027, 1, 1): False, "2027-02-06": True}) == {
        date(2027, 1, 1): False,
        date(2027, 2, 6): True,
    }
    with pytest.raises(CalendarOverridesError, match="contradictory"):
        parse_overrides({date(2027, 1, 1): False, "2027-01-01": True})


# ---- snapshots (what a workflow plans on) ------------------------------------------------------


def test_a_snapshot_answers_like_the_calendar_inside_its_window_and_is_plain_data(cal):
    overridden = WorkingCalendar(overrides={"2026-10-09": False, "2026-10-11": True})
    snap = overridden.snapshot(date(2026, 9, 1), days=90)
    assert snap.deviations[date(2026, 10, 1)] is False  # National Day: a weekday off
    assert snap.deviations[date(2026, 10, 10)] is True  # make-up Saturday
    assert snap.deviations[date(2026, 10, 11)] is True  # the override wins
    assert date(2026, 9, 29) not in snap.deviations  # an ordinary Tuesday is not written down
    copy = WorkingCalendar.from_snapshot(type(snap).model_validate_json(snap.model_dump_json()))
    for offset in range(90):
        d = date(2026, 9, 1) + timedelta(days=offset)
        assert copy.is_working_day(d) == overridden.is_working_day(d), d
    start = sh(2026, 9, 30, 16, 0)
    assert copy.add_working_minutes(start, 600) == overridden.add_working_minutes(start, 600)
    assert copy.add_working_minutes(start, 700) == sh(2026, 10, 10, 10, 40)  # over the holiday and the day off


def test_outside_its_window_a_snapshot_counts_monday_to_friday_without_asking_chinese_calendar(cal):
    snap = cal.snapshot(date(2026, 9, 1), days=10)
    copy = WorkingCalendar.from_snapshot(snap)
    assert not cal.is_working_day(date(2026, 10, 1))
    assert copy.is_working_day(date(2026, 10, 1))  # Thursday, after the window: Monday–Friday
    with capture_logs() as logs:
        assert copy.is_working_day(date(2030, 1, 1))
    assert _unknown_year_warnings(logs) == []
