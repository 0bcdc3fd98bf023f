"""Working time on the Chinese statutory calendar (DOMAIN.md "Deadlines (SLA) and escalation").

Working days from overrides, then a year's loaded official arrangement (``domain.arrangements``), then
chinese-calendar, then Monday–Friday for a year without official data; snapshots carry the calendar into
workflows. Pure: no wall clock, no files. Conventions: docs/calendar.md.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog
import yaml
from pydantic import BaseModel, ConfigDict

from domain.arrangements import YearArrangement, packaged_year

TIME_ZONE_NAME = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TIME_ZONE_NAME)  # the one Asia/Shanghai of kaiban
DEFAULT_TIME_ZONE = TIME_ZONE_NAME
DEFAULT_DAY_START = time(9, 0)
DEFAULT_DAY_END = time(17, 30)

# How many consecutive days off we accept before concluding the calendar is broken
# (e.g. overrides that turn a whole year off). The longest real holiday is ~9 days.
_MAX_DAYS_WITHOUT_WORK = 366

_warned_years: set[int] = set()
_warned_lock = threading.Lock()


class CalendarOverridesError(ValueError):
    """An override file or mapping that does not say ``{date: bool}``."""


def _warn_unknown_year_once(year: int) -> None:
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    # Looked up at call time (once per year), so a logging configuration made later,
    # or structlog.testing.capture_logs, is honoured.
    structlog.get_logger(__name__).warning(
        "calendar_year_unknown",
        year=year,
        fallback="monday_to_friday",
        hint="add an override file for this year",
    )


def _reset_unknown_year_warnings() -> None:
    """Forget which years were warned about (for tests)."""
    with _warned_lock:
        _warned_years.clear()


SNAPSHOT_DAYS = 400  # a snapshot's window: the days a running application may still plan against


class CalendarSnapshot(BaseModel):
    """A working calendar as data for the days ``first``..``last``: the days whose working status differs
    from Monday–Friday (``deviations``, true = working day), the working hours and the time zone."""

    model_config = ConfigDict(frozen=True)

    first: date
    last: date
    day_start: time
    day_end: time
    tz: str
    deviations: dict[date, bool]


class WorkingCalendar:
    """Working days and working hours; arithmetic in working minutes."""

    def __init__(
        self,
        *,
        day_start: time = DEFAULT_DAY_START,
        day_end: time = DEFAULT_DAY_END,
        tz: str | tzinfo = DEFAULT_TIME_ZONE,
        overrides: Mapping[date, bool] | None = None,
        arrangements: Mapping[int, YearArrangement] | None = None,
    ) -> None:
        if day_start.tzinfo is not None or day_end.tzinfo is not None:
            raise ValueError("day_start and day_end are local wall-clock times: give them without tzinfo")
        if not day_start < day_end:
            raise ValueError(f"working hours must start before they end: {day_start}–{day_end}")
        self.day_start = day_start
        self.day_end = day_end
        self.tz: tzinfo = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.overrides: dict[date, bool] = parse_overrides(overrides or {})
        self.arrangements: dict[int, YearArrangement] = dict(arrangements or {})
        self._arranged: dict[int, dict[date, bool]] = {y: a.days() for y, a in self.arrangements.items()}
        self._snapshots: dict[tuple[date, int], CalendarSnapshot] = {}

    def __repr__(self) -> str:
        return (
            f"WorkingCalendar(day_start={self.day_start.isoformat()}, day_end={self.day_end.isoformat()}, "
            f"tz={self.tz}, overrides={len(self.overrides)}, arrangements={sorted(self.arrangements)})"
        )

    # ---- snapshots --------------------------------------------------------------

    def snapshot(self, first: date, days: int = SNAPSHOT_DAYS) -> CalendarSnapshot:
        """This calendar written down for ``days`` days from ``first`` (kept: a calendar does not change)."""
        cached = self._snapshots.get((first, days))
        if cached is not None:
            return cached
        last = first + timedelta(days=days - 1)
        deviations = {}
        d = first
        while d <= last:
            working = self.is_working_day(d)
            if working != (d.weekday() < 5):
                deviations[d] = working
            d += timedelta(days=1)
        snap = CalendarSnapshot(
            first=first,
            last=last,
            day_start=self.day_start,
            day_end=self.day_end,
            tz=getattr(self.tz, "key", None) or str(self.tz),
            deviations=deviations,
        )
        if len(self._snapshots) > 8:
            self._snapshots.clear()
        self._snapshots[(first, days)] = snap
        return snap

    @classmethod
    def from_snapshot(cls, snap: CalendarSnapshot) -> WorkingCalendar:
        """A calendar that answers from the snapshot: its deviations inside its window, Monday–Friday
        outside it (no chinese-calendar lookup, no warning: a snapshot is all a workflow may know)."""
        return _SnapshotCalendar(snap)

    # ---- days -------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Overrides first, then a loaded arrangement of the year, then chinese_calendar; Monday–Friday for a
        year without official data."""
        d = _as_date(d)
        override = self.overrides.get(d)
        if override is not None:
            return override
        arranged = self._arranged.get(d.year)
        if arranged is not None:
            return arranged.get(d, d.weekday() < 5)
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            _warn_unknown_year_once(d.year)
            return d.weekday() < 5

    def has_official_data(self, year: int) -> bool:
        """Whether ``year``'s holidays are known (loaded, or carried by chinese-calendar), not guessed."""
        return year in self.arrangements or packaged_year(year)

    def years_without_official_data(self, *instants: datetime) -> list[int]:
        """The years from the earliest to the latest of ``instants`` (local) planned on Monday–Friday only."""
        if not instants:
            return []
        years = [self.to_local(t).year for t in instants]
        return [y for y in range(min(years), max(years) + 1) if not self.has_official_data(y)]

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        start = _as_date(d)
        for offset in range(1, _MAX_DAYS_WITHOUT_WORK + 1):
            candidate = start + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {_MAX_DAYS_WITHOUT_WORK} days after {start}: check the overrides")

    def start_of_working_day(self, d: date) -> datetime:
        """The instant working hours open on working day ``d``."""
        self._require_working_day(d)
        return self._at(d, self.day_start)

    def end_of_working_day(self, d: date) -> datetime:
        """The instant working hours close on working day ``d`` (17:30 by default)."""
        self._require_working_day(d)
        return self._at(d, self.day_end)

    def working_minutes_per_day(self) -> float:
        span = datetime.combine(date.min, self.day_end) - datetime.combine(date.min, self.day_start)
        return span.total_seconds() / 60

    # ---- instants ---------------------------------------------------------------

    def to_local(self, t: datetime) -> datetime:
        """``t`` in the calendar's time zone; ``ValueError`` if ``t`` is naive."""
        if not isinstance(t, datetime):
            raise TypeError(f"expected a datetime, got {type(t).__name__}")
        if t.tzinfo is None or t.tzinfo.utcoffset(t) is None:
            raise ValueError(f"naive datetime {t.isoformat()}: give an aware datetime (with a time zone)")
        return t.astimezone(self.tz)

    def next_working_start(self, t: datetime) -> datetime:
        """``t`` itself if it is working time, else the next instant working time begins."""
        local = self.to_local(t)
        d = local.date()
        if self.is_working_day(d):
            if local.time() < self.day_start:
                return self._at(d, self.day_start)
            if local.time() < self.day_end:
                return local
        return self._at(self.next_working_day(d), self.day_start)

    def add_working_minutes(self, start: datetime, minutes: int | float) -> datetime:
        """The instant ``minutes`` of working time have elapsed from ``start``.

        A start outside working time counts from the next working start (so adding 0
        minutes to 20:00 gives the next working morning). Iterates working days, never
        minutes. ``minutes`` must not be negative.
        """
        return self.add_working_time(start, _minutes(minutes))

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """``add_working_minutes`` with a ``timedelta`` (exact to the microsecond)."""
        if amount < timedelta(0):
            raise ValueError(f"cannot add a negative amount of working time: {amount}")
        cur = self.next_working_start(start)
        remaining = amount
        while True:
            day_end = self._at(cur.date(), self.day_end)
            available = _utc(day_end) - _utc(cur)
            if remaining <= available:
                return (_utc(cur) + remaining).astimezone(self.tz)
            remaining -= available
            cur = self._at(self.next_working_day(cur.date()), self.day_start)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        a_local, b_local = self.to_local(a), self.to_local(b)
        if b_local < a_local:
            return -self.working_time_between(b_local, a_local)
        total = timedelta(0)
        d = a_local.date()
        last = b_local.date()
        while d <= last:
            if self.is_working_day(d):
                lo = max(_utc(a_local), _utc(self._at(d, self.day_start)))
                hi = min(_utc(b_local), _utc(self._at(d, self.day_end)))
                if hi > lo:
                    total += hi - lo
            d += timedelta(days=1)
        return total

    def working_minutes_between(self, a: datetime, b: datetime) -> float:
        """Working minutes from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        return self.working_time_between(a, b).total_seconds() / 60

    # ---- helpers ----------------------------------------------------------------

    def _at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.tz)

    def _require_working_day(self, d: date) -> None:
        if not self.is_working_day(d):
            raise ValueError(f"{_as_date(d).isoformat()} is not a working day")


def merge_snapshots(old: CalendarSnapshot, new: CalendarSnapshot) -> CalendarSnapshot:
    """``new`` inside its window, ``old`` outside it: a running application's calendar after a year's
    arrangement was loaded (its days before the new window are kept as it planned them). Pure."""
    kept = {d: v for d, v in old.deviations.items() if not new.first <= d <= new.last}
    return CalendarSnapshot(
        first=min(old.first, new.first),
        last=max(old.last, new.last),
        day_start=new.day_start,
        day_end=new.day_end,
        tz=new.tz,
        deviations=dict(sorted({**kept, **new.deviations}.items())),
    )


class _SnapshotCalendar(WorkingCalendar):
    def __init__(self, snap: CalendarSnapshot) -> None:
        super().__init__(day_start=snap.day_start, day_end=snap.day_end, tz=snap.tz)
        self._snap = snap

    def is_working_day(self, d: date) -> bool:
        d = _as_date(d)
        return self._snap.deviations.get(d, d.weekday() < 5)


def _as_date(d: date) -> date:
    if isinstance(d, datetime):
        raise TypeError("expected a date, got a datetime: pass dt.date() in the calendar's time zone")
    if not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")
    return d


def _utc(t: datetime) -> datetime:
    # Arithmetic between aware datetimes sharing one tzinfo is wall-clock arithmetic in
    # Python; going through UTC keeps it right in zones with daylight saving time.
    return t.astimezone(UTC)


def _minutes(minutes: int | float) -> timedelta:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise TypeError(f"minutes must be a number, got {type(minutes).__name__}")
    if minutes != minutes or minutes in (float("inf"), float("-inf")):
        raise ValueError(f"minutes must be finite, got {minutes}")
    return timedelta(minutes=minutes)


# ---- overrides ------------------------------------------------------------------


def parse_overrides(data: Mapping[Any, Any]) -> dict[date, bool]:
    """``{date or "YYYY-MM-DD": bool}`` → ``{date: bool}``; ``CalendarOverridesError`` otherwise."""
    if not isinstance(data, Mapping):
        raise CalendarOverridesError(
            f'overrides must be a mapping like {{"2027-01-01": false}}, got {type(data).__name__}'
        )
    result: dict[date, bool] = {}
    for key, value in data.items():
        if isinstance(key, datetime):
            raise CalendarOverridesError(f"override key {key!r} is a datetime: give a date (YYYY-MM-DD)")
        if isinstance(key, date):
            d = key
        elif isinstance(key, str):
            try:
                if len(key) != 10:
                    raise ValueError
                d = date.fromisoformat(key)
            except ValueError:
                raise CalendarOverridesError(f"override key {key!r} is not a date in the form YYYY-MM-DD") from None
        else:
            raise CalendarOverridesError(f"override key {key!r} is not a date in the form YYYY-MM-DD")
        if not isinstance(value, bool):
            raise CalendarOverridesError(
                f"override for {d.isoformat()} must be true (working day) or false (day off), got {value!r}"
            )
        if d in result and result[d] != value:
            raise CalendarOverridesError(f"contradictory overrides for {d.isoformat()}")
        result[d] = value
    return result


def parse_overrides_text(text: str, *, source: str, is_json: bool = False) -> dict[date, bool]:
    """The overrides in a file's text (JSON or YAML) of ``{"YYYY-MM-DD": bool}``; the caller reads the file.

    true = working day, false = day off. An empty text means no overrides. Raises
    ``CalendarOverridesError`` naming ``source`` for content that is not such a mapping.
    """
    try:
        if is_json:
            data = json.loads(text) if text.strip() else None
        else:
            data = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CalendarOverridesError(f"{source}: not valid {'JSON' if is_json else 'YAML'}: {exc}") from exc
    if data is None:
        return {}
    try:
        return parse_overrides(data)
    except CalendarOverridesError as exc:
        raise CalendarOverridesError(f"{source}: {exc}") from exc
