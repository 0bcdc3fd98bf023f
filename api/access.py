"""Access control of the routes: who is asking (``IdentityDep``) and what of an application they may touch.

Another window's application does not exist for a clerk (404, no enumeration); a known identity that may
not do something gets 403. The actor of every action is ``identity.subject``, never a field of the body.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Authenticator, Refusal, forbidden
from domain.access import Identity, Role
from workflows.visibility import WINDOW_ID

NOT_FOUND_CODE = "application_not_found"


def not_found(application_id: str) -> Refusal:
    return Refusal(404, NOT_FOUND_CODE, f"未找到申请 {application_id}")


#: declares the scheme in the OpenAPI schema; the header itself is read (and refused) by the Authenticator
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Authorization: Bearer <token>（不透明令牌或省级统一身份认证的 JWT）",
)


async def current_identity(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Identity:
    """The caller's identity (401 without one); kept on ``request.state`` for the audit trail."""
    authenticator: Authenticator = request.app.state.authenticator
    identity = authenticator.identify(request.headers.get("authorization"))
    request.state.identity = identity
    return identity


IdentityDep = Annotated[Identity, Depends(current_identity)]


def require(*roles: Role) -> Any:
    """A dependency: the identity, if its role is one of ``roles`` (403 otherwise)."""

    async def dependency(identity: IdentityDep) -> Identity:
        if identity.role not in roles:
            raise forbidden()
        return identity

    return Depends(dependency)


async def window_of(request: Request, client: Client, application_id: str) -> str | None:
    """The window an application belongs to: kaiban's store, else the workflow's search attribute."""
    window = await asyncio.to_thread(request.app.state.store.applications.window_of, application_id)
    if window is not None:
        return window
    try:
        described = await client.get_workflow_handle(application_id).describe()
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            return None
        raise
    return described.typed_search_attributes.get(WINDOW_ID)


async def visible_window(request: Request, client: Client, identity: Identity, application_id: str) -> str:
    """The application's window when the identity may see it; 404 when it does not exist for them."""
    if identity.role is Role.DEPARTMENT:
        raise forbidden("部门身份只能查看本部门的待办事项", "department_scope")
    window = await window_of(request, client, application_id)
    if window is None or not identity.sees_window(window):
        raise not_found(application_id)
    return window


async def handled_window(request: Request, client: Client, identity: Identity, application_id: str) -> str:
    """The window, when the identity is one of its clerks (correct, complete by hand, withdraw, send back)."""
    window = await visible_window(request, client, identity, application_id)
    if not identity.handles_applications(window):
        raise forbidden("只有受理窗口的工作人员可以办理此操作", "not_the_window_clerk")
    return window
