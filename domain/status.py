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
    def finished(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.SKIPPED, TaskStatus.CANCELLED)


class ApplicationStatus(StrEnum):
    PROCESSING = "processing"
    NEEDS_CORRECTION = "needs_correction"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class Channel(StrEnum):
    API = "api"
    ROBOT = "robot"
