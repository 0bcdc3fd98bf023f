"""The application workflow on Temporal's time-skipping server, departments stood in by fake activities."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from stdnum.cn import uscc as uscc_mod
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.deadlines import DeadlineActivities
from activities.departments import wake_sweeper
from activities.models import (
    BUSINESS_REJECTION,
    PORTAL_CHANGED,
    ActivityName,
    DispatchInput,
    InquireInput,
    Notification,
    WithdrawInput,
)
from domain.form import Application
from domain.results import Inquiry, Receipt
from domain.status import ApplicationStatus, TaskStatus
from runtime.settings import Settings
from workflows.application import ApplicationWorkflow
from workflows.models import ApplicationInput, ApplicationView, Timing
from workflows.notification import NotificationWorkflow

USCC_BODY = "91140121MA0XYZ12"


def make_uscc() -> str:
    body = "9114012100000123"  # 16 digits + check of GB 11714 slot kept simple
    code = body + "0"
    return code + uscc_mod.calc_check_digit(code)


RESULTS = {
    "amr": lambda uscc: {"uscc": uscc, "licence_serial": "L-1", "approved_at": "2026-11-27T10:00:00+08:00"},
    "psb_seal": lambda uscc: {"seal_codes": {"official": "S1"}},
    "tax": lambda uscc: {"taxpayer_id": uscc, "tax_authority": "清徐县税务局", "invoice_types": ["digital_general"]},
    "hrss": lambda uscc: {"si_unit_code": "SI-1"},
    "nhsa": lambda uscc: {"mi_unit_code": "MI-1"},
    "hpf": lambda uscc: {"hpf_unit_account": "HPF-1"},
    "bank": lambda uscc: {"account_no": "6222", "bank_code": "ICBC", "opened_at": "2026-11-27T11:00:00+08:00"},
}


class FakeDepartments:
    """Stand-ins for the department activities that record what each department received."""

    def __init__(
        self,
        *,
        reject: set[str] = frozenset(),
        portal_changed: set[str] = frozenset(),
        reviews: int = 0,
        hold=None,
        answer_at_once: set[str] = frozenset(),
    ):
        """``reject``: departments whose first filing is rejected (a corrected one goes through);
        ``portal_changed``: robot departments whose portal no longer matches (every attempt);
        ``answer_at_once``: departments whose dispatch carries their decision (``Receipt.answer``)."""
        self.answer_at_once = answer_at_once
        self.uscc = make_uscc()
        self.dispatched: list[str] = []
        self.upstream: dict[str, dict] = {}
        self.inquiries: dict[str, int] = {}
        self.reject = reject
        self.portal_changed = portal_changed
        self.reviews = reviews
        self.in_flight: set[str] = set()
        self.overlaps: list[tuple[str, frozenset]] = []
        self.notifications: list[Notification] = []
        self.hold = hold or {}  # department -> predicate(fakes): keep answering in_review while true
        self.requests: dict[str, list] = {}  # department -> every request it was given
        self.withdrawn: list[tuple[str, str | None]] = []

    @activity.defn(name=ActivityName.WITHDRAW)
    async def withdraw(self, inp: WithdrawInput) -> None:
        self.withdrawn.append((inp.endpoint.code, inp.receipt_no))

    @activity.defn(name=ActivityName.NOTIFY)
    async def notify(self, n: Notification) -> None:
        self.notifications.append(n)

    @activity.defn(name=ActivityName.DISPATCH)
    async def dispatch(self, inp: DispatchInput) -> Receipt:
        code = inp.endpoint.code
        if code in self.portal_changed:
            raise ApplicationError("landmark missing", type=PORTAL_CHANGED, non_retryable=True)
        self.dispatched.append(code)
        self.requests.setdefault(code, []).append(inp.request)
        self.upstream[code] = inp.request.upstream
        self.in_flight.add(code)
        self.overlaps.append((code, frozenset(self.in_flight)))
        await asyncio.sleep(0.05)
        answer = Inquiry(status="completed", result=RESULTS[code](self.uscc)) if code in self.answer_at_once else None
        if answer is not None:
            self.in_flight.discard(code)
        elif inp.wake_sweeper:  # as the real activity: the account's sweeper learns of the filing
            await wake_sweeper(inp.wake_sweeper)
        return Receipt(
            receipt_no=f"R-{code}", evidence={"receipt_screenshot": f"2026-11-27/{code}-receipt.png"}, answer=answer
        )

    @activity.defn(name=ActivityName.INQUIRE)
    async def inquire(self, inp: InquireInput) -> Inquiry:
        code = inp.endpoint.code
        n = self.inquiries[code] = self.inquiries.get(code, 0) + 1
        if code in self.reject and len(self.requests[code]) == 1:
            raise ApplicationError("名称重复", type=BUSINESS_REJECTION, non_retryable=True)
        if n <= self.reviews or (code in self.hold and self.hold[code](self)):
            return Inquiry(status="in_review")
        self.in_flight.discard(code)
        return Inquiry(status="completed", result=RESULTS[code](self.uscc))


def worker_kwargs(fakes) -> dict:
    """The workflows and activities a worker registers, departments and notifier stood in by ``fakes``."""
    deadlines = DeadlineActivities(Settings())
    return dict(
        workflows=[ApplicationWorkflow, NotificationWorkflow],
        activities=[fakes.dispatch, fakes.inquire, fakes.notify, fakes.withdraw, deadlines.planning_basis],
    )


def application_input(sample_json, queue: str, **overrides) -> ApplicationInput:
    values = dict(
        application_id=f"KB-TEST-{uuid.uuid4().hex[:8]}",
        application=Application.model_validate(sample_json),
        submitted_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC),
        departments=list(Settings().catalog().departments),
        timing=Timing(poll_initial_s=30, retry_initial_s=0.1),
        task_queue=queue,
        robot_task_queue=queue,
    )
    values.update(overrides)
    return ApplicationInput(**values)


async def run_application(env, sample_json, fakes, **input_overrides) -> tuple[ApplicationView, str]:
    queue = f"q-{uuid.uuid4()}"
    inp = application_input(sample_json, queue, **input_overrides)
    app_id = inp.application_id
    async with Worker(env.client, task_queue=queue, **worker_kwargs(fakes)):
        view = await env.client.execute_workflow(ApplicationWorkflow.run, inp, id=app_id, task_queue=queue)
    return view, app_id


async def test_all_seven_departments_complete_in_dependency_order(time_env, sample_json):
    fakes = FakeDepartments(reviews=2)
    view, _ = await run_application(time_env, sample_json, fakes)
    assert view.status is ApplicationStatus.COMPLETED
    assert {d.code: d.status for d in view.departments} == {c: TaskStatus.COMPLETED for c in RESULTS}
    # amr first, bank after psb_seal
    assert fakes.dispatched[0] == "amr"
    assert fakes.dispatched.index("bank") > fakes.dispatched.index("psb_seal")
    # the five after amr ran in parallel: some dispatch saw several of them in flight
    assert max(len(s) for _, s in fakes.overlaps) >= 3
    # every department after amr received the USCC amr issued; bank also got the seal codes
    for code in ("psb_seal", "tax", "hrss", "nhsa", "hpf", "bank"):
        assert fakes.upstream[code]["amr"]["uscc"] == fakes.uscc
    assert fakes.upstream["bank"]["psb_seal"]["seal_codes"] == {"official": "S1"}
    tax = next(d for d in view.departments if d.code == "tax")
    assert tax.result["taxpayer_id"] == fakes.uscc
    assert tax.receipt_no == "R-tax"
    assert tax.evidence == {"receipt_screenshot": "2026-11-27/tax-receipt.png"}  # linked from the task
    # in_review was answered twice, then completed: polled three times
    assert fakes.inquiries["hrss"] == 3
    assert all(d.completed_at is not None for d in view.departments)
    assert view.completed_at is not None


async def test_a_department_that_answers_when_filed_is_not_asked_again(time_env, sample_json):
    fakes = FakeDepartments(reviews=0, answer_at_once={"tax", "nhsa", "bank"})
    view, _ = await run_application(time_env, sample_json, fakes)
    assert view.status is ApplicationStatus.COMPLETED
    for code in ("tax", "nhsa", "bank"):
        assert code not in fakes.inquiries  # the answer came with the receipt
        assert next(d for d in view.departments if d.code == code).status is TaskStatus.COMPLETED
    assert next(d for d in view.departments if d.code == "tax").result["taxpayer_id"] == fakes.uscc
    assert fakes.inquiries["amr"] == 1 and fakes.inquiries["hrss"] == 1  # the others were asked as before


async def test_departments_not_asked_for_are_skipped(time_env, sample_json):
    sample_json["housing_fund"] = {"register": False, "contribution_rate": None}
    sample_json["bank_account"] = None
    fakes = FakeDepartments()
    view, _ = await run_application(time_env, sample_json, fakes)
    states = {d.code: d.status for d in view.departments}
    assert states["hpf"] is TaskStatus.SKIPPED and states["bank"] is TaskStatus.SKIPPED
    assert "hpf" not in fakes.dispatched and "bank" not in fakes.dispatched
    assert view.status is ApplicationStatus.COMPLETED


async def test_query_answers_while_running(time_env, sample_json):
    queue = f"q-{uuid.uuid4()}"
    fakes = FakeDepartments(reviews=1000)
    inp = application_input(sample_json, queue, timing=Timing(poll_initial_s=600, poll_max_s=600))
    app_id = inp.application_id
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handle = await time_env.client.start_workflow(ApplicationWorkflow.run, inp, id=app_id, task_queue=queue)
        for _ in range(200):
            view = await handle.query(ApplicationWorkflow.status)
            amr = next(d for d in view.departments if d.code == "amr")
            if amr.status is TaskStatus.IN_REVIEW:
                break
            await asyncio.sleep(0.05)
        assert amr.receipt_no == "R-amr"
        assert view.status is ApplicationStatus.PROCESSING
        assert {d.code: d.status for d in view.departments if d.code != "amr"} == {
            c: TaskStatus.WAITING for c in RESULTS if c != "amr"
        }
        bank = next(d for d in view.departments if d.code == "bank")
        assert bank.waiting_for == ["amr", "psb_seal"]
        await handle.terminate("test over")
    with pytest.raises(WorkflowFailureError):
        await handle.result()


def test_stored_applications_are_judged_as_of_their_submission(sample_json):
    """A payload read back years later (replay, query) must not fail today's date rules."""
    # due on the submission day: valid then, in the past on every later day (today included)
    sample_json["shareholders"][0]["contribution_deadline"] = "2026-11-27"
    submitted = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    inp = ApplicationInput(
        application_id="KB-OLD-0001",
        application=Application.model_validate(sample_json, context={"today": submitted}),
        submitted_at=submitted,
        departments=list(Settings().catalog().departments),
    )
    data = inp.model_dump(mode="json")
    # judged on any later day the deadline is in the past ...
    with pytest.raises(Exception, match="认缴出资期限"):
        Application.model_validate(data["application"])
    # ... but the stored input keeps validating as of its submission
    assert (
        ApplicationInput.model_validate(data).application.shareholders[0].contribution_deadline.isoformat()
        == "2026-11-27"
    )


