"""The two department activities: hand a task to a department, ask a department for its result.

Thin: each picks the channel the catalog names (``endpoint.channel``: every department has both) —
:class:`ApiChannel`, a department API through httpx, or :class:`RobotChannel`, a robot driving the
legacy portal in Chromium — and maps the channel's errors onto
Temporal's retryable / non-retryable failures. Both are idempotent by application id:
the API client sends it as the idempotency key, the robot searches the portal for it
before filing, so a retry or a crashed worker never files a second submission.

A robot dispatch heartbeats every step it reaches, and with it the furthest step of filing
reached by this attempt or the ones before (``(step, furthest)``); a retry reads that from
``activity.info().heartbeat_details`` and hands it to :func:`bots.flows.dispatch` as
``resume_from``, so a form the portal still holds is continued, not started again. On success
a JPEG of the receipt and the receipt page's HTML are kept and linked from the receipt (``Receipt.evidence``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any, Protocol

import structlog
from playwright.async_api import Page
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import api_client
from activities.material_files import api_materials_for, attachments_for
from activities.models import (
    AUTH_ERROR,
    BUSINESS_REJECTION,
    INVALID_REQUEST,
    PORTAL_CHANGED,
    WITHDRAWAL_REFUSED,
    ActivityName,
    DepartmentEndpoint,
    DispatchInput,
    InquireInput,
    WithdrawInput,
)
from activities.portal_mappings import PortalMappings
from activities.sweep_models import WAKE_SIGNAL
from bots import errors as bot_errors
from bots import flows
from bots.browser import BrowserPool
from bots.evidence import make_label
from bots.healing import MappingNeeded
from domain.results import Inquiry, Receipt
from domain.status import Channel
from runtime.settings import Settings


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


class DepartmentActivities:
    """Activities with their dependencies: settings, one browser pool, one HTTP client per API department."""

    def __init__(
        self, settings: Settings, browser_pool: BrowserPool | None, *, mappings: PortalMappings | None = None
    ) -> None:
        self._settings = settings
        self._pool = browser_pool
        self._mappings = mappings or PortalMappings(settings)  # changed portals' approved mappings and proposals
        self._api_clients: dict[tuple[str, str], api_client.DepartmentApiClient] = {}

    async def aclose(self) -> None:
        for client in self._api_clients.values():
            await client.aclose()
        self._api_clients.clear()

    # -- activities -------------------------------------------------------------------------------

    @activity.defn(name=ActivityName.DISPATCH)
    async def dispatch(self, inp: DispatchInput) -> Receipt:
        with _log_context(inp.request.application_id, inp.endpoint):
            try:
                _log().info("department_dispatch_started", attempt=activity.info().attempt)
                receipt = await self._channel(inp.endpoint).dispatch(inp)
                _log().info("department_dispatched", receipt_no=receipt.receipt_no)
                if inp.wake_sweeper and receipt.answer is None:
                    await wake_sweeper(inp.wake_sweeper)
                return receipt
            except ApplicationError:  # already a Temporal failure (e.g. a changed portal's proposal)
                raise
            except Exception as exc:  # mapped onto Temporal failures below
                raise _to_application_error(exc, **self._limits(inp.endpoint)) from exc

    @activity.defn(name=ActivityName.INQUIRE)
    async def inquire(self, inp: InquireInput) -> Inquiry:
        with _log_context(inp.application_id, inp.endpoint):
            try:
                inquiry = await self._channel(inp.endpoint).inquire(inp)
                _log().info("department_inquired", status=inquiry.status)
                return inquiry
            except ApplicationError:
                raise
            except Exception as exc:
                raise _to_application_error(exc, **self._limits(inp.endpoint)) from exc

    @activity.defn(name=ActivityName.WITHDRAW)
    async def withdraw(self, inp: WithdrawInput) -> None:
        """Tell a department that already received the application that it is withdrawn (idempotent);
        ``WithdrawalRefused`` (never retried) when the department has completed (approved) it."""
        with _log_context(inp.application_id, inp.endpoint):
            try:
                await self._channel(inp.endpoint).withdraw(inp)
                _log().info("department_told_withdrawn")
            except Exception as exc:
                raise _to_application_error(exc, **self._limits(inp.endpoint)) from exc

    def _limits(self, endpoint: DepartmentEndpoint) -> dict[str, Any]:
        """How long an outage's Retry-After is honoured, and how many attempts a failure that is no outage gets."""
        s = self._settings
        robot = endpoint.channel is Channel.ROBOT
        return {
            "attempt": activity.info().attempt,
            "max_attempts": s.robot_max_attempts if robot else s.api_max_attempts,
            "max_delay_s": s.retry_max_interval_s,
        }

    async def _first_answer(self, endpoint: DepartmentEndpoint, receipt: Receipt) -> Inquiry | None:
        """Ask an API department once, right after filing, what became of the task. Best effort: the
        filing has succeeded, so a failed question is left to the workflow's next inquiry."""
        try:
            return await self._api(endpoint).inquire(receipt.receipt_no)
        except Exception as exc:  # the inquiry proper reports it, with its retries
            _log().info("department_first_inquiry_skipped", error_type=type(exc).__name__, error=str(exc)[:200])
            return None

    async def _robot_dispatch(self, inp: DispatchInput) -> Receipt:
        """File through the portal's robot, going on from where an earlier attempt left the form;
        on success keep the receipt's evidence (a JPEG of the receipt, its HTML) and link it from the receipt."""
        code, application_id = inp.endpoint.code, inp.request.application_id
        info = activity.info()
        resume_from = previous_step(info.heartbeat_details)
        if resume_from is not None:
            _log().info("robot.resuming", step=resume_from, attempt=info.attempt)
        progress = _Progress(code, resume_from)
        # the materials the catalog names for this department, for the portal's attachment step
        files = await asyncio.to_thread(attachments_for, self._settings, code, inp.request.application)
        healing = await self._mappings.healing(code)  # a changed form is filed through its approved mapping
        try:
            async with self._robot_page(inp.endpoint, application_id, affinity=application_id) as (page, access):
                receipt = await flows.dispatch(
                    page,
                    access,
                    inp.request,
                    on_step=progress,
                    resume_from=resume_from,
                    attachments=files,
                    healing=healing,
                )
                kept = await self._browser().save_receipt(page, _label(code, application_id, action="receipt"))
        except MappingNeeded as exc:  # proposed for an admin (or a developer): the task waits for a person
            raise await self._mappings.proposed(exc, code, application_id) from exc
        if kept:  # {RECEIPT_SCREENSHOT: ….jpg, RECEIPT_HTML: ….html}
            receipt = receipt.model_copy(update={"evidence": kept})
        return receipt

    # -- the channels -----------------------------------------------------------------------------

    def _channel(self, endpoint: DepartmentEndpoint) -> ChannelOps:
        """The department's channel as the catalog (and ``KAIBAN_CHANNEL_OVERRIDES``) names it."""
        return ApiChannel(self, endpoint) if endpoint.channel is Channel.API else RobotChannel(self, endpoint)

    # -- helpers ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _robot_page(
        self, endpoint: DepartmentEndpoint, application_id: str, *, affinity: str | None = None
    ) -> AsyncIterator[tuple[Page, flows.PortalAccess]]:
        """A page of the browser pool for one robot task at ``endpoint``, with the account it logs in with:
        evidence labelled by department, application and attempt (traced from the pool's attempt on);
        the account's warm page reused."""
        access = self._access(endpoint)
        async with self._browser().page(
            label=_label(endpoint.code, application_id),
            account=_account(access),
            affinity=affinity,
            attempt=activity.info().attempt,
        ) as page:
            yield page, access

    def _browser(self) -> BrowserPool:
        if self._pool is None:
            raise ApplicationError(
                "this worker has no browser: robot tasks belong on a robot worker", non_retryable=True
            )
        return self._pool

    def _access(self, endpoint: DepartmentEndpoint) -> flows.PortalAccess:
        creds = self._settings.credentials(endpoint.credentials_ref or endpoint.code)
        return flows.PortalAccess(
            base_url=endpoint.base_url,
            username=creds.username,
            password=creds.password,
            captcha_attempts=self._settings.robot_captcha_attempts,
        )

    def _api(self, endpoint: DepartmentEndpoint) -> api_client.DepartmentApiClient:
        key = (endpoint.code, endpoint.base_url)
        client = self._api_clients.get(key)
        if client is None:
            token = self._settings.api_token(endpoint.credentials_ref or endpoint.code)
            client = api_client.DepartmentApiClient(endpoint.base_url, token)
            self._api_clients[key] = client
        return client


