"""The callback replay guard on SQLite and PostgreSQL: a signature is used once per department, even when
several requests carry it at the same moment; old signatures are pruned."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from store import Store

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SIG = "9f" * 32


def test_first_use_then_replay(store):
    guard = store.callbacks
    assert guard.first_use("tax", SIG, T0) is True
    assert guard.first_use("tax", SIG, T0 + timedelta(seconds=5)) is False
    assert guard.first_use("social_security", SIG, T0) is True  # the pair is what counts
    assert guard.first_use("tax", "00" * 32, T0) is True


def test_refuses_empty_and_oversized_signatures(store):
    with pytest.raises(ValueError):
        store.callbacks.first_use("tax", "", T0)
    with pytest.raises(ValueError):
        store.callbacks.first_use("tax", "a" * 1025, T0)


def test_forget_before_prunes_only_older_rows(store):
    guard = store.callbacks
    guard.first_use("tax", "old", T0 - timedelta(minutes=10))
    guard.first_use("tax", "edge", T0 - timedelta(minutes=5))
    guard.first_use("tax", "new", T0)
    assert guard.forget_before(T0 - timedelta(minutes=5)) == 1
    assert guard.forget_before(T0 - timedelta(minutes=5)) == 0
    assert guard.first_use("tax", "old", T0) is True  # forgotten: accepted again (its timestamp would refuse it)
    assert guard.first_use("tax", "edge", T0) is False
    assert guard.first_use("tax", "new", T0) is False


def race(stores: list[Store], signature: str, callers: int = 8) -> list[bool]:
    """``callers`` threads, released together, each asking ``first_use`` of the same signature."""
    barrier = threading.Barrier(callers)
    answers: list[bool] = []
    errors: list[BaseException] = []

    def use(store: Store) -> None:
        try:
            barrier.wait(10)
            answers.append(store.callbacks.first_use("tax", signature, T0))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(stores[i % len(stores)],)) for i in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return answers


def test_concurrent_first_use_yields_exactly_one_true(database_url):
    stores = [Store.open(database_url) for _ in range(2)]  # as two processes: two engines, not one pool
    try:
        for round_ in range(5):
            assert sorted(race(stores, f"{round_:02d}" * 32)) == [False] * 7 + [True], round_
    finally:
        for s in stores:
            s.close()
