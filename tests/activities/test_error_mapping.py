"""Channel errors become the right Temporal failures: retried or not, and after how long."""

from datetime import timedelta

from activities import api_client
from activities.departments import _to_application_error
from bots import errors as bot_errors


def test_business_outcomes_and_changed_portals_are_not_retried():
    for exc in (
        bot_errors.BusinessRejection("名称重复"),
        bot_errors.PortalChanged("no landmark"),
        api_client.DepartmentRejected("bad uscc"),
        api_client.DepartmentAuthError("401"),
    ):
        assert _to_application_error(exc).non_retryable, type(exc).__name__
    assert _to_application_error(bot_errors.BusinessRejection("名称重复")).type == "BusinessRejection"


def test_maintenance_asks_temporal_to_wait_as_long_as_the_portal_said():
    err = _to_application_error(bot_errors.PortalUnavailable("系统维护中", retry_after_s=600))
    assert not err.non_retryable
    assert err.next_retry_delay == timedelta(seconds=600)
    plain = _to_application_error(bot_errors.PortalUnavailable("503"))
    assert plain.next_retry_delay is None and not plain.non_retryable


def test_evidence_travels_as_details():
    exc = bot_errors.PortalChanged("no landmark")
    exc.evidence = {"screenshot": "2026-11-29/amr-KB1-attempt1.png", "trace": "2026-11-29/amr-KB1-attempt1.zip"}
    err = _to_application_error(exc)
    assert err.details[0] == exc.evidence and err.non_retryable
