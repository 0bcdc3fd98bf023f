"""A year's arrangement as a file (a fresh install), and an admin's load winning over it."""

from __future__ import annotations

from datetime import date

import pytest

from domain.arrangements import YearArrangement
from runtime.settings import Settings


def test_a_year_file_makes_the_year_official_and_a_load_wins(tmp_path) -> None:
    (tmp_path / "2027.yaml").write_text(
        'holidays: ["2027-01-01", "2027-01-04"]\nworkdays: ["2027-01-09"]\nsource: "test file"\n', encoding="utf-8"
    )
    (tmp_path / "README.md").write_text("not a year", encoding="utf-8")
    settings = Settings(calendar_years_dir=tmp_path, calendar_overrides_path=None)
    calendar = settings.working_calendar()
    assert calendar.has_official_data(2027)
    assert not calendar.is_working_day(date(2027, 1, 4)) and calendar.is_working_day(date(2027, 1, 9))
    assert settings.calendar_year_files()[2027].source == "test file"
    loaded = YearArrangement(year=2027, holidays=[date(2027, 1, 1)], source="loaded by an admin")
    relaid = settings.working_calendar({2027: loaded})
    assert relaid.is_working_day(date(2027, 1, 4)) and not relaid.is_working_day(date(2027, 1, 9))
    assert not Settings(calendar_years_dir=None).working_calendar().has_official_data(2099)


def test_a_wrong_year_file_names_itself(tmp_path) -> None:
    (tmp_path / "2028.json").write_text('{"holidays": ["2027-01-01"], "source": "x"}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"2028\.json.*不在 2028 年内"):
        Settings(calendar_years_dir=tmp_path).working_calendar()
