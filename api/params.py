"""Path and query parameters shared by the routers, each bounded (pattern or length)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

#: application ids are ``KB<yyyymmdd>-<10 hex>``; the pattern is looser so any unknown id is a plain 404
APPLICATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
#: department codes of the catalogue: ``amr``, ``psb_seal``, ``tax`` …
DEPARTMENT_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"

ApplicationId = Annotated[
    str, Path(pattern=APPLICATION_ID_PATTERN, description="申请编号", examples=["KB20261130-AAAAAAAAAA"])
]
DepartmentCode = Annotated[str, Path(pattern=DEPARTMENT_PATTERN, description="部门代码", examples=["tax"])]

ApplicationIdQuery = Annotated[str | None, Query(pattern=APPLICATION_ID_PATTERN, description="申请编号")]
DepartmentQuery = Annotated[str | None, Query(pattern=DEPARTMENT_PATTERN, description="部门代码")]
