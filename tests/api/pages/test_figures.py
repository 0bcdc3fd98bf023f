"""The board's figures (api.pages.figures) from known applications at a fixed clock: received and completed
today (the day in Asia/Shanghai, not UTC), the median time to completion, the share completed within the
deadline, the per-department medians in working minutes, and the chart's bars. A fake Temporal client
answers the visibility queries with the applications the test made; nothing depends on today's date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from api.pages import figures
from domain.access import Identity, Role
from domain.calendar import SHANGHAI, WorkingCalendar
from domain.status import ApplicationStatus, Channel, TaskStatus
from workflows import visibility
from workflows.models import ApplicationView, DepartmentState

#: Tuesday 2026-03-10, 14:00 in Shanghai (06:00 UTC): "today" began at 2026-03-09T16:00:00Z
AT = datetime(2026, 3, 10, 14, 0, tzinfo=SHANGHAI)
CALENDAR = WorkingCalendar(overrides={date(2026, 3, 9): True, date(2026, 3, 10): True})
CLERK_A = Identity(subject="clerk", role=Role.CLERK, window_id="TY-XD-01")
SUPERVISOR = Identity(subject="sup", role=Role.SUPERVISOR)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class Wf:
    id: str
    window: str
    start_time: datetime
    close_time: datetime | None = None
    due: datetime | None = None
    view: ApplicationView | None = None

    @property
    def typed_search_attributes(self) -> TypedSearchAttributes:
        pairs: list[SearchAttributePair] = [SearchAttributePair(visibility.WINDOW_ID, self.window)]
        if self.due is not None:
            pairs.append(SearchAttributePair(visibility.DUE_AT, self.due))
        return TypedSearchAttributes(pairs)


class FakeClient:
    """Answers list_workflows as Temporal's visibility would for the two queries figures asks."""

    def __init__(self, started: list[Wf], completed: list[Wf]) -> None:
        self.started, self.completed, self.queries = started, completed, []
        self.by_id = {w.id: w for w in completed}

    async def list_workflows(self, query: str, limit: int):
        self.queries.append(query)
        for wf in self.completed if "CloseTime" in query else self.started:
            yield wf

    def get_workflow_handle(self, workflow_id: str, result_type=None):
        view = self.by_id[workflow_id].view

        class Handle:
            async def result(self, follow_runs: bool = True):
                if view is None:
                    raise RuntimeError("payload unreadable")
                return view

        return Handle()


def view(app_id: str, *departments: tuple[str, datetime, datetime]) -> ApplicationView:
    return ApplicationView(
        application_id=app_id,
        status=ApplicationStatus.COMPLETED,
        company_name="某某有限公司",
        window_id="TY-XD-01",
        submitted_at=local(10, 9),
        departments=[
            DepartmentState(
                code=code, name=code, channel=Channel.API, status=TaskStatus.COMPLETED, dispatched_at=a, completed_at=b
            )
            for code, a, b in departments
        ],
    )


def applications() -> FakeClient:
    started = [Wf(f"KB{i}", "TY-XD-01", local(10, 9)) for i in range(4)] + [Wf("KB-B", "TY-XD-02", local(10, 9))]
    completed = [
        # 30 min, within its deadline; amr 60 working minutes across the night (17:00 → 09:30 next day)
        Wf("KB0", "TY-XD-01", local(10, 9), local(10, 9, 30), local(10, 12), view("KB0", ("amr", local(9, 17), local(10, 9, 30)))),
        # 90 min, within; amr 20, tax 40
        Wf(
            "KB1", "TY-XD-01", local(10, 9), local(10, 10, 30), local(10, 10, 30),
            view("KB1", ("amr", local(10, 9), local(10, 9, 20)), ("tax", local(10, 9, 20), local(10, 10))),
        ),
        # 240 min, late (due 11:00); its result cannot be read: counted, left out of the chart
        Wf("KB2", "TY-XD-01", local(10, 9), local(10, 13), local(10, 11), None),
        # no deadline recorded: completed, not within
        Wf("KB3", "TY-XD-01", local(10, 9), local(10, 9, 10), None, view("KB3", ("amr", local(10, 9), local(10, 10, 30)))),
        # another window's: only the supervisor counts it
        Wf("KB-B", "TY-XD-02", local(10, 9), local(10, 9, 50), local(10, 17), view("KB-B", ("tax", local(10, 9), local(10, 11)))),
    ]  # fmt: skip
    return FakeClient(started, completed)


