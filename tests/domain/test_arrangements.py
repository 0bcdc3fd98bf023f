"""A year's official arrangement: what it accepts, and how the working calendar answers with it."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from pydantic import ValidationError

from domain.arrangements import YearArrangement, next_year_warning, packaged_year
from domain.calendar import SHANGHAI, WorkingCalendar, merge_snapshots

# A made-up arrangement for a year chinese-calendar 1.11 does not carry (the shape of a real notice:
# a holiday spanning a weekend, and a make-up Saturday). Not the State Council's 2027 notice.
TEST_2027 = YearArrangement(
    year=2027,
    holidays=(date(2027, 1, 1), date(2027, 1, 4), date(2027, 2, 5), date(2027, 2, 8), date(2027, 2, 9)),
    workdays=(date(2027, 1, 9), date(2027, 2, 20)),
    source="test arrangement",
)


def test_a_loaded_year_is_official_and_answers_its_days() -> None:
    assert not packaged_year(2027), "chinese-calendar learnt 2027: pick a later year for these tests"
    plain, loaded = WorkingCalendar(), WorkingCalendar(arrangements={2027: TEST_2027})
    assert not plain.has_official_data(2027) and loaded.has_official_data(2027)
    assert plain.has_official_data(2026) and loaded.has_official_data(2026)
    assert plain.is_working_day(date(2027, 1, 4)) and not loaded.is_working_day(date(2027, 1, 4))  # a Monday off
    assert not plain.is_working_day(date(2027, 1, 9)) and loaded.is_working_day(date(2027, 1, 9))  # a Saturday on
    assert loaded.is_working_day(date(2027, 1, 5))  # a day it does not list: Monday–Friday
    # overrides (a province's adjustments) still win over the arrangement
    province = WorkingCalendar(arrangements={2027: TEST_2027}, overrides={date(2027, 1, 4): True})
    assert province.is_working_day(date(2027, 1, 4))


def test_deadlines_move_with_the_arrangement() -> None:
    friday = datetime(2027, 1, 1, 10, 0, tzinfo=SHANGHAI)  # New Year's Day 2027, a Friday
    plain, loaded = WorkingCalendar(), WorkingCalendar(arrangements={2027: TEST_2027})
    assert plain.add_working_minutes(friday, 60) == datetime(2027, 1, 1, 11, 0, tzinfo=SHANGHAI)  # guessed
    assert loaded.add_working_minutes(friday, 60).date() == date(2027, 1, 5)


def test_years_without_official_data_between_instants() -> None:
    cal = WorkingCalendar()
    a = datetime(2026, 12, 30, 9, 0, tzinfo=SHANGHAI)
    b = datetime(2028, 1, 3, 9, 0, tzinfo=SHANGHAI)
    assert cal.years_without_official_data(a) == []
    assert cal.years_without_official_data(a, b) == [2027, 2028]
    assert WorkingCalendar(arrangements={2027: TEST_2027}).years_without_official_data(a, b) == [2028]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"holidays": []}, "须列出放假日"),
        ({"holidays": [date(2028, 1, 1)]}, "不在 2027 年内"),
        ({"workdays": [date(2027, 1, 1)]}, "既是放假日又是调休上班日"),
        ({"workdays": [date(2027, 1, 6)]}, "须为周六或周日"),
        ({"source": "  "}, "依据"),
    ],
)
def test_an_arrangement_that_cannot_be_right_is_refused(change: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        YearArrangement.model_validate({**TEST_2027.model_dump(), **change})


def test_days_are_kept_sorted_once() -> None:
    a = YearArrangement(year=2027, holidays=[date(2027, 2, 8), date(2027, 1, 1), date(2027, 2, 8)], source="x")
    assert a.holidays == (date(2027, 1, 1), date(2027, 2, 8))
    assert a.days() == {date(2027, 1, 1): False, date(2027, 2, 8): False}


def test_merged_snapshot_takes_the_new_window_and_keeps_the_old_days_before_it() -> None:
    old = WorkingCalendar(overrides={date(2026, 1, 5): False}).snapshot(date(2026, 1, 1), days=400)
    new = WorkingCalendar(arrangements={2027: TEST_2027}).snapshot(date(2026, 6, 1), days=400)
    merged = merge_snapshots(old, new)
    assert merged.first == date(2026, 1, 1) and merged.last == new.last
    assert merged.deviations[date(2026, 1, 5)] is False  # before the new window: as the old one planned it
    assert merged.deviations[date(2027, 1, 4)] is False  # inside it: the loaded arrangement
    assert date(2027, 1, 4) not in old.deviations
    cal = WorkingCalendar.from_snapshot(merged)
    assert not cal.is_working_day(date(2027, 1, 4)) and cal.is_working_day(date(2027, 1, 9))
    assert cal.day_start == time(9, 0)


def test_the_board_warns_from_november_while_next_year_is_missing() -> None:
    known = {2026}.__contains__
    assert next_year_warning(date(2026, 10, 31), known) is None
    warning = next_year_warning(date(2026, 11, 1), known)
    assert warning is not None and "2027 年的法定节假日安排尚未载入" in warning and "/admin/calendar/2027" in warning
    assert next_year_warning(date(2026, 12, 31), {2026, 2027}.__contains__) is None  # loaded: nothing to warn of
    assert next_year_warning(date(2027, 1, 2), known) is None  # from November on only