async def wake_sweeper(workflow_id: str) -> None:
    """Tell the portal account's sweeper of the filing (it sweeps at its fast pace). Best effort: the filing has
    succeeded, and a sweeper that is not running or not reached leaves the task's own inquiries to answer."""
    try:
        await activity.client().get_workflow_handle(workflow_id).signal(WAKE_SIGNAL)
    except Exception as exc:
        _log().info("sweeper_not_woken", sweeper=workflow_id, error_type=type(exc).__name__, error=str(exc)[:200])


class ChannelOps(Protocol):
    """What a channel does for one department task; every department is reachable by either."""

    async def dispatch(self, inp: DispatchInput) -> Receipt: ...

    async def inquire(self, inp: InquireInput) -> Inquiry: ...

    async def withdraw(self, inp: WithdrawInput) -> None: ...


class ApiChannel:
    """The department's JSON API (``activities.api_client``, bodies from ``activities.payloads``)."""

    def __init__(self, acts: DepartmentActivities, endpoint: DepartmentEndpoint) -> None:
        self.acts, self.endpoint = acts, endpoint

    async def dispatch(self, inp: DispatchInput) -> Receipt:
        code = self.endpoint.code
        callback = f"{self.acts._settings.public_base_url}/api/v1/departments/{code}/callbacks"
        # the materials the catalog names for this department, inline or by signed link (materials_by)
        materials = await asyncio.to_thread(
            api_materials_for, self.acts._settings, code, inp.request.application_id, inp.request.application
        )
        receipt = await self.acts._api(self.endpoint).submit(inp.request, callback_url=callback, materials=materials)
        return receipt.model_copy(update={"answer": await self.acts._first_answer(self.endpoint, receipt)})

    async def inquire(self, inp: InquireInput) -> Inquiry:
        if not inp.receipt_no:
            raise ApplicationError("API inquiry needs the department's ticket", non_retryable=True)
        return await self.acts._api(self.endpoint).inquire(inp.receipt_no)

    async def withdraw(self, inp: WithdrawInput) -> None:
        if inp.receipt_no:
            await self.acts._api(self.endpoint).withdraw(inp.receipt_no, inp.reason)


