"""Workspace settings: its name, its dashboard users (roles, removal, invitations) and the
signed-in person's own sessions (sign out one or all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.dashboard.pages.common import text
from referkit.dashboard.service import Role, SessionService, UserService, Viewer
from referkit.dashboard.web import (
    PREFIX,
    ActingViewer,
    AdminViewer,
    CurrentViewer,
    DashboardRoute,
    Session,
    describe_errors,
    field,
    form_data,
    lifetimes,
    redirect,
    render,
    settings_of,
)
from referkit.errors import ReferkitError, Unprocessable
from referkit.workspace.schemas import WorkspaceUpdate
from referkit.workspace.service import WorkspaceService

router = APIRouter(prefix=f"{PREFIX}/settings", route_class=DashboardRoute, include_in_schema=False)
RowId = Annotated[str, Path(max_length=40)]


async def _page(
    request: Request,
    session: Session,
    viewer: Viewer,
    *,
    invite_url: str | None = None,
    error: str | None = None,
) -> Response:
    users = UserService(session)
    sessions = SessionService(session, lifetimes(settings_of(request)))
    return render(
        request,
        "settings.html",
        {
            "title": "Settings",
            "users": await users.users_of(viewer.session.workspace_id),
            "invites": await users.open_invites(viewer.session.workspace_id)
            if viewer.is_admin
            else [],
            "sessions": await sessions.live_sessions(viewer.user.id),
            "roles": list(Role),
            "invite_url": invite_url,
            "error": error,
        },
        status_code=422 if error else 200,
    )


@router.get("")
async def settings_page(request: Request, session: Session, viewer: CurrentViewer) -> Response:
    return await _page(request, session, viewer)


@router.post("/workspace")
async def rename(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    try:
        body = WorkspaceUpdate.model_validate({"name": text(form, "name") or ""})
        async with session.begin_nested():  # a refusal leaves nothing behind
            await WorkspaceService(session).update(
                viewer.principal,
                body.model_dump(exclude_unset=True),
                settings_of(request).rate_limit_per_minute,
            )
    except ValidationError as exc:
        return await _page(request, session, viewer, error="; ".join(describe_errors(exc)))
    except ReferkitError as exc:
        return await _page(request, session, viewer, error=exc.detail)
    return redirect(request, f"{PREFIX}/settings", "Workspace renamed.")


def _role(value: str | None) -> Role:
    if value not in set(Role):
        raise Unprocessable("role must be admin or viewer")
    return Role(value)


@router.post("/invites")
async def invite(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    email = text(form, "email")
    if email is not None and "@" not in email:
        raise Unprocessable("The email does not look like one.")
    _, token = await UserService(session).invite(
        viewer.session.workspace_id, _role(text(form, "role")), viewer.user.id, email
    )
    # The link is shown in this answer only (only its hash is stored).
    url = f"{settings_of(request).base_url}{PREFIX}/invite/{token}"
    return await _page(request, session, viewer, invite_url=url)


@router.post("/invites/{invite_id}/withdraw")
async def withdraw(
    request: Request, session: Session, viewer: AdminViewer, invite_id: RowId
) -> Response:
    await UserService(session).withdraw_invite(viewer.session.workspace_id, invite_id)
    return redirect(request, f"{PREFIX}/settings", "Invitation withdrawn.")


@router.post("/users/{user_id}/role")
async def change_role(
    request: Request, session: Session, viewer: AdminViewer, user_id: RowId
) -> Response:
    form = await form_data(request)
    users = UserService(session)
    members = {u.id for u, _ in await users.users_of(viewer.session.workspace_id)}
    if user_id not in members:
        raise Unprocessable(f"No dashboard user {user_id} in this workspace.")
    await users.grant(user_id, viewer.session.workspace_id, _role(text(form, "role")))
    return redirect(request, f"{PREFIX}/settings", "Role changed.")


@router.post("/users/{user_id}/remove")
async def remove(
    request: Request, session: Session, viewer: AdminViewer, user_id: RowId
) -> Response:
    await UserService(session).remove(viewer.session.workspace_id, user_id)
    return redirect(request, f"{PREFIX}/settings", "User removed from the workspace.")


@router.post("/password")
async def change_password(request: Request, session: Session, viewer: ActingViewer) -> Response:
    form = await form_data(request)
    try:
        await UserService(session).change_password(
            viewer.user, field(form, "current_password"), field(form, "new_password")
        )
    except ReferkitError as exc:
        return await _page(request, session, viewer, error=exc.detail)
    # Whoever else knew the old password is signed out; this browser stays signed in.
    service = SessionService(session, lifetimes(settings_of(request)))
    await service.revoke_all(viewer.user.id, keep=viewer.session.id)
    return redirect(request, f"{PREFIX}/settings", "Password changed; your other sessions ended.")


@router.post("/sessions/{session_id}/revoke")
async def revoke_session(
    request: Request, session: Session, viewer: ActingViewer, session_id: RowId
) -> Response:
    await SessionService(session, lifetimes(settings_of(request))).revoke(
        viewer.user.id, session_id
    )
    return redirect(request, f"{PREFIX}/settings", "Session signed out.")


@router.post("/sessions/revoke-all")
async def revoke_all(request: Request, session: Session, viewer: ActingViewer) -> Response:
    await SessionService(session, lifetimes(settings_of(request))).revoke_all(viewer.user.id)
    return redirect(request, f"{PREFIX}/login", "Signed out everywhere.")
