"""The polling policy a new application carries: ``Settings.timing()`` from the settings and the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from runtime.settings import Settings
from runtime.timing import Timing


def test_an_api_departments_fallback_inquiry_waits_60_s_by_default_and_0_polls_as_before(monkeypatch):
    assert Timing().api_callback_poll_initial_s is None  # a workflow input from before: polled as it was
    assert Settings().timing().api_callback_poll_initial_s == 60.0
    monkeypatch.setenv("KAIBAN_API_CALLBACK_POLL_INITIAL_S", "0")
    assert Settings().timing().api_callback_poll_initial_s == 0.0
    monkeypatch.setenv("KAIBAN_API_CALLBACK_POLL_INITIAL_S", "-1")
    with pytest.raises(ValidationError):
        Settings()


def test_sweeps_off_drop_the_swept_fallback(monkeypatch):
    assert Settings().timing().swept_poll_initial_s == 60.0
    monkeypatch.setenv("KAIBAN_SWEEP_ENABLED", "false")
    assert Settings().timing().swept_poll_initial_s is None
