"""Life cycle of a department task and of an application (DOMAIN.md "Task life cycle")."""

from enum import StrEnum


class TaskStatus(StrEnum):
    WAITING = "waiting"
    DISPATCHED = "dispatched"
    IN_REVIEW = "in_review"
    COMPLETED = "completed"
    REJECTED = "rejected"
    MANUAL = "manual"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def satisfied(self) -> bool:
        """Done as far as the tasks that wait for it are concerned (completed, or not asked for)."""
        return self in _SATISFIED

    @property
    def ended(self) -> bool:
        """Nothing more will happen to it (completed, skipped or cancelled)."""
        return self in _ENDED

    @property
    def at_department(self) -> bool:
        """Filed and in the department's hands (dispatched or in review)."""
        return self in _AT_DEPARTMENT

    @property
    def open(self) -> bool:
        """Still on its way (waiting for prerequisites, or at the department): what the board shows."""
        return self in _OPEN


_SATISFIED = frozenset({TaskStatus.COMPLETED, TaskStatus.SKIPPED})
_ENDED = frozenset({TaskStatus.COMPLETED, TaskStatus.SKIPPED, TaskStatus.CANCELLED})
_AT_DEPARTMENT = frozenset({TaskStatus.DISPATCHED, TaskStatus.IN_REVIEW})
_OPEN = frozenset({TaskStatus.WAITING, *_AT_DEPARTMENT})


class ApplicationStatus(StrEnum):
    PROCESSING = "processing"
    NEEDS_CORRECTION = "needs_correction"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class Channel(StrEnum):
    API = "api"
    ROBOT = "robot"
