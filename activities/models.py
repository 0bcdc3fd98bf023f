"""Inputs of the department activities (one model each, so fields can be added safely)."""

from __future__ import annotations

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


class InquireInput(BaseModel):
    endpoint: DepartmentEndpoint
    application_id: str
    receipt_no: str | None = None


# ApplicationError types raised by the activities; the workflows branch on them.
BUSINESS_REJECTION = "BusinessRejection"
PORTAL_CHANGED = "PortalChanged"
AUTH_ERROR = "DepartmentAuthError"
INVALID_REQUEST = "InvalidDepartmentRequest"
NON_RETRYABLE_TYPES = [BUSINESS_REJECTION, PORTAL_CHANGED, AUTH_ERROR, INVALID_REQUEST]