async def test_histories_of_concurrent_departments_replay_exactly(time_env, sample_json):
    """Seven departments run as coroutines of one workflow, finishing in whatever order the fakes do.
    A worker that restarts replays each history: it must issue exactly the recorded commands. (With a
    local activity per department this failed about one run in three: temporalio/sdk-python#1578.)"""
    from temporalio.worker import Replayer

    queue = f"q-{uuid.uuid4()}"
    fakes = FakeDepartments(reviews=1)
    inputs = [application_input(sample_json, queue) for _ in range(6)]
    async with Worker(time_env.client, task_queue=queue, **worker_kwargs(fakes)):
        handles = [
            await time_env.client.start_workflow(ApplicationWorkflow.run, inp, id=inp.application_id, task_queue=queue)
            for inp in inputs
        ]
        views = [await h.result() for h in handles]
    assert all(v.status is ApplicationStatus.COMPLETED for v in views)
    replayer = Replayer(workflows=worker_kwargs(fakes)["workflows"], data_converter=time_env.client.data_converter)
    for h in handles:
        history = await h.fetch_history()
        scheduled = [
            e.activity_task_scheduled_event_attributes.activity_id
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
        ]
        assert "bank.dispatch.r1" in scheduled and "tax.inquire.r1.1" in scheduled  # ids name department and round
        await replayer.replay_workflow(history)  # raises on any divergence
