"""Inputs of the department activities (one model each, so fields can be added safely)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.requests import DepartmentRequest
from domain.status import Channel


class DepartmentEndpoint(BaseModel):
    """How to reach one department: channel, address, which account."""

    code: str
    channel: Channel
    base_url: str
    credentials_ref: str | None = None


class DispatchInput(BaseModel):
    endpoint: DepartmentEndpoint
    request: DepartmentRequest
    #: the workflow id of the portal account's sweeper (``workflows.sweeper``), woken once the robot has filed
    #: and the portal gave no answer yet (patch PER_EVENT: the activity wakes it, not the workflow); None: none
    wake_sweeper: str | None = None


class InquireInput(BaseModel):
    endpoint: DepartmentEndpoint
    application_id: str
    receipt_no: str | None = None


class WithdrawInput(BaseModel):
    endpoint: DepartmentEndpoint
    application_id: str
    receipt_no: str | None = None
    reason: str


class ActivityName:
    """The name of every activity: the one place the workflows, the worker and the tests' stand-ins take it from."""

    DISPATCH = "dispatch_to_department"
    INQUIRE = "inquire_department"
    WITHDRAW = "withdraw_from_department"
    NOTIFY = "notify"
    PLANNING_BASIS = "planning_basis"
    ROLL_OUT_CALENDAR = "roll_out_calendar"
    SWEEP = "sweep_portal"  # one robot session reads a portal account's 我的办件 list (activities/sweeps.py)


# ApplicationError types raised by the activities; the workflows branch on them.
BUSINESS_REJECTION = "BusinessRejection"
PORTAL_CHANGED = "PortalChanged"
AUTH_ERROR = "DepartmentAuthError"
INVALID_REQUEST = "InvalidDepartmentRequest"
#: a department will not withdraw a case it has completed (approved): the withdrawal is refused, the task goes on
WITHDRAWAL_REFUSED = "WithdrawalRefused"
NON_RETRYABLE_TYPES = [BUSINESS_REJECTION, PORTAL_CHANGED, AUTH_ERROR, INVALID_REQUEST, WITHDRAWAL_REFUSED]


class Notification(BaseModel):
    """One escalation step (or other notice) to be delivered to an audience.

    ``key`` identifies the step uniquely (application, department, ladder sequence, deadline
    version): delivering the same key twice is a no-op in the sink and carries the same
    ``X-Kaiban-Delivery`` id to webhooks, so receivers can drop duplicates.
    """

    key: str
    application_id: str
    department: str | None = None  # None: the whole application
    level: str  # remind | warn | breach | re_escalate
    audience: str  # department_handler | department_supervisor | window_supervisor | leading_group_office
    sequence: int
    due_at: datetime
    planned_at: datetime  # the instant the ladder step was due
    fired_at: datetime  # workflow time at which it fired
    window_id: str
    message: str  # Chinese, for people; never names, ID numbers or mobiles


class PlanningBasisInput(BaseModel):
    submitted_at: datetime
