"""Deadlines and the escalation ladder on Temporal's time-skipping server.

A department (``hrss``) does not answer; time is skipped; every ladder step must fire
at exactly the instant the working calendar gives, to the right audience, and nothing
after the task ends. Extensions move the pending timers and are audited; a new worker
replaying the history neither loses nor repeats a step.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, time, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Replayer, Worker

from domain.deadlines import plan_application, plan_task
from runtime.settings import Settings
from tests.workflows.test_application_workflow import FakeDepartments, application_input, worker_kwargs
from workflows.application import ApplicationWorkflow
from workflows.models import DeadlineExtension, Timing

SETTINGS = Settings()
CALENDAR = SETTINGS.working_calendar()
POLICY = SETTINGS.sla_policy
HRSS_BUDGET = SETTINGS.catalog().get("hrss").budget_minutes
# poll the silent department every 5 minutes at most: well inside the 60-minute re-escalation rhythm
TIMING = Timing(poll_initial_s=60, poll_max_s=300, retry_initial_s=0.1)


async def dispatched(env, handle, code: str):
    """The department's state once it has been dispatched (its deadline is known)."""
    for _ in range(200):
        view = await handle.query(ApplicationWorkflow.status)
        state = next(d for d in view.departments if d.code == code)
        if state.due_at is not None:
            return state
        await env.sleep(timedelta(seconds=1))
    raise AssertionError(f"{code} was never dispatched")


def hrss_steps(fakes: FakeDepartments):
    return [n for n in fakes.notifications if n.department == "hrss"]


def quiet_until(count: int, version: int = 0):
    """hrss answers in_review until ``count`` of its steps of deadline version ``version`` were notified."""
    return {"hrss": lambda f: len([n for n in hrss_steps(f) if f".v{version}." in n.key]) < count}


async def test_each_step_fires_at_its_instant_and_none_after_the_task_ends(time_env, sample_json):
    fakes = FakeDepartments(hold=quiet_until(5))
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=TIMING)
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        view = await handle.result()
        # time goes on after the task ended: no step may follow
        await time_env.sleep(timedelta(days=5))
        final = await handle.query(ApplicationWorkflow.status)

    hrss = next(d for d in view.departments if d.code == "hrss")
    assert hrss.status.value == "completed"
    expected = plan_task(hrss.dispatched_at, HRSS_BUDGET, CALENDAR, POLICY, re_escalations=10)
    fired = hrss_steps(fakes)
    assert [n.level for n in fired[:5]] == ["remind", "warn", "breach", "re_escalate", "re_escalate"]
    assert [n.audience for n in fired[:5]] == [
        "department_handler",
        "department_supervisor",
        "window_supervisor",
        "leading_group_office",
        "leading_group_office",
    ]
    for n, step in zip(fired, expected.steps, strict=False):
        assert n.sequence == step.sequence
        assert n.planned_at == step.at
        assert abs((n.fired_at - step.at).total_seconds()) < 1, (n.level, n.fired_at, step.at)
        assert n.due_at == expected.due_at
    # nothing after the task ended, not even days later
    assert all(n.fired_at <= hrss.completed_at for n in fired)
    assert len(hrss_steps(fakes)) == len(fired)
    # the application records what fired, the SLA state followed the ladder
    recorded = {e.key for e in final.escalations if e.department == "hrss"}
    assert recorded == {n.key for n in fired}
    assert hrss.sla_state == "breached"
    # the people-facing message names the task, never a person
    assert "人力资源和社会保障局" in fired[2].message and "超时" in fired[2].message
    assert sample_json["legal_representative"]["name"] not in fired[2].message
    # the application's own ladder: its due instant from the calendar
    app_plan = plan_application(inp.submitted_at, CALENDAR, POLICY)
    assert view.due_at == app_plan.due_at


