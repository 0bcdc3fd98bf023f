"""What ``WorkflowHandle.describe()`` returns, as far as ``api.status_reads`` reads it, for the fake clients."""

from __future__ import annotations

from types import SimpleNamespace

from temporalio.api.enums.v1 import PendingWorkflowTaskState
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse


def described(*, task_waits: bool = False) -> SimpleNamespace:
    """A description whose workflow task is scheduled and not taken (``task_waits``), or with none pending."""
    raw = DescribeWorkflowExecutionResponse()
    if task_waits:
        raw.pending_workflow_task.state = PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED
    return SimpleNamespace(raw_description=raw)
