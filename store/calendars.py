"""The official holiday arrangements admins loaded, one row a year (loading a year again replaces it).

Each load is also in the audit trail (the API writes it). Calls block briefly: from async code run them in a
thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from domain.arrangements import YearArrangement
from store.db import Database
from store.tables import CalendarYearRow


@dataclass(frozen=True, slots=True)
class LoadedYear:
    arrangement: YearArrangement
    loaded_by: str
    loaded_at: datetime


class CalendarStore:
    """The loaded arrangements. Safe from any thread or process."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def put(self, arrangement: YearArrangement, *, loaded_by: str, loaded_at: datetime) -> bool:
        """Keep ``arrangement`` for its year; False when exactly this arrangement was there already."""
        values = {
            "holidays": [d.isoformat() for d in arrangement.holidays],
            "workdays": [d.isoformat() for d in arrangement.workdays],
            "source": arrangement.source,
            "loaded_by": loaded_by,
            "loaded_at": loaded_at,
        }
        with self.db.writing() as session:
            row = session.get(CalendarYearRow, arrangement.year, with_for_update=True)
            if row is None:
                session.add(CalendarYearRow(year=arrangement.year, **values))
                return True
            if _arrangement(row) == arrangement:
                return False
            for key, value in values.items():
                setattr(row, key, value)
            return True

    def get(self, year: int) -> LoadedYear | None:
        with self.db.reading() as session:
            row = session.get(CalendarYearRow, year)
            return None if row is None else _loaded(row)

    def all(self) -> list[LoadedYear]:
        """Every loaded year, in order."""
        with self.db.reading() as session:
            rows = session.scalars(select(CalendarYearRow).order_by(CalendarYearRow.year)).all()
            return [_loaded(row) for row in rows]


def _arrangement(row: CalendarYearRow) -> YearArrangement:
    return YearArrangement(
        year=row.year,
        holidays=tuple(date.fromisoformat(d) for d in row.holidays),
        workdays=tuple(date.fromisoformat(d) for d in row.workdays),
        source=row.source,
    )


def _loaded(row: CalendarYearRow) -> LoadedYear:
    return LoadedYear(arrangement=_arrangement(row), loaded_by=row.loaded_by, loaded_at=row.loaded_at)