async def test_extension_moves_pending_timers_and_is_audited(time_env, sample_json):
    fakes = FakeDepartments(
        hold=quiet_until(3, version=1)
    )  # finish after the extended breach (v1: remind, warn, breach)
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=TIMING)
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        # let the remind fire, then stop before the warn
        hrss = await dispatched(time_env, handle, "hrss")
        original = plan_task(hrss.dispatched_at, HRSS_BUDGET, CALENDAR, POLICY, re_escalations=1)
        remind, warn = original.steps[0].at, original.steps[1].at
        await time_env.sleep(remind - await time_env.get_current_time() + (warn - remind) / 2)
        assert [n.level for n in hrss_steps(fakes)] == ["remind"]

        new_due = CALENDAR.add_working_minutes(original.due_at, 120)
        # the validator refuses a request without a reason, or one that is not later
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                ApplicationWorkflow.extend_deadline,
                DeadlineExtension(department="hrss", new_due_at=new_due, reason="  ", requested_by="sup-01"),
            )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                ApplicationWorkflow.extend_deadline,
                DeadlineExtension(
                    department="hrss",
                    new_due_at=original.due_at - timedelta(minutes=1),
                    reason="材料补充",
                    requested_by="sup-01",
                ),
            )
        change = await handle.execute_update(
            ApplicationWorkflow.extend_deadline,
            DeadlineExtension(
                department="hrss", new_due_at=new_due, reason="申请人补充参保人员材料", requested_by="sup-01"
            ),
        )
        assert change.old_due_at == original.due_at and change.new_due_at == new_due
        view = await handle.result()

    hrss = next(d for d in view.departments if d.code == "hrss")
    assert hrss.due_at == new_due
    extended = plan_task(hrss.dispatched_at, HRSS_BUDGET, CALENDAR, POLICY, due_at=new_due, re_escalations=1)
    fired = hrss_steps(fakes)
    # the old warn and breach never fired; the ladder was planned anew for the new deadline and its
    # steps still ahead fired at their new instants (the reminder again, now for the new deadline)
    assert [(n.level, n.key.split(".")[-2]) for n in fired] == [
        ("remind", "v0"),
        ("remind", "v1"),
        ("warn", "v1"),
        ("breach", "v1"),
    ]
    assert [n.planned_at for n in fired[1:]] == [s.at for s in extended.steps[:3]]
    assert fired[2].planned_at != original.steps[1].at
    assert fired[3].planned_at == extended.due_at == new_due
    assert all(n.due_at == new_due for n in fired[1:])
    assert all(abs((n.fired_at - n.planned_at).total_seconds()) < 1 for n in fired)
    # audited: who, why, from when to when
    [audit] = view.deadline_changes
    assert (audit.department, audit.requested_by, audit.reason) == ("hrss", "sup-01", "申请人补充参保人员材料")
    assert audit.old_due_at == original.due_at and audit.new_due_at == new_due


async def test_application_deadline_extension(time_env, sample_json):
    fakes = FakeDepartments(hold={"hrss": lambda f: True})
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=TIMING, submitted_at=await time_env.get_current_time())
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        view = await handle.query(ApplicationWorkflow.status)
        for _ in range(200):  # a query answered before the first workflow task ran has no deadline yet (CI, loaded)
            if view.due_at is not None:
                break
            await asyncio.sleep(0.05)
            view = await handle.query(ApplicationWorkflow.status)
        assert view.due_at is not None
        new_due = view.due_at + timedelta(days=1)
        change = await handle.execute_update(
            ApplicationWorkflow.extend_deadline,
            DeadlineExtension(new_due_at=new_due, reason="节假日前系统升级", requested_by="lead-02"),
        )
        assert change.department is None and change.old_due_at == view.due_at
        view = await handle.query(ApplicationWorkflow.status)
        assert view.due_at == new_due
        assert view.deadline_changes[0].reason == "节假日前系统升级"
        await handle.terminate("test over")


async def test_a_restarted_worker_neither_loses_nor_repeats_a_step(time_env, sample_json):
    """A worker that restarts rebuilds every workflow by replaying its history. Replaying the finished
    histories must issue exactly the commands that were recorded (a nondeterminism error otherwise):
    each step was started once, as a Notification workflow whose id is the step's key, so the server
    would refuse a second start of the same step."""
    fakes = FakeDepartments(hold=quiet_until(5))
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=TIMING)
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        await handle.result()
    fired = hrss_steps(fakes)
    assert [n.sequence for n in fired] == list(range(1, len(fired) + 1)), "a step was lost"
    assert len({n.key for n in fired}) == len(fired), "a step was sent twice"

    history = await handle.fetch_history()
    kwargs = worker_kwargs(fakes)
    replayer = Replayer(workflows=kwargs["workflows"], data_converter=time_env.client.data_converter)
    await replayer.replay_workflow(history)  # raises on any divergence
    # the history holds one Notification start per fired step, each under its key
    started = [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in history.events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]
    started = [s for s in started if s.startswith(f"notify.{inp.application_id}.hrss.")]
    assert started == [f"notify.{n.key}" for n in fired]


async def test_an_extension_to_a_day_off_holds_at_the_instant_set(time_env, sample_json):
    """A task extended to noon of a day off is due then: detail, audit and the breach step agree."""
    fakes = FakeDepartments(hold=quiet_until(3, version=1))
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=TIMING)
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        hrss = await dispatched(time_env, handle, "hrss")
        day = CALENDAR.to_local(hrss.due_at).date() + timedelta(days=1)
        while CALENDAR.is_working_day(day):
            day += timedelta(days=1)
        new_due = datetime.combine(day, time(12, 0), tzinfo=CALENDAR.tz)
        await handle.execute_update(
            ApplicationWorkflow.extend_deadline,
            DeadlineExtension(department="hrss", new_due_at=new_due, reason="周末加班审核", requested_by="sup-01"),
        )
        view = await handle.result()
    hrss = next(d for d in view.departments if d.code == "hrss")
    assert hrss.due_at == new_due
    [audit] = view.deadline_changes
    assert audit.new_due_at == new_due
    breach = next(n for n in hrss_steps(fakes) if n.level == "breach")
    assert breach.planned_at == new_due and breach.due_at == new_due
