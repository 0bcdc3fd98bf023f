"""Callbacks: the department POSTs a submission's state to its ``callback_url`` (best effort, 3 s)."""

from __future__ import annotations

import asyncio

import httpx

from simulators.department_api import store
from simulators.department_api.state import Department

CALLBACK_TIMEOUT_S = 3.0


async def post_callback(department: Department, ticket: str, delay: float, expect: tuple[str, ...]) -> None:
    """After ``delay``, POST the submission if it has a callback URL and its status is one of ``expect``."""
    try:
        if delay > 0:
            await asyncio.sleep(delay)
        rows = await asyncio.to_thread(store.select, department.db_path, "WHERE ticket = ?", (ticket,))
        if not rows or not rows[0]["callback_url"] or store.status(rows[0]) not in expect:
            return
        row = rows[0]
        async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S) as client:
            await client.post(
                row["callback_url"],
                json=store.public(row),
                # the shared account secret
                headers={"X-Department": department.code, "Authorization": f"Bearer {department.token}"},
            )
    except asyncio.CancelledError:
        raise
    except Exception:  # a callback is best effort: the inquiry endpoint stays authoritative
        pass


def schedule_callback(department: Department, ticket: str, delay: float, expect: tuple[str, ...]) -> None:
    task = asyncio.get_running_loop().create_task(post_callback(department, ticket, delay, expect))
    department.pending.add(task)
    task.add_done_callback(department.pending.discard)


async def cancel_pending(department: Department) -> None:
    """On shutdown: the callbacks not yet sent are dropped."""
    for task in list(department.pending):
        task.cancel()
    if department.pending:
        await asyncio.gather(*department.pending, return_exceptions=True)
