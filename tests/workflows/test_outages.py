"""Outages are not a clerk's job: a department down for an hour delays its task, the deadline ladder
escalates meanwhile, and the task is not handed to a person; a task that did go to a person is sent back
to its channel once the cause is fixed (update ``retry_department``), as a new round with a new deadline.

On Temporal's time-skipping server, departments stood in by the fakes of test_application_workflow.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer, Worker

from activities.models import ActivityName, DispatchInput, InquireInput
from domain.deadlines import plan_task
from domain.results import Inquiry, Receipt
from domain.status import ApplicationStatus, TaskStatus
from runtime.settings import Settings
from tests.workflows.test_application_workflow import FakeDepartments, application_input, worker_kwargs
from tests.workflows.test_corrections import dept, until
from workflows.application import ApplicationWorkflow
from workflows.models import DepartmentRetry, Timing
from workflows.patches import PER_EVENT

SETTINGS = Settings()
CALENDAR = SETTINGS.working_calendar()
POLICY = SETTINGS.sla_policy
TIMING = Timing(poll_initial_s=30, retry_initial_s=1, retry_max_interval_s=300)
HOUR = timedelta(hours=1)


class DownDepartments(FakeDepartments):
    """Departments whose dispatch or inquiry fails (a retryable failure: 503 系统维护中) from its first
    attempt for at least ``down[(activity, code)]`` of workflow time, and until the department's deadline
    ladder has notified ``escalations`` steps (the working calendar may put the first working minutes
    later than the hour): an outage that outlasts every bounded retry schedule and that the ladder sees."""

    def __init__(self, down: dict[tuple[str, str], timedelta], escalations: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.down = down
        self.escalations = escalations
        self.failures: dict[tuple[str, str], list[datetime]] = {}
        self.recovered: dict[tuple[str, str], datetime] = {}

    def _fail_while_down(self, what: str, code: str) -> None:
        if (what, code) not in self.down or (what, code) in self.recovered:
            return
        now = activity.info().current_attempt_scheduled_time
        failures = self.failures.setdefault((what, code), [])
        escalated = len([n for n in self.notifications if n.department == code]) >= self.escalations
        if not failures or now < failures[0] + self.down[(what, code)] or not escalated:
            failures.append(now)
            raise ApplicationError(f"{code}: 系统维护中 (HTTP 503)", type="DepartmentUnavailable")
        self.recovered[(what, code)] = now

    @activity.defn(name=ActivityName.DISPATCH)
    async def dispatch(self, inp: DispatchInput) -> Receipt:
        self._fail_while_down("dispatch", inp.endpoint.code)
        return await super().dispatch(inp)

    @activity.defn(name=ActivityName.INQUIRE)
    async def inquire(self, inp: InquireInput) -> Inquiry:
        self._fail_while_down("inquire", inp.endpoint.code)
        return await super().inquire(inp)


async def test_an_hour_long_outage_delays_the_task_the_ladder_escalates_and_no_person_is_needed(time_env, sample_json):
    # tax (an API department) cannot be filed with; hrss (a portal) is filed, then cannot be asked
    fakes = DownDepartments({("dispatch", "tax"): HOUR, ("inquire", "hrss"): HOUR})
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=TIMING)
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        view = await handle.result()
        history = await handle.fetch_history()

    assert view.status is ApplicationStatus.COMPLETED
    after_outage = {"dispatch": "dispatched", "inquire": "completed"}  # what the task did once it was back
    for what, code in (("dispatch", "tax"), ("inquire", "hrss")):
        task = dept(view, code)
        assert task.status is TaskStatus.COMPLETED and task.completed_by is None, code  # no person finished it
        assert task.round == 1
        assert not [h for h in view.history if h.department == code and h.event == "manual"], code
        failures, recovered = fakes.failures[(what, code)], fakes.recovered[(what, code)]
        assert recovered - failures[0] >= HOUR  # delayed by the whole outage …
        assert len(failures) > TIMING.api_max_attempts  # … past any bounded number of attempts
        gaps = [b - a for a, b in zip(failures, failures[1:], strict=False)]
        assert max(gaps) <= timedelta(seconds=TIMING.retry_max_interval_s + 5)  # at a bounded interval
        # meanwhile the deadline ladder ran: its steps fired while the department was down, at their instants
        fired = [n for n in fakes.notifications if n.department == code]
        assert [n.level for n in fired[:2]] == ["remind", "warn"], code
        back = next(h.at for h in view.history if h.department == code and h.event == after_outage[what])
        assert all(n.fired_at < back for n in fired[:2]), code
        budget = SETTINGS.catalog().get(code).budget_minutes
        plan = plan_task(task.dispatched_at, budget, CALENDAR, POLICY)
        assert [n.planned_at for n in fired[:2]] == [s.at for s in plan.steps[:2]]
        assert task.sla_state in ("at_risk", "breached")
    # the policy the history holds: outages retried without an attempt limit, at a bounded interval
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    tax_dispatch = next(a for a in scheduled if a.activity_id == "tax.dispatch.r1")
    assert tax_dispatch.retry_policy.maximum_attempts == 0
    assert tax_dispatch.retry_policy.maximum_interval.ToTimedelta() == timedelta(seconds=TIMING.retry_max_interval_s)
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert any(PER_EVENT in str(e) for e in markers)  # it stands for UNBOUNDED_TRANSIENT_RETRIES (workflows.patches)
    await Replayer(
        workflows=worker_kwargs(fakes)["workflows"], data_converter=time_env.client.data_converter
    ).replay_workflow(history)


async def test_a_manual_task_sent_back_is_dispatched_again_and_completes(time_env, sample_json):
    fakes = FakeDepartments(portal_changed={"hpf"})  # the hpf portal changed: its robot gives up at once
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=TIMING)
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        view = await until(handle, lambda v: dept(v, "hpf").status is TaskStatus.MANUAL, "hpf manual")
        first = dept(view, "hpf")
        assert "人工" in first.reason
        # only a task that went to a person is sent back
        for code, words in (("amr", "只有转人工处理的事项可以重新报送"), ("nosuch", "不涉及")):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    ApplicationWorkflow.retry_department, DepartmentRetry(department=code, requested_by="clerk-0007")
                )
            assert words in str(refused.value.cause), code
        await time_env.sleep(timedelta(hours=3))  # the robot's mapping is mended meanwhile
        fakes.portal_changed = frozenset()
        state = await handle.execute_update(
            ApplicationWorkflow.retry_department,
            DepartmentRetry(department="hpf", requested_by="clerk-0007", note="机器人映射已更新"),
        )
        assert state.status is not TaskStatus.MANUAL and state.round == 2
        with pytest.raises(WorkflowUpdateFailedError):  # no longer with a person
            await handle.execute_update(
                ApplicationWorkflow.retry_department, DepartmentRetry(department="hpf", requested_by="clerk-0007")
            )
        view = await handle.result()
        history = await handle.fetch_history()

    assert view.status is ApplicationStatus.COMPLETED
    hpf = dept(view, "hpf")
    assert hpf.status is TaskStatus.COMPLETED and hpf.completed_by is None and hpf.round == 2
    assert fakes.dispatched.count("hpf") == 1  # filed once, by the second round
    # the deadline is planned from the re-dispatch
    assert hpf.dispatched_at >= first.dispatched_at + timedelta(hours=3)
    budget = SETTINGS.catalog().get("hpf").budget_minutes
    assert hpf.due_at == plan_task(hpf.dispatched_at, budget, CALENDAR, POLICY).due_at
    events = [h.event for h in view.history if h.department == "hpf"]
    i = events.index("sent_back")
    assert events[i - 1] == "manual" and events[i + 1] == "waiting" and events[-1] == "completed", events
    sent_back = next(h for h in view.history if h.event == "sent_back")
    assert "clerk-0007" in sent_back.detail and "机器人映射已更新" in sent_back.detail
    ids = [
        e.activity_task_scheduled_event_attributes.activity_id
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "hpf.dispatch.r1" in ids and "hpf.dispatch.r2" in ids
    await Replayer(
        workflows=worker_kwargs(fakes)["workflows"], data_converter=time_env.client.data_converter
    ).replay_workflow(history)
