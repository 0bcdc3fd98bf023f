"""The loaded arrangements in kaiban's store: kept per year, replaced by a new load, read back as loaded."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.arrangements import YearArrangement
from store import Store


def test_an_arrangement_is_kept_replaced_and_read_back(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'kaiban.db'}")
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    first = YearArrangement(year=2027, holidays=[date(2027, 1, 1)], source="first notice")
    assert store.calendars.get(2027) is None and store.calendars.all() == []
    assert store.calendars.put(first, loaded_by="admin-1", loaded_at=at) is True
    assert store.calendars.put(first, loaded_by="admin-2", loaded_at=at) is False  # the same again: unchanged
    loaded = store.calendars.get(2027)
    assert loaded is not None and loaded.arrangement == first and loaded.loaded_by == "admin-1"
    assert loaded.loaded_at == at
    second = first.model_copy(update={"holidays": (date(2027, 1, 1), date(2027, 2, 8)), "source": "corrected"})
    assert store.calendars.put(second, loaded_by="admin-2", loaded_at=at) is True
    reopened = Store.open(f"sqlite:///{tmp_path / 'kaiban.db'}")
    assert [y.arrangement for y in reopened.calendars.all()] == [second]
    assert reopened.calendars.get(2027).loaded_by == "admin-2"  # type: ignore[union-attr]