class RobotChannel:
    """A robot driving the department's legacy portal in Chromium (``bots.flows``)."""

    def __init__(self, acts: DepartmentActivities, endpoint: DepartmentEndpoint) -> None:
        self.acts, self.endpoint = acts, endpoint

    async def dispatch(self, inp: DispatchInput) -> Receipt:
        return await self.acts._robot_dispatch(inp)

    async def inquire(self, inp: InquireInput) -> Inquiry:
        async with self.acts._robot_page(self.endpoint, inp.application_id) as (page, access):
            return await flows.inquire(
                page, access, self.endpoint.code, inp.application_id, inp.receipt_no, on_step=_heartbeat
            )

    async def withdraw(self, inp: WithdrawInput) -> None:
        async with self.acts._robot_page(self.endpoint, inp.application_id) as (page, access):
            await flows.withdraw(
                page, access, self.endpoint.code, inp.application_id, inp.receipt_no, inp.reason, on_step=_heartbeat
            )


def _log_context(application_id: str, endpoint: DepartmentEndpoint):
    """Every log line of one department call names the application, the department and the channel."""
    return structlog.contextvars.bound_contextvars(
        application_id=application_id, department=endpoint.code, channel=endpoint.channel.value
    )


RECEIPT_SCREENSHOT = "receipt_screenshot"  # the key of Receipt.evidence naming the receipt's JPEG
RECEIPT_HTML = "receipt_html"  # the key of Receipt.evidence naming the receipt page's HTML


def _heartbeat(step: str) -> None:
    activity.heartbeat(step)


class _Progress:
    """A robot dispatch's heartbeat: the step it is at and the furthest step of filing reached so far,
    by this attempt or an earlier one (``flows.step_rank``), which the next attempt resumes from."""

    def __init__(self, department: str, resumed_from: str | None) -> None:
        self.department = department
        self.furthest = resumed_from if flows.step_rank(department, resumed_from) >= 0 else None

    def __call__(self, step: str) -> None:
        if flows.step_rank(self.department, step) > flows.step_rank(self.department, self.furthest):
            self.furthest = step
        if self.furthest is None:
            activity.heartbeat(step)
        else:
            activity.heartbeat(step, self.furthest)


