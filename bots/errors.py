"""What can go wrong when a robot drives a department portal: one error tree for every portal.

``retryable`` tells the activity boundary whether Temporal should try again. Playwright's own
``TimeoutError`` / ``Error`` never leave ``bots``: :func:`playwright_errors` (pages) and
:func:`portal_errors` (flows) turn them into a :class:`PortalError` via :func:`from_playwright`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

__all__ = [
    "BusinessRejection",
    "CaptchaUnsolved",
    "LoginRejected",
    "PortalChanged",
    "PortalError",
    "PortalUnavailable",
    "SessionExpired",
    "SubmissionNotFound",
    "WithdrawalRefused",
    "from_playwright",
    "playwright_errors",
    "portal_errors",
]


class PortalError(Exception):
    """Base of every robot failure."""

    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, department: str | None = None, step: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.department = department
        self.step = step

    def __str__(self) -> str:
        where = "/".join(p for p in (self.department, self.step) if p)
        return f"[{where}] {self.message}" if where else self.message


class PortalUnavailable(PortalError):
    """The portal cannot be reached or answers badly: connection refused, 5xx, timeouts. Retry.

    ``retry_after_s``: how long the portal asked us to wait (its ``Retry-After``, e.g. during
    maintenance, 系统维护中), or None when it did not say."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        department: str | None = None,
        step: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, department=department, step=step)
        self.retry_after_s = retry_after_s


class SessionExpired(PortalError):
    """The portal sent us back to its login page in the middle of a task. Retry (logs in again)."""

    retryable = True


class BusinessRejection(PortalError):
    """The portal refused the data (server-side validation messages read from the page). Do not retry:
    a clerk must correct the application."""

    retryable = False

    def __init__(self, reason: str, *, department: str | None = None, step: str | None = None) -> None:
        super().__init__(reason, department=department, step=step)
        self.reason = reason


class PortalChanged(PortalError):
    """An expected landmark (heading, label, button, result markup) is missing: the portal changed
    and the robot needs maintenance. Do not retry."""

    retryable = False


class CaptchaUnsolved(PortalError):
    """The portal refused every answer the robot read from its image captchas (验证码) in one login, each
    on a new picture. Retry later: a new attempt reads new pictures; nothing a person must do."""

    retryable = True

    def __init__(self, message: str, *, attempts: int, department: str | None = None, step: str | None = None) -> None:
        super().__init__(message, department=department, step=step)
        self.attempts = attempts


class LoginRejected(PortalError):
    """The portal refused the robot's credentials. Do not retry: the credentials must be fixed."""

    retryable = False


class SubmissionNotFound(PortalError):
    """An inquiry found no submission under the given application id / receipt number. Do not retry
    blindly: the task must be dispatched (again) first."""

    retryable = False


class WithdrawalRefused(PortalError):
    """The portal will not withdraw the case: the department has completed it (已办结, e.g. the business
    licence is approved), so withdrawing is a separate legal procedure. A business outcome: do not retry;
    the application is not withdrawn. ``reason`` holds the words the clerk is shown."""

    retryable = False

    def __init__(self, reason: str, *, department: str | None = None, step: str | None = None) -> None:
        super().__init__(reason, department=department, step=step)
        self.reason = reason


_UNAVAILABLE_MARKERS = (
    "net::err_",
    "ns_error_",
    "target page, context or browser has been closed",
    "target closed",
    "browser has been closed",
    "browser closed",
    "connection closed",
    "navigation failed because page crashed",
    "page crashed",
)
_CHANGED_MARKERS = ("strict mode violation", "element is not", "not a select", "not a checkbox", "no element")


def from_playwright(
    exc: BaseException, *, what: str, department: str | None = None, step: str | None = None
) -> PortalError:
    """Classify a Playwright exception raised while doing ``what``.

    Timeouts and network/browser failures are :class:`PortalUnavailable` (retryable);
    errors about the page's structure are :class:`PortalChanged`.
    """
    if isinstance(exc, PortalError):
        return exc
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    lowered = str(exc).lower()
    if isinstance(exc, (PlaywrightTimeoutError, TimeoutError)):
        return PortalUnavailable(f"{what}: timed out ({text})", department=department, step=step)
    if any(m in lowered for m in _CHANGED_MARKERS):
        return PortalChanged(f"{what}: {text}", department=department, step=step)
    if any(m in lowered for m in _UNAVAILABLE_MARKERS):
        return PortalUnavailable(f"{what}: {text}", department=department, step=step)
    # unknown browser-side failure: assume transient, a retry starts from a fresh page
    return PortalUnavailable(f"{what}: {text}", department=department, step=step)


class playwright_errors:  # lower case: used like a function, ``with playwright_errors("logging in"):``
    """Raise what a Playwright exception in the block means (:func:`from_playwright`), from it."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, PlaywrightError):
            raise from_playwright(exc, what=self.what) from exc


class portal_errors:  # lower case: used like a function, ``with portal_errors("amr", steps, log):``
    """Around a whole flow: every failure leaves as a :class:`PortalError` naming the department and
    the step it happened in (``where()``, read when it fails), logged once as ``robot.failed``."""

    def __init__(self, department: str, where: Callable[[], str], log: Any) -> None:
        self.department = department
        self.where = where
        self.log = log

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, PortalError):
            self._located(exc)
        elif isinstance(exc, PlaywrightError):
            raise self._located(from_playwright(exc, what=self.where())) from exc

    def _located(self, exc: PortalError) -> PortalError:
        exc.department = exc.department or self.department
        exc.step = exc.step or self.where()
        self.log.warning(
            "robot.failed", step=exc.step, error=type(exc).__name__, retryable=exc.retryable, detail=exc.message
        )
        return exc