async def test_todays_figures_for_a_window_from_known_applications():
    client = applications()
    f = await figures.compute(client, CLERK_A, CALENDAR, AT)
    since = "2026-03-09T16:00:00Z"  # midnight in Shanghai, not in UTC
    assert all(f"'{since}'" in q for q in client.queries) and len(client.queries) == 2
    assert f.received == 4 and f.completed == 4
    assert f.median_minutes == 60.0  # of 30, 90, 240, 10
    assert f.within_deadline == pytest.approx(2 / 4)
    # amr: 60 (across the night: 990 wall-clock minutes), 20, 90 -> 60 (wall-clock would give 90); tax: 40
    assert f.per_department == {"amr": 60.0, "tax": 40.0}


async def test_the_supervisor_sees_every_window():
    f = await figures.compute(applications(), SUPERVISOR, CALENDAR, AT)
    assert f.received == 5 and f.completed == 5
    assert f.median_minutes == 50.0  # of 30, 90, 240, 10, 50
    assert f.within_deadline == pytest.approx(3 / 5)
    assert f.per_department == {"amr": 60.0, "tax": 80.0}  # tax: 40 and 120


async def test_no_completed_application_shows_no_median_and_no_share():
    f = await figures.compute(FakeClient([Wf("KB0", "TY-XD-01", local(10, 9))], []), CLERK_A, CALENDAR, AT)
    assert (f.received, f.completed, f.median_minutes, f.within_deadline, f.per_department) == (1, 0, None, None, {})


def test_the_start_of_today_is_shanghais_midnight_whatever_the_hour():
    assert figures._start_of_today(datetime(2026, 3, 9, 16, 30, tzinfo=UTC)) == datetime(2026, 3, 9, 16, tzinfo=UTC)
    assert figures._start_of_today(datetime(2026, 3, 9, 15, 59, tzinfo=UTC)) == datetime(2026, 3, 8, 16, tzinfo=UTC)


def test_the_chart_draws_each_median_against_its_budget_on_one_scale():
    c = figures.chart({"amr": 120.0, "tax": 30.0, "nhsa": 0.0}, {"amr": 240.0, "tax": 60.0}, {"amr": "市场监管"})
    # the longest of medians and budgets (amr's budget, 240) spans the drawing width minus the labels: 320 px
    [amr, tax, nhsa] = c["bars"]
    assert (amr["name"], amr["w"], amr["budget_x"], amr["y"]) == (
        "市场监管",
        pytest.approx(160.0),
        pytest.approx(450.0),
        6,
    )
    assert (tax["name"], tax["w"], tax["budget_x"], tax["y"]) == ("tax", pytest.approx(40.0), pytest.approx(210.0), 38)
    assert nhsa["w"] == 1.0 and nhsa["budget_x"] == c["left"]  # a zero median still shows; no budget at the axis
    assert c["height"] == 3 * 32 + 12 and c["width"] == 520.0
    empty = figures.chart({}, {}, {})
    assert empty["bars"] == [] and empty["height"] == 44


def test_a_department_slower_than_its_budget_runs_past_the_budget_line():
    c = figures.chart({"amr": 300.0}, {"amr": 100.0}, {})
    [bar] = c["bars"]
    assert c["left"] + bar["w"] > bar["budget_x"] and c["left"] + bar["w"] == pytest.approx(c["left"] + 320.0)


async def test_the_figures_cache_keeps_one_computation_per_scope_for_a_while(monkeypatch):
    calls = []

    async def counted(client, identity, calendar, at):
        calls.append(identity.subject)
        return figures.Figures(received=len(calls))

    monkeypatch.setattr(figures, "compute", counted)
    cache = figures.FiguresCache()
    first = await cache.get(None, SUPERVISOR, CALENDAR, AT)
    assert await cache.get(None, SUPERVISOR, CALENDAR, AT + timedelta(seconds=5)) is first
    # another scope of windows is another computation: a clerk never gets the supervisor's figures
    assert (await cache.get(None, CLERK_A, CALENDAR, AT)).received == 2
    assert calls == ["sup", "clerk"]