def previous_step(details: Sequence[Any]) -> str | None:
    """The step the previous attempt reached, from its last heartbeat: ``(step,)`` or ``(step, furthest)``
    (the furthest step of filing wins); None on a first attempt or details of another shape."""
    if not details:
        return None
    furthest = details[1] if len(details) > 1 else None
    if isinstance(furthest, str) and furthest:
        return furthest
    step = details[0]
    return step if isinstance(step, str) and step else None


def _account(access: flows.PortalAccess) -> tuple[str, str]:
    """Whose logged-in sessions a robot task may reuse: the portal and the user name (never the password)."""
    return (access.base_url, access.username)


def _label(code: str, application_id: str, *, action: str | None = None) -> str:
    """Evidence file name: department, application id, attempt — never personal data or credentials
    (``amr-KB20261128-0001-attempt3``; with ``action="receipt"``: ``amr-KB20261128-0001-receipt-attempt3``)."""
    return make_label(code, application_id, activity.info().attempt, action=action)


def _to_application_error(
    exc: Exception, *, attempt: int = 1, max_attempts: int | None = None, max_delay_s: float | None = None
) -> ApplicationError:
    """Channel errors → Temporal failures. Business outcomes and changed portals are never retried; an
    outage always is (the workflow's policy has no attempt limit for it), after the pause the department
    asked for (at most ``max_delay_s``); any other failure is retried until attempt ``max_attempts``, then
    not any more (the task goes to a person).

    The evidence of a failed robot attempt (screenshot and trace paths) travels as the error's details."""
    if isinstance(exc, ApplicationError):
        return exc
    err = _classify(exc, max_delay_s=max_delay_s)
    if not err.non_retryable and not is_outage(exc) and max_attempts and attempt >= max_attempts:
        err = ApplicationError(
            f"gave up after {attempt} attempts: {err.message}", type=ATTEMPTS_EXHAUSTED, non_retryable=True
        )
    evidence = getattr(exc, "evidence", None)
    if evidence:
        return ApplicationError(
            err.message,
            evidence,
            type=err.type,
            non_retryable=err.non_retryable,
            next_retry_delay=err.next_retry_delay,
        )
    return err


#: the type of the failure of a task that kept failing, not from an outage (it goes to a person)
ATTEMPTS_EXHAUSTED = "AttemptsExhausted"


def is_outage(exc: Exception) -> bool:
    """A department that cannot be reached or is not answering now (down, 5xx, 408/429, maintenance,
    timeouts, an expired portal session): an operational fact, retried until it is back. A malformed
    answer is not one (the department's API may have changed)."""
    if isinstance(exc, api_client.DepartmentProtocolError):
        return False
    if isinstance(exc, api_client.DepartmentUnavailable):
        return True
    return isinstance(exc, bot_errors.PortalError) and exc.retryable


def _classify(exc: Exception, *, max_delay_s: float | None = None) -> ApplicationError:
    if isinstance(exc, (bot_errors.WithdrawalRefused, api_client.WithdrawalRefused)):
        return ApplicationError(exc.reason, type=WITHDRAWAL_REFUSED, non_retryable=True)
    if isinstance(exc, (bot_errors.BusinessRejection, api_client.DepartmentRejected)):
        reason = getattr(exc, "reason", None) or str(exc)
        return ApplicationError(reason, type=BUSINESS_REJECTION, non_retryable=True)
    if isinstance(exc, bot_errors.PortalChanged):
        return ApplicationError(str(exc), type=PORTAL_CHANGED, non_retryable=True)
    if isinstance(exc, bot_errors.PortalError) and not exc.retryable:  # e.g. LoginRejected, SubmissionNotFound
        return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)
    if isinstance(exc, api_client.DepartmentAuthError):
        return ApplicationError(str(exc), type=AUTH_ERROR, non_retryable=True)
    if isinstance(exc, ValueError):  # a request that cannot be built (e.g. no USCC upstream): retrying cannot help
        return ApplicationError(f"invalid department request: {exc}", type=INVALID_REQUEST, non_retryable=True)
    # Unavailable portals/APIs, expired sessions, anything unexpected: retried by the retry policy,
    # after the pause the department asked for (Retry-After during maintenance) when it named one.
    _log().warning("department_attempt_failed", error_type=type(exc).__name__, error=str(exc))
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after and max_delay_s is not None:
        retry_after = min(float(retry_after), max_delay_s)
    return ApplicationError(
        f"{type(exc).__name__}: {exc}",
        type=type(exc).__name__,
        next_retry_delay=timedelta(seconds=float(retry_after)) if retry_after else None,
    )
