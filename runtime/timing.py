"""Retry and polling policy of the department tasks: defined once, read from settings, fixed at submission."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Timing(BaseModel):
    """Carried in each workflow's input, so a running workflow never changes shape.

    ``Settings`` inherits these fields (``KAIBAN_POLL_MAX_S`` …) and ``Settings.timing()`` hands them over.
    """

    robot_heartbeat_timeout_s: float = 20.0
    robot_task_timeout_s: float = 300.0
    api_task_timeout_s: float = 30.0
    # Retries of a department's dispatch and inquiry. An outage (unreachable, 5xx, maintenance, timeouts,
    # an expired portal session) is an operational fact, not a clerk's job: retried with back-off from
    # ``retry_initial_s`` doubling up to ``retry_max_interval_s`` (a department's Retry-After is honoured up
    # to that too), ``transient_max_attempts`` times (0: without limit) while the deadline ladder runs.
    # A failure that is no outage (a malformed answer, an unexpected error) goes to a person after
    # ``robot_max_attempts`` / ``api_max_attempts`` (counted by the activity); a business refusal, a changed
    # portal or refused credentials at once. Telling a department of a withdrawal stays bounded by those.
    robot_max_attempts: int = 8
    api_max_attempts: int = 10
    transient_max_attempts: int = 0
    retry_initial_s: float = 1.0
    retry_max_interval_s: float = 60.0
    # polling a department for its result (between inquiries; a callback cuts the wait short)
    poll_initial_s: float = 1.0
    poll_max_s: float = 300.0
    # a robot department whose portal account is swept (workflows/sweeper.py reads its 我的办件 list and tells
    # each waiting application its result): its task's own inquiry is the fallback, the first one this long
    # after filing, so a sweep usually answers first; None: not swept (every inquiry as above)
    swept_poll_initial_s: float | None = None
    # an API department is given kaiban's callback URL with every filing and posts its decision there (a
    # department_callback update): its task's own inquiry is the fallback, the first one this long after filing
    # when the filing's first answer was "in review"; None or 0: inquire from poll_initial_s on
    api_callback_poll_initial_s: float | None = None
    # a department is asked only in working hours (a real one does not decide at night); off for the
    # simulators of `make run` and the tests, which decide around the clock; production turns it on
    inquire_in_working_hours_only: bool = False
    # an application's workflow continues as a new run (its state carried over) once its history has this
    # many events and every task is waiting (Temporal's limit is 51,200; it also suggests it earlier)
    continue_as_new_after_events: int = Field(default=8000, ge=100)
