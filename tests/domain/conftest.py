import pytest

from domain import calendar as calendar_module
from domain.calendar import WorkingCalendar


@pytest.fixture
def _fresh_warnings():
    """Forget which unknown years were already warned about (once-per-process memory)."""
    calendar_module._reset_unknown_year_warnings()
    yield
    calendar_module._reset_unknown_year_warnings()


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()
