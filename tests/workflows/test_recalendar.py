"""A year's arrangement loaded while applications run: each re-plans its deadlines (time-skipping server).

The new calendar arrives as the ``recalendar`` signal. Deadlines planned from working time move; a deadline a
supervisor set stays; the same calendar sent twice changes nothing; the history replays.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.worker import Replayer, Worker

from domain.calendar import WorkingCalendar, merge_snapshots
from domain.deadlines import plan_application, plan_task, recalendar
from runtime.settings import Settings
from tests.workflows.test_application_workflow import FakeDepartments, application_input, worker_kwargs
from tests.workflows.test_deadlines import TIMING, dispatched
from workflows.application import ApplicationWorkflow
from workflows.models import DeadlineExtension

SETTINGS = Settings()
POLICY = SETTINGS.sla_policy
BUDGET = {code: SETTINGS.catalog().get(code).budget_minutes for code in ("hrss", "tax")}


async def test_running_application_replans_on_a_new_calendar(time_env, sample_json):
    fakes = FakeDepartments(hold={"hrss": lambda f: True, "tax": lambda f: True})  # neither answers
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=TIMING)
    kwargs = worker_kwargs(fakes)
    async with Worker(time_env.client, task_queue=queue, **kwargs):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        hrss = await dispatched(time_env, handle, "hrss")
        tax = await dispatched(time_env, handle, "tax")
        before = await handle.query(ApplicationWorkflow.status)
        fixed = hrss.due_at + timedelta(days=3)
        await handle.execute_update(
            ApplicationWorkflow.extend_deadline,
            DeadlineExtension(department="hrss", new_due_at=fixed, reason="等待材料", requested_by="sup-01"),
        )
        # the new calendar: the ten days from submission are days off (as a loaded arrangement might make them)
        first = SETTINGS.working_calendar().to_local(inp.submitted_at).date()
        off = {first + timedelta(days=n): False for n in range(10)}
        change = recalendar(first, WorkingCalendar(overrides=off), "test arrangement")
        await handle.signal(ApplicationWorkflow.recalendar, change)
        await handle.signal(ApplicationWorkflow.recalendar, change)  # the same again: nothing more
        for _ in range(50):
            after = await handle.query(ApplicationWorkflow.status)
            if after.due_at != before.due_at:
                break
            await time_env.sleep(timedelta(seconds=1))
        history = await handle.fetch_history()
        await handle.terminate("test over")

    old = WorkingCalendar(overrides={})  # what the workflow planned on: its basis from the settings' calendar
    basis = old.snapshot(first - timedelta(days=7))
    new = WorkingCalendar.from_snapshot(merge_snapshots(basis, change.calendar))
    assert after.due_at == plan_application(inp.submitted_at, new, POLICY).due_at != before.due_at
    states = {d.code: d for d in after.departments}
    # tax's deadline from working time moved past the days off; hrss's deadline set by a supervisor stays
    assert states["tax"].due_at == plan_task(tax.dispatched_at, BUDGET["tax"], new, POLICY).due_at != tax.due_at
    assert states["tax"].due_at.date() >= first + timedelta(days=10)
    assert states["hrss"].due_at == fixed
    notes = [h for h in after.history if h.event == "calendar_updated"]
    assert len(notes) == 1 and "test arrangement" in (notes[0].detail or "")
    replayer = Replayer(workflows=kwargs["workflows"], data_converter=time_env.client.data_converter)
    await replayer.replay_workflow(history)  # raises on any divergence
