"""Counting a page's Playwright round trips: every call the Python client sends to the Playwright driver
and waits for an answer to (``__waitInfo__`` notes, which are never answered, are not counted).

``python -m tests.bots.round_trips`` files one amr application on its simulator in real Chromium with each
fill mode and prints the round trips per step and in all (the figures of bots/README.md).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from playwright.async_api import Page


@dataclasses.dataclass
class RoundTrips:
    """Calls sent to the driver while counting, by ``(object type, method)``."""

    calls: collections.Counter[tuple[str, str]] = dataclasses.field(default_factory=collections.Counter)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@contextlib.contextmanager
def counting(page: Page) -> Iterator[RoundTrips]:
    """Count the round trips of every call made through ``page``'s connection while the block runs."""
    connection = page._impl_obj._connection  # the client's one connection to the driver
    original = connection.send_message_to_server
    seen = RoundTrips()

    def send(owner: Any, method: str, params: Any, options: Any) -> Any:
        if method != "__waitInfo__":
            seen.calls[(owner._type, method)] += 1
        return original(owner, method, params, options)

    connection.send_message_to_server = send
    try:
        yield seen
    finally:
        del connection.send_message_to_server  # the class's method again


async def _measure(fill: str) -> dict[str, Any]:
    from bots import mappings
    from bots.browser import BrowserPool
    from bots.flows import PortalAccess, dispatch
    from domain.requests import DepartmentRequest
    from simulators.portal import create_portal_app
    from tests.support.servers import serve_app

    sample = json.loads((Path(__file__).resolve().parents[2] / "contract" / "application.example.json").read_text())
    flow = mappings.FLOWS["amr"]
    mappings.FLOWS["amr"] = dataclasses.replace(flow, fill=fill)
    per_step: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = create_portal_app("amr", db_path=Path(tmp) / "amr.sqlite3", username="u", password="p-secret")
            async with serve_app(app) as url, BrowserPool(max_sessions=1) as pool, pool.page() as page:
                request = DepartmentRequest(
                    application_id=f"RT-{fill.replace('_', '-')}", department="amr", application=sample, upstream={}
                )
                with counting(page) as seen:
                    last = [0, "start"]

                    def on_step(name: str) -> None:
                        per_step[str(last[1])] = seen.total - int(last[0])
                        last[:] = [seen.total, name]

                    await dispatch(page, PortalAccess(url, "u", "p-secret"), request, on_step=on_step)
                    per_step[str(last[1])] = seen.total - int(last[0])
        return {"fill": fill, "total": seen.total, "per_step": per_step, "by_call": dict(seen.calls)}
    finally:
        mappings.FLOWS["amr"] = flow


def main() -> None:
    for fill in sys.argv[1:] or ("per_field", "one_trip"):
        out = asyncio.run(_measure(fill))
        print(f"{out['fill']}: {out['total']} round trips for an amr filing")
        print("  per step:", ", ".join(f"{k} {v}" for k, v in out["per_step"].items()))
        calls = sorted(out["by_call"].items(), key=lambda kv: -kv[1])
        print("  by call:", ", ".join(f"{t}.{m} {n}" for (t, m), n in calls))


if __name__ == "__main__":
    main()
