"""The notice store on SQLite and PostgreSQL: idempotent records, newest-first lists, delivery bookkeeping,
several processes writing at once. (These were the SQLite sink's tests in tests/activities.)"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from runtime.settings import ROOT
from store import Notice, Store
from tests.support.notices import MESSAGE, T0, note_fields

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEBHOOK = "webhook"


def note(key: str = "KB20261130-AAAA.tax.warn.2.v1", **fields: Any) -> Notice:
    return Notice(**note_fields(key, **fields))


def test_record_is_idempotent_by_key(store, database_url):
    sink = store.notices
    n = note()
    assert sink.record(n) is True
    assert sink.record(dataclasses.replace(n, message="第二次")) is False
    rows = sink.list()
    assert len(rows) == 1
    row = rows[0]
    assert row["message"] == MESSAGE  # the first write wins
    assert row["fired_at"] == n.fired_at and row["due_at"] == n.due_at and row["planned_at"] == n.planned_at
    assert {
        k: row[k] for k in ("key", "application_id", "department", "level", "audience", "sequence", "window_id")
    } == {
        "key": n.key,
        "application_id": n.application_id,
        "department": "tax",
        "level": "warn",
        "audience": "department_supervisor",
        "sequence": 2,
        "window_id": "W-07",
    }
    assert row["delivery_status"] == "recorded" and row["deliveries"] == []
    # a second store on the same database sees the same row and still refuses the duplicate
    again = Store(database_url)
    try:
        assert again.notices.record(n) is False
        assert [r["key"] for r in again.notices.list()] == [n.key]
    finally:
        again.close()


def test_list_is_newest_first_and_filters(store):
    sink = store.notices
    a = note("a", level="remind", audience="department_handler", sequence=1, fired_at=T0)  # 02:00 UTC
    # written in UTC, but one hour later than ``a``: text order would put it first, time order last
    b = note(
        "b",
        level="warn",
        audience="department_supervisor",
        sequence=2,
        fired_at=datetime(2026, 11, 30, 3, 0, tzinfo=UTC),
    )
    c = note("c", level="breach", audience="window_supervisor", sequence=3, fired_at=T0 + timedelta(hours=2))
    d = note("d", application_id="KB20261130-BBBB", department="hpf", level="warn", audience="department_supervisor",
             fired_at=T0 + timedelta(minutes=30))  # fmt: skip
    e = note("e", department=None, level="breach", audience="window_supervisor", fired_at=T0 + timedelta(hours=3))
    for n in (c, a, e, b, d):  # insertion order must not matter
        sink.record(n)

    keys = lambda rows: [r["key"] for r in rows]  # noqa: E731
    assert keys(sink.list()) == ["e", "c", "b", "d", "a"]
    assert keys(sink.list(limit=2)) == ["e", "c"]
    assert keys(sink.list(application_id="KB20261130-AAAA")) == ["e", "c", "b", "a"]
    assert keys(sink.list(application_id="KB20261130-BBBB")) == ["d"]
    assert keys(sink.list(audience="department_supervisor")) == ["b", "d"]
    assert keys(sink.list(department="tax")) == ["c", "b", "a"]
    assert keys(sink.list(level="breach")) == ["e", "c"]
    assert keys(sink.list(level=["remind", "warn"])) == ["b", "d", "a"]
    assert keys(sink.list(level=[])) == []
    assert keys(sink.list(application_id="KB20261130-AAAA", audience="department_supervisor", level="warn")) == ["b"]
    assert keys(sink.list(application_id="nope")) == []
    assert sink.list(department=None)[0]["department"] is None  # None means "no filter"; stored None reads back


def test_same_instant_is_ordered_by_arrival_and_naive_times_are_utc(store):
    sink = store.notices
    naive = datetime(2026, 11, 30, 2, 0)  # taken as UTC, i.e. T0
    sink.record(note("first", fired_at=T0))
    sink.record(note("second", fired_at=naive))
    rows = sink.list()
    assert [r["key"] for r in rows] == ["second", "first"]
    assert rows[0]["fired_at"] == T0 and rows[0]["fired_at"].tzinfo is not None


def test_delivery_bookkeeping(store):
    sink = store.notices
    n = note()
    sink.record(n)
    assert sink.delivery(n.key, WEBHOOK) is None

    sink.mark_failed(n.key, WEBHOOK, "webhook answered HTTP 500", status_code=500)
    d = sink.delivery(n.key, WEBHOOK)
    assert (d["status"], d["attempts"], d["last_status_code"], d["last_error"]) == (
        "failed",
        1,
        500,
        "webhook answered HTTP 500",
    )
    assert d["delivered_at"] is None
    assert sink.get(n.key)["delivery_status"] == "failed"

    sink.mark_failed(n.key, WEBHOOK, "timed out")
    d = sink.delivery(n.key, WEBHOOK)
    assert (d["status"], d["attempts"], d["last_status_code"], d["last_error"]) == ("failed", 2, None, "timed out")

    sink.mark_delivered(n.key, WEBHOOK, 204)
    row = sink.get(n.key)
    assert row["delivery_status"] == "delivered"
    [d] = row["deliveries"]
    assert (d["channel"], d["status"], d["attempts"], d["last_status_code"]) == (WEBHOOK, "delivered", 3, 204)
    assert d["last_error"] == "timed out"  # kept for the record
    assert d["delivered_at"] is not None and d["first_attempt_at"] <= d["last_attempt_at"]

    sink.mark_failed(n.key, WEBHOOK, "late duplicate failed")  # once delivered, stays delivered
    assert sink.delivery(n.key, WEBHOOK)["status"] == "delivered"

    sink.mark_failed(n.key, "sms", "x" * 2000)  # another channel; errors are kept short
    assert len(sink.delivery(n.key, "sms")["last_error"]) == 500
    assert [d["channel"] for d in sink.get(n.key)["deliveries"]] == ["sms", WEBHOOK]
    assert sink.get(n.key)["delivery_status"] == "delivered"

    with pytest.raises(KeyError):
        sink.mark_delivered("unknown", WEBHOOK, 200)
    with pytest.raises(KeyError):
        sink.mark_failed("unknown", WEBHOOK, "x")
    assert sink.get("unknown") is None


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from store import Notice, Store
    store = Store(sys.argv[1])
    t0 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
    new = 0
    for i in range(int(sys.argv[2]), int(sys.argv[3])):
        n = Notice(key=f"k{i}", application_id="KB1", level="warn", audience="window_supervisor", sequence=i,
                   due_at=t0, planned_at=t0, fired_at=t0 + timedelta(seconds=i), window_id="W", message="m")
        new += store.notices.record(n)
        store.notices.mark_failed(n.key, "webhook", "x")
    store.close()
    print(new)
    """
)


def test_several_processes_share_the_store(store, database_url):
    reader = store.notices
    # two writers with overlapping keys (k50..k99 written by both), while this process reads
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, database_url, lo, hi], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for lo, hi in (("0", "100"), ("50", "150"))
    ]
    while any(p.poll() is None for p in procs):
        reader.list(limit=10)
        time.sleep(0.005)  # reading along, without taking a whole core from the writers
    outs = [p.communicate()[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum(int(o) for o in outs) == 150  # each key new exactly once
    rows = reader.list(limit=1000)
    assert len(rows) == 150
    assert [r["key"] for r in rows[:2]] == ["k149", "k148"]
    overlapping = reader.get("k75")["deliveries"][0]
    assert overlapping["attempts"] == 2  # both writers' attempts counted


def test_many_keys_read_in_chunks(store):
    for i in range(1203):
        store.notices.record(note(f"n{i:04d}", fired_at=T0 + timedelta(seconds=i)))
        if i % 2:
            store.notices.mark_failed(f"n{i:04d}", WEBHOOK, "x")
    rows = store.notices.list(limit=1000)
    assert len(rows) == 1000 and rows[0]["key"] == "n1202"
    assert sum(r["delivery_status"] == "failed" for r in rows) == 500
