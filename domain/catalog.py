"""The department catalog: which departments there are, how each is reached, what it waits for.

Routing follows the catalog; nothing else hard-codes a department list. Pure: the
catalog is parsed from a mapping; reading the YAML file is the caller's job
(``load_catalog`` takes text).
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.status import Channel


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    task: str = ""
    channel: Channel
    prerequisites: tuple[str, ...] = ()
    budget_minutes: int = Field(gt=0)
    applies_when: str | None = None
    base_url: str
    credentials_ref: str | None = None
    uses: tuple[str, ...] = ()  # dotted paths into the form this department relies on
    materials: tuple[str, ...] = ()  # the kinds of material it receives (a portal's attachment step)
    # how its API receives them: inline (base64 in the body, with the sha256) or by a signed, expiring link
    materials_by: Literal["inline", "link"] = "inline"


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    departments: tuple[Department, ...]

    @model_validator(mode="after")
    def _check_graph(self) -> Catalog:
        codes = [d.code for d in self.departments]
        if len(set(codes)) != len(codes):
            raise ValueError(f"duplicate department codes in catalog: {codes}")
        known = set(codes)
        for d in self.departments:
            unknown = set(d.prerequisites) - known
            if unknown:
                raise ValueError(f"department {d.code} waits for unknown departments {sorted(unknown)}")
        # reject cycles: every department must be reachable in a topological order
        self.topological_order()
        return self

    def get(self, code: str) -> Department:
        for d in self.departments:
            if d.code == code:
                return d
        raise KeyError(code)

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.departments]

    def topological_order(self) -> list[str]:
        done: list[str] = []
        pending = list(self.departments)
        while pending:
            ready = [d for d in pending if set(d.prerequisites) <= set(done)]
            if not ready:
                raise ValueError(f"prerequisite cycle among {[d.code for d in pending]}")
            for d in ready:
                done.append(d.code)
                pending.remove(d)
        return done


def load_catalog(text: str) -> Catalog:
    data = yaml.safe_load(text)
    return Catalog.model_validate(data)


def _lookup(data: Any, dotted: str) -> Any:
    cur = data
    for part in dotted.split("."):
        if cur is None:
            return None
        if isinstance(cur, dict):
            cur = cur.get(part)
        else:
            cur = getattr(cur, part, None)
    return cur


def applies(department: Department, application: Any) -> bool:
    """Whether the applicant asked for this department (an unasked one is skipped, not failed)."""
    if not department.applies_when:
        return True
    return bool(_lookup(application, department.applies_when))


def changed_fields(department: Department, old: Any, new: Any) -> list[str]:
    """The parts of the form this department relies on that differ between two versions of it."""

    def dump(x: Any) -> Any:
        return x.model_dump(mode="json") if hasattr(x, "model_dump") else x

    old, new = dump(old), dump(new)
    return [path for path in department.uses if _lookup(old, path) != _lookup(new, path)]
