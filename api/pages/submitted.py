"""The application as it stands (the form a correction starts from): read back from the workflow's history.

The workflow's input carries the form as submitted; each accepted ``correct`` update carries a corrected
one; the last of them is the form now. Read through the client's data converter (payloads are decrypted
as for any other read of the API); nothing of it is kept.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client

from domain.catalog import Catalog
from domain.status import TaskStatus
from workflows.models import ApplicationInput, ApplicationView, Correction


async def current_form(client: Client, application_id: str) -> dict[str, Any] | None:
    handle = client.get_workflow_handle(application_id)
    latest = None
    converter = client.data_converter
    async for event in handle.fetch_history_events():
        if event.HasField("workflow_execution_started_event_attributes"):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [started] = await converter.decode(payloads, [ApplicationInput])
            latest = started.application
        elif event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name == "correct":
                [correction] = await converter.decode(request.input.args.payloads, [Correction])
                latest = correction.application
    return latest.model_dump(mode="json") if latest is not None else None


def _uses(view: ApplicationView, catalog: Catalog, status: TaskStatus) -> list[str]:
    parts: set[str] = set()
    for d in view.departments:
        if d.status is status:
            try:
                parts.update(catalog.get(d.code).uses)
            except KeyError:
                continue
    return sorted(parts)


def locked_parts(view: ApplicationView, catalog: Catalog) -> list[str]:
    """The parts of the form a completed department used: a correction may not change them."""
    return _uses(view, catalog, TaskStatus.COMPLETED)


def editable_parts(view: ApplicationView, catalog: Catalog) -> list[str]:
    """The parts of the form the rejected departments use: the only ones a correction offers to change
    (less what a completed department used: ``locked_parts`` wins)."""
    return _uses(view, catalog, TaskStatus.REJECTED)
