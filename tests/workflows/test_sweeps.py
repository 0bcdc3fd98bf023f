"""Sweeps on Temporal's time-skipping server: the SWEEP activity (its page reading stood in by a list) tells
each waiting application its result once, through the department_callback update; a filing the list does
not show is answered by the task's own (fallback) inquiry; the PortalSweeper remembers what it delivered
across sweeps and runs. The applications' departments are the fakes of test_application_workflow."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from structlog.testing import capture_logs
from temporalio import activity
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer, Worker

from activities.departments import wake_sweeper
from activities.models import ActivityName, DepartmentEndpoint
from activities.sweep_models import WAKE_SIGNAL, SweepInput, SweepOutcome
from activities.sweeps import SweepActivities
from bots.sweep import SweepResult, SweptCase
from domain.results import Inquiry
from domain.status import ApplicationStatus, Channel, TaskStatus
from runtime.settings import Settings
from tests.workflows.test_application_workflow import RESULTS, FakeDepartments, application_input, worker_kwargs
from tests.workflows.test_corrections import dept, until
from workflows.application import ApplicationWorkflow
from workflows.models import Timing
from workflows.patches import PER_EVENT
from workflows.sweeper import PortalSweeperWorkflow, SweeperInput, SweepPace, sweeper_id

ROBOTS = ("amr", "psb_seal", "hrss", "hpf")
FILED = datetime(2026, 11, 27, 2, 5, tzinfo=UTC)
SWEPT = Timing(poll_initial_s=30, retry_initial_s=0.1, swept_poll_initial_s=600)


class ListedSweeps(SweepActivities):
    """The SWEEP activity with its list stood in by ``listing(department)``; every outcome kept."""

    def __init__(self, listing) -> None:
        super().__init__(Settings(), None)
        self.listing = listing
        self.outcomes: list[SweepOutcome] = []

    async def read(self, inp: SweepInput) -> SweepResult:
        return SweepResult(cases=list(self.listing(inp.endpoint.code)), pages=1)

    @activity.defn(name=ActivityName.SWEEP)
    async def sweep(self, inp: SweepInput) -> SweepOutcome:
        out = await SweepActivities.sweep(self, inp)
        self.outcomes.append(out)
        return out


def completed(code: str, application_id: str, fakes: FakeDepartments) -> SweptCase:
    result = RESULTS[code](fakes.uscc)
    return SweptCase(f"R-{code}", application_id, FILED, FILED, Inquiry(status="completed", result=result))


def endpoint(code: str) -> DepartmentEndpoint:
    return DepartmentEndpoint(code=code, channel=Channel.ROBOT, base_url="http://portal.invalid")


def notes(view, code: str, event: str) -> int:
    return sum(1 for h in view.history if h.department == code and h.event == event)


async def test_a_sweep_delivers_each_result_once_and_the_fallback_answers_what_it_does_not_list(time_env, sample_json):
    fakes = FakeDepartments(hold={code: (lambda f: True) for code in ("amr", "psb_seal", "hrss")})
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=SWEPT)
    app_id = inp.application_id
    listed: dict[str, list[SweptCase]] = {}  # each portal's list
    acts = ListedSweeps(lambda code: listed.get(code, []))
    sweep_env = ActivityEnvironment(client=time_env.client)

    async def sweep(code: str, delivered: list[str] = ()) -> SweepOutcome:
        return await sweep_env.run(acts.sweep, SweepInput(endpoint=endpoint(code), delivered=list(delivered)))

    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(ApplicationWorkflow.run, inp, id=app_id, task_queue=queue)
        await until(handle, lambda v: dept(v, "amr").status is TaskStatus.DISPATCHED, "amr filed")

        listed["amr"] = [completed("amr", app_id, fakes)]
        first = await sweep("amr")
        assert [d.receipt_no for d in first.delivered] == ["R-amr"] and first.refused == 0
        again = await sweep("amr", delivered=["R-amr"])  # the sweeper remembers: not delivered again
        assert again.delivered == [] and again.skipped == 1
        forgetful = await sweep("amr")  # even a sweeper that forgot: the application's own check drops it
        assert forgetful.delivered == [] and forgetful.refused == 1

        view = await until(
            handle,
            lambda v: all(dept(v, c).status is TaskStatus.DISPATCHED for c in ("psb_seal", "hrss", "hpf")),
            "the robots after amr filed",
        )
        assert dept(view, "amr").status is TaskStatus.COMPLETED
        assert dept(view, "amr").result == RESULTS["amr"](fakes.uscc)
        # psb_seal and hrss are on the list, decided; hpf's filing is not listed
        listed.update(psb_seal=[completed("psb_seal", app_id, fakes)], hrss=[completed("hrss", app_id, fakes)])
        assert [d.receipt_no for d in (await sweep("psb_seal")).delivered] == ["R-psb_seal"]
        assert [d.receipt_no for d in (await sweep("hrss")).delivered] == ["R-hrss"]
        assert (await sweep("hpf")).cases == 0
        view = await handle.result()  # time skips: hpf's fallback inquiry comes swept_poll_initial_s after filing
        history = await handle.fetch_history()
    # the swept history replays exactly (patched: department-swept-fallback-inquiry, taken with PER_EVENT)
    replayer = Replayer(workflows=worker_kwargs(fakes)["workflows"], data_converter=time_env.client.data_converter)
    await replayer.replay_workflow(history)
    markers = [
        e.marker_recorded_event_attributes.SerializeToString()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert any(
        PER_EVENT.encode() in m for m in markers
    )  # the swept path is behind SWEPT_FALLBACK: PER_EVENT stands for it
    inquired = [
        e.activity_task_scheduled_event_attributes.activity_id
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and ".inquire." in e.activity_task_scheduled_event_attributes.activity_id
    ]
    assert [i for i in inquired if i.split(".")[0] in ROBOTS] == ["hpf.inquire.r1.1"]

    assert view.status is ApplicationStatus.COMPLETED
    assert {code: dept(view, code).status for code in ROBOTS} == dict.fromkeys(ROBOTS, TaskStatus.COMPLETED)
    assert dept(view, "hpf").result == RESULTS["hpf"](fakes.uscc)
    assert all(fakes.inquiries.get(code, 0) == 0 for code in ("amr", "psb_seal", "hrss"))  # the sweeps answered
    assert fakes.inquiries["hpf"] == 1  # the fallback, once
    assert all(notes(view, code, "completed") == 1 for code in ROBOTS)
    assert fakes.dispatched.count("bank") == 1  # the bank got psb_seal's seal codes from the sweep
    assert fakes.upstream["bank"]["psb_seal"]["seal_codes"] == RESULTS["psb_seal"](fakes.uscc)["seal_codes"]


async def test_the_sweepers_deliver_every_result_once_across_sweeps_and_runs(time_env, sample_json):
    fakes = FakeDepartments(hold={code: (lambda f: True) for code in ROBOTS})  # only sweeps answer robots
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, timing=SWEPT)
    app_id = inp.application_id

    def listing(code: str) -> list[SweptCase]:
        return [completed(code, app_id, fakes)] if code in fakes.dispatched else []

    acts = ListedSweeps(listing)
    kwargs = worker_kwargs(fakes)
    kwargs["workflows"] = [*kwargs["workflows"], PortalSweeperWorkflow]
    kwargs["activities"] = [*kwargs["activities"], acts.sweep]
    pace = SweepPace(interval_s=5, idle_interval_s=120, sweeps_per_run=3)
    catalog = {d.code: d for d in inp.departments}
    async with Worker(time_env.client, task_queue=queue, **kwargs):
        sweepers = [
            await time_env.client.start_workflow(
                PortalSweeperWorkflow.run,
                SweeperInput(endpoint=endpoint(code), robot_task_queue=queue, pace=pace),
                id=sweeper_id(code, catalog[code].credentials_ref, queue),
                task_queue=queue,
            )
            for code in ROBOTS
        ]
        view = await time_env.client.execute_workflow(ApplicationWorkflow.run, inp, id=app_id, task_queue=queue)
        await time_env.sleep(300)  # more sweeps over the same list, the sweepers continuing as new runs
        states = [await s.query(PortalSweeperWorkflow.state) for s in sweepers]
        for s in sweepers:
            await s.terminate("test over")

    assert view.status is ApplicationStatus.COMPLETED
    assert all(fakes.inquiries.get(code, 0) == 0 for code in ROBOTS)  # no fallback inquiry was needed
    assert all(notes(view, code, "completed") == 1 for code in ROBOTS)
    delivered = [d.receipt_no for out in acts.outcomes for d in out.delivered]
    assert sorted(delivered) == sorted(f"R-{code}" for code in ROBOTS)  # each once, by all sweeps together
    assert sum(out.skipped for out in acts.outcomes) > 0  # later sweeps read them again and skipped them
    assert all(out.refused == 0 for out in acts.outcomes)
    for state in states:
        assert state is not None and state.delivered_total == 1 and state.sweeps > pace.sweeps_per_run
        assert state.remembered == 1


async def test_a_filing_wakes_its_accounts_sweeper_and_a_sweeper_not_running_is_no_failure(time_env):
    """Patch PER_EVENT: the dispatch activity, not the workflow, signals the sweeper once the robot has filed."""
    queue = f"q-{uuid.uuid4()}"
    wid = sweeper_id("hpf", None, queue)
    # no worker: the sweeper only has to be there for the signal to be recorded in its history
    handle = await time_env.client.start_workflow(
        PortalSweeperWorkflow.run,
        SweeperInput(endpoint=endpoint("hpf"), robot_task_queue=queue),
        id=wid,
        task_queue=queue,
    )
    env = ActivityEnvironment(client=time_env.client)
    await env.run(wake_sweeper, wid)
    history = await handle.fetch_history()
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals == [WAKE_SIGNAL]
    with capture_logs() as logs:
        await env.run(wake_sweeper, sweeper_id("hrss", None, queue))  # none runs: logged, not raised
    assert [entry["event"] for entry in logs] == ["sweeper_not_woken"]
    await handle.terminate("test over")
