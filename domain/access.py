"""Who may do what (DOMAIN.md "Who may do what"): identities, roles and the rules over them. Pure.

An identity comes from a token (the API decides how); these functions only say what it may see and do.
The README's role table is the same rules written for people, and a test holds the two together.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Role(StrEnum):
    CLERK = "clerk"  # one window
    SUPERVISOR = "supervisor"  # every window, or some
    DEPARTMENT = "department"  # one department's system or staff
    ADMIN = "admin"  # a supervisor's reach, plus operations (calendar, portal mappings)


class Identity(BaseModel):
    """Who is asking. ``subject`` is the actor recorded for everything they do."""

    model_config = ConfigDict(frozen=True)

    subject: str = Field(min_length=1, max_length=128)
    role: Role
    window_id: str | None = Field(None, max_length=64)  # a clerk's window
    windows: tuple[str, ...] | None = None  # a supervisor's windows; None: every window
    department: str | None = Field(None, max_length=32)  # a department's code
    name: str | None = Field(None, max_length=64)  # for people's pages and the audit trail

    @model_validator(mode="after")
    def _bound(self) -> Identity:
        if self.role is Role.CLERK and not self.window_id:
            raise ValueError("a clerk identity needs a window_id")
        if self.role is Role.DEPARTMENT and not self.department:
            raise ValueError("a department identity needs a department code")
        return self

    @property
    def oversees(self) -> bool:
        """Reads everything in scope and extends deadlines: supervisors and admins."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    def sees_window(self, window_id: str) -> bool:
        """Whether an application of ``window_id`` exists for this identity (otherwise it is 404 to them)."""
        if self.role is Role.CLERK:
            return window_id == self.window_id
        if self.oversees:
            return self.windows is None or window_id in self.windows
        return False

    def may_submit_for(self, window_id: str) -> bool:
        return self.role is Role.CLERK and window_id == self.window_id

    def handles_applications(self, window_id: str) -> bool:
        """Correct, complete by hand, send back to the channel, withdraw: the clerks of that window."""
        return self.role is Role.CLERK and window_id == self.window_id

    def may_extend(self, window_id: str) -> bool:
        return self.oversees and self.sees_window(window_id)

    def is_department(self, code: str) -> bool:
        return self.role is Role.DEPARTMENT and self.department == code
