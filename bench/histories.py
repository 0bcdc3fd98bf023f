"""Where an orchestration's time goes, read from its workflow histories.

Per application (mean over the histories given): events, workflow tasks, history bytes, the events by type,
and the workflow tasks' times from the events' timestamps: ``wft_queue_ms`` (scheduled → started: waiting for
a worker to poll) and ``wft_run_ms`` (started → completed: the worker running the workflow code and the
server taking its commands), summed over the application's workflow tasks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

_SCHEDULED = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED


def _ms(a, b) -> float:
    return (b.ToDatetime() - a.ToDatetime()).total_seconds() * 1000


def summarize(histories: Sequence) -> dict:
    """The figures of :mod:`bench.histories` from fetched histories (``WorkflowHistory`` objects)."""
    n = len(histories)
    if not n:
        return {"histories": 0}
    by_type: Counter[str] = Counter()
    events = tasks = size = 0
    queue_ms = run_ms = 0.0
    for history in histories:
        scheduled = started = None
        for e in history.events:
            by_type[EventType.Name(e.event_type).removeprefix("EVENT_TYPE_").lower()] += 1
            size += e.ByteSize()
            if e.event_type == _SCHEDULED:
                scheduled = e.event_time
            elif e.event_type == _STARTED:
                started = e.event_time
                if scheduled is not None:
                    queue_ms += _ms(scheduled, started)
            elif e.event_type == _COMPLETED and started is not None:
                run_ms += _ms(started, e.event_time)
                tasks += 1
        events += len(history.events)
    return {
        "histories": n,
        "events": round(events / n, 1),
        "workflow_tasks": round(tasks / n, 1),
        "history_kb": round(size / n / 1024, 1),
        "wft_queue_ms": round(queue_ms / n, 1),
        "wft_run_ms": round(run_ms / n, 1),
        "by_type": {k: round(v / n, 1) for k, v in by_type.most_common()},
    }


async def history_breakdown(client: Client, workflow_ids: Sequence[str]) -> dict:
    """:func:`summarize` of the histories of ``workflow_ids`` (their latest runs)."""
    histories = [await client.get_workflow_handle(w).fetch_history() for w in workflow_ids]
    return summarize(histories)


def rows(o: dict) -> list[tuple[str, str, str, str]]:
    """Table lines: per application, kaiban's and bare's events, workflow tasks and their times."""
    out = []
    for who in ("kaiban", "bare"):
        h = o.get("histories", {}).get(who) or {}
        if not h.get("histories"):
            continue
        cpu = (o.get(who) or {}).get("cpu_ms_per_application") or {}
        if cpu:
            out.append(
                (
                    f"orchestration {who} CPU ms per app: worker+client / temporal",
                    "",
                    "",
                    f"{cpu['bench_process']:.0f} / {cpu['temporal']:.0f}",
                )
            )
        out.append(
            (
                f"orchestration {who} history per app (n={h['histories']})",
                "",
                "",
                f"{h['events']:.0f} events, {h['workflow_tasks']:.1f} WFTs, {h['history_kb']:.1f} kB,"
                f" WFT run {h['wft_run_ms']:.0f} ms",
            )
        )
    return out
