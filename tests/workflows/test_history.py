"""History that does not grow without bound: a task that waits weeks for a person, and a slow department."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.worker import Worker

from activities.models import ActivityName, InquireInput
from domain.results import Inquiry
from runtime.settings import Settings
from tests.workflows.test_application_workflow import RESULTS, FakeDepartments, application_input, worker_kwargs
from tests.workflows.test_deadlines import dispatched
from workflows.application import ApplicationWorkflow
from workflows.models import ManualCompletion, Timing

CALENDAR = Settings().working_calendar()
#: events an application may use while one of its tasks waits 30 working days for a person
MAX_EVENTS_30_DAYS = 800  # 647 measured with the daily digest; hourly re-escalations would add ~250 steps


async def wait_working_days(env, days: int) -> None:
    now = await env.get_current_time()
    end = now
    for _ in range(days):
        end = CALENDAR.end_of_working_day(CALENDAR.next_working_day(CALENDAR.to_local(end).date()))
    await env.sleep(end - now)


async def test_a_task_waiting_30_working_days_for_a_person_keeps_a_bounded_history(time_env, sample_json):
    fakes = FakeDepartments(portal_changed={"hrss"})  # every robot attempt fails: the task waits for a clerk
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=Timing(poll_initial_s=30, retry_initial_s=0.1))
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
        await dispatched(time_env, handle, "hrss")
        await wait_working_days(time_env, 30)
        await handle.execute_update(
            ApplicationWorkflow.complete_manually,
            ManualCompletion(department="hrss", result=RESULTS["hrss"](fakes.uscc), completed_by="clerk-0007"),
        )
        view = await handle.result()
        history = await handle.fetch_history()
    assert view.status == "completed"
    steps = [n for n in fakes.notifications if n.department == "hrss"]
    levels = [n.level for n in steps]
    # 3 rungs, 3 re-escalations an hour apart, then one digest a working day (not 250 hourly re-escalations)
    assert levels[:6] == ["remind", "warn", "breach", "re_escalate", "re_escalate", "re_escalate"]
    assert set(levels[6:]) == {"digest"} and 25 <= len(levels[6:]) <= 31, levels
    assert len({n.planned_at.date() for n in steps if n.level == "digest"}) == len(levels[6:])  # one a day
    assert all(n.planned_at.astimezone(CALENDAR.tz).strftime("%H:%M") == "09:30" for n in steps[6:])
    assert len(history.events) < MAX_EVENTS_30_DAYS, len(history.events)


class SlowHrss(FakeDepartments):
    """hrss stays in review for its first 40 inquiries; the instant each inquiry was scheduled is kept."""

    def __init__(self) -> None:
        super().__init__(hold={"hrss": lambda f: f.inquiries.get("hrss", 0) < 40})
        self.asked: list[datetime] = []

    @activity.defn(name=ActivityName.INQUIRE)
    async def inquire(self, inp: InquireInput) -> Inquiry:
        if inp.endpoint.code == "hrss":
            self.asked.append(activity.info().current_attempt_scheduled_time)
        return await super().inquire(inp)


async def test_a_slow_department_is_not_asked_outside_working_hours(time_env, sample_json):
    fakes = SlowHrss()
    queue = f"q-{uuid.uuid4()}"
    timing = Timing(poll_initial_s=600, poll_max_s=3600, retry_initial_s=0.1, inquire_in_working_hours_only=True)
    inp = application_input(sample_json, queue, timing=timing)
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        view = await time_env.client.execute_workflow(
            ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue
        )
    assert view.status == "completed"
    # the first inquiry follows the filing at once; the later ones wait for working hours
    outside = [t for t in fakes.asked[1:] if CALENDAR.next_working_start(t) != t]
    # 40 inquiries up to an hour apart span several days: none of them at night or on a day off
    assert len(fakes.asked) >= 40 and (fakes.asked[-1] - fakes.asked[0]) > timedelta(days=2)
    assert not outside, outside[:5]
