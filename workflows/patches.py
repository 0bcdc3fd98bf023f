"""The application workflow's patches (``workflow.patched``), and the one that stands for all of them.

Every patch marker costs a new workflow two history events (the marker and the ``TemporalChangeVersion``
search attribute the SDK upserts with it). A workflow begun after ``LEAN`` records only ``LEAN``, checked
first thing in ``ApplicationWorkflow.run`` (a point that is the same on every replay), and takes every
earlier patch as taken without recording it; a history from before has no ``LEAN`` marker and checks each
patch where it always did, so it replays unchanged.

``LEAN`` also writes the board's memo and the search attributes at most once per activation (after the
activation's coroutines have run, ``workflows.published``) instead of at every change of a department.

``PER_EVENT`` (the newest, standing for both) makes the commands the workflow issues in answer to each event
independent of how the events are grouped into activations: a worker restarted after a crash that answers a
query while a workflow task waits on the dead worker's sticky queue applies the events already in history
for the query, then the rest when the workflow task comes, and sends the commands of both activations in one
completion, whereas a replay applies them all in one activation (temporalio 1.35; scripts/query_split_repro.py
shows it with a toy workflow). So the memo is written at each change again (not once per activation), the
account's sweeper is woken by the dispatch activity (not by a signal from a task of the workflow's own) and the
clock starts its timers at once (not from a task of their own): a coroutine's answer to its event is complete
before the next event's coroutine runs. What wakes another coroutine (a prerequisite's result starting the
departments after it, a ladder step) still follows the grouping.
"""

from __future__ import annotations

from temporalio import workflow

#: Patch id: the earlier patches taken as one; the visibility written once per activation
LEAN = "orchestration-lean-visibility-per-activation"
#: Patch id: ``LEAN``, and one durable timer for all the application's ladders (``workflows.clock``)
ONE_CLOCK = "orchestration-one-clock-for-all-ladders"

#: Patch id: ``ONE_CLOCK``, and each event's commands issued by its own coroutine at once (see above)
PER_EVENT = "orchestration-commands-per-event"

_FLAG = "_kaiban_lean"  # set on the workflow object by ``take_lean`` (False until then: each patch as before)
_CLOCK_FLAG = "_kaiban_one_clock"
_PER_EVENT_FLAG = "_kaiban_per_event"


def take_lean() -> bool:
    """Check ``PER_EVENT``, else ``ONE_CLOCK``, else ``LEAN`` (first thing in the workflow's ``run``), and
    remember the answers for ``patched``, ``one_clock`` and ``per_event``. A workflow begun after ``PER_EVENT``
    records its marker only; one begun before has the marker it was begun with and replays as it ran
    (``workflow.patched`` of a patch its history lacks records nothing on replay)."""
    per_event = workflow.patched(PER_EVENT)
    clock = per_event or workflow.patched(ONE_CLOCK)
    lean = clock or workflow.patched(LEAN)
    setattr(workflow.instance(), _FLAG, lean)
    setattr(workflow.instance(), _CLOCK_FLAG, clock)
    setattr(workflow.instance(), _PER_EVENT_FLAG, per_event)
    return lean


def lean() -> bool:
    return bool(getattr(workflow.instance(), _FLAG, False))


def one_clock() -> bool:
    """The application's ladders share one timer (``workflows.clock``)."""
    return bool(getattr(workflow.instance(), _CLOCK_FLAG, False))


def per_event() -> bool:
    """Each event's commands come from its own coroutine at once, whatever the activation (see above)."""
    return bool(getattr(workflow.instance(), _PER_EVENT_FLAG, False))


def patched(patch_id: str) -> bool:
    """``workflow.patched(patch_id)``, or True without a marker in a workflow begun after ``LEAN``."""
    return lean() or workflow.patched(patch_id)


#: Patch id: a department is not asked for its result outside working hours (it does not work then)
INQUIRIES_IN_WORKING_HOURS = "inquiries-in-working-hours"
#: Patch id: past ``Timing.continue_as_new_after_events`` the workflow continues as a new run, its state carried
CONTINUE_AS_NEW = "continue-as-new-past-history-size"
# Patch ids elsewhere: RECEIPT_IN_MEMO (``workflows.published``: the tasks memo carries receipt numbers),
# EXACT_EXTENSION and DAILY_DIGEST (``workflows.planning``: an extension holds at the instant set; a daily
# digest), WITHDRAWAL_REFUSABLE, SWEPT_FALLBACK and UNBOUNDED_TRANSIENT_RETRIES (``workflows.department``)
