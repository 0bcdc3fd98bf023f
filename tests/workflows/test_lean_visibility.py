"""Patches LEAN, ONE_CLOCK and PER_EVENT (workflows.patches): a new application records one patch marker (it
stands for every earlier patch), writes the board's memo at each change and waits for all its ladders' steps
with one timer, cancelling none; a history from before LEAN (each patch marked, the memo written at every
change), one from before ONE_CLOCK (a timer per ladder) and one from before PER_EVENT (the memo written at most
once per workflow task) still replay on the same code."""

from __future__ import annotations

import uuid

from temporalio import workflow
from temporalio.api.history.v1 import History
from temporalio.worker import Replayer, Worker

from domain.status import ApplicationStatus
from tests.workflows.test_application_workflow import FakeDepartments, application_input, worker_kwargs
from workflows import patches
from workflows.application import ApplicationWorkflow
from workflows.department import UNBOUNDED_TRANSIENT_RETRIES
from workflows.patches import LEAN, ONE_CLOCK, PER_EVENT
from workflows.visibility import TASKS_MEMO


async def _application(env, sample_json, fakes: FakeDepartments) -> History:
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue)
    async with Worker(env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await env.client.start_workflow(ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue)
        assert (await handle.result()).status is ApplicationStatus.COMPLETED
        return await handle.fetch_history()


def _memo_writes_per_task(history: History) -> list[int]:
    """How many memo updates each workflow task's completion carried."""
    counts: list[int] = []
    for e in history.events:
        if e.HasField("workflow_task_completed_event_attributes"):
            counts.append(0)
        elif e.HasField("workflow_properties_modified_event_attributes"):
            counts[-1] += 1
    return counts


def _markers(history: History) -> list[bytes]:
    """The patch markers (not the local activity's)."""
    return [
        e.marker_recorded_event_attributes.SerializeToString()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]


async def _recorded_before(env, sample_json, monkeypatch, take_lean) -> History:
    """An application recorded with ``take_lean`` as the code before a patch had it."""
    with monkeypatch.context() as m:
        m.setattr(patches, "take_lean", take_lean)
        return await _application(env, sample_json, FakeDepartments(reviews=1))


async def _replays(env, history: History) -> None:
    replayer = Replayer(
        workflows=worker_kwargs(FakeDepartments())["workflows"], data_converter=env.client.data_converter
    )
    await replayer.replay_workflow(history)


def _count(history: History, field: str) -> int:
    return sum(1 for e in history.events if e.HasField(field))


def _ladder_timers(history: History) -> int:
    """The timers started and never fired (the inquiries' fire: their departments answer after one review)."""
    return _count(history, "timer_started_event_attributes") - _count(history, "timer_fired_event_attributes")


async def _board_rows(env, history: History) -> list[dict]:
    memo = [
        e.workflow_properties_modified_event_attributes.upserted_memo.fields[TASKS_MEMO]
        for e in history.events
        if e.HasField("workflow_properties_modified_event_attributes")
    ]
    return [(await env.client.data_converter.decode([p], [dict]))[0] for p in memo]


async def test_a_new_application_marks_one_patch_and_waits_for_its_ladders_with_one_timer(time_env, sample_json):
    fakes = FakeDepartments(reviews=1)
    history = await _application(time_env, sample_json, fakes)
    [marker] = _markers(history)
    assert PER_EVENT.encode() in marker and ONE_CLOCK.encode() not in marker and LEAN.encode() not in marker
    # eight ladders (the application's, seven departments'): one timer for the earliest step, a new one only for an
    # earlier step than it; the steps are hours away, so none fires, none is cancelled (a timer each: 8 and 8).
    # The timers that fired are the inquiries' (each department said "in review" once)
    ladder_timers = _ladder_timers(history)
    assert 1 <= ladder_timers < 8 and _count(history, "timer_canceled_event_attributes") == 0, ladder_timers
    rows = await _board_rows(time_env, history)
    seen = {code for r in rows for code in r}
    assert seen == {"amr", "psb_seal", "tax", "hrss", "nhsa", "hpf", "bank"}  # every task was on the board
    assert all(set(row) == {"status", "dispatched_at", "due_at", "receipt_no"} for r in rows for row in r.values())
    # written at each change (patch PER_EVENT): every department's filing and its review shown as it happened
    statuses = {(code, row["status"]) for r in rows for code, row in r.items()}
    assert {(code, s) for code in seen for s in ("dispatched", "in_review")} <= statuses, statuses
    await _replays(time_env, history)  # raises on any divergence


def one_clock_only() -> bool:
    """``take_lean`` as it was between ONE_CLOCK and PER_EVENT."""
    clock = workflow.patched(ONE_CLOCK)
    setattr(workflow.instance(), patches._FLAG, clock)
    setattr(workflow.instance(), patches._CLOCK_FLAG, clock)
    return clock


async def test_a_history_from_before_per_event_wrote_its_board_once_per_workflow_task_and_replays(
    time_env, sample_json, monkeypatch
):
    history = await _recorded_before(time_env, sample_json, monkeypatch, one_clock_only)
    [marker] = _markers(history)
    assert ONE_CLOCK.encode() in marker and PER_EVENT.encode() not in marker
    writes = _memo_writes_per_task(history)
    assert max(writes) == 1 and sum(writes) >= 3, writes  # the board still followed the departments
    assert _count(history, "timer_canceled_event_attributes") == 0
    await _replays(time_env, history)  # raises on any divergence


async def test_a_history_from_before_lean_replays_on_the_new_code(time_env, sample_json, monkeypatch):
    """Recorded as the code before LEAN did (LEAN never taken: every patch marked where it is checked, the memo
    written at every change), then replayed with LEAN in the code."""
    history = await _recorded_before(time_env, sample_json, monkeypatch, lambda: False)
    markers = _markers(history)
    assert not any(LEAN.encode() in x for x in markers)
    assert any(UNBOUNDED_TRANSIENT_RETRIES.encode() in x for x in markers) and len(markers) >= 5
    assert max(_memo_writes_per_task(history)) >= 2  # the memo at every change, as before
    await _replays(time_env, history)  # raises on any divergence


def _lean_only() -> bool:
    """``take_lean`` as it was between LEAN and ONE_CLOCK."""
    lean = workflow.patched(LEAN)
    setattr(workflow.instance(), patches._FLAG, lean)
    return lean


async def test_a_history_from_before_one_clock_replays_on_the_new_code(time_env, sample_json, monkeypatch):
    """Recorded with LEAN and a timer per ladder (each cancelled when its department ends), replayed with
    ONE_CLOCK in the code: the workflow takes LEAN's path again."""
    history = await _recorded_before(time_env, sample_json, monkeypatch, _lean_only)
    [marker] = _markers(history)
    assert LEAN.encode() in marker and ONE_CLOCK.encode() not in marker
    cancelled = _count(history, "timer_canceled_event_attributes")
    assert cancelled >= 7, cancelled  # a timer each department ladder, cancelled at its end
    await _replays(time_env, history)  # raises on any divergence
