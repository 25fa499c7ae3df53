"""The "API integration" panel: API keys (masked, created and regenerated with the secret shown
once), and the two calls a backend needs, as copyable curl, Python and JavaScript snippets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from referkit.auth.principal import Mode, Scope
from referkit.auth.schemas import ApiKeyCreate
from referkit.auth.service import AuthService, IssuedKey
from referkit.dashboard.pages.common import page, programs_of, text
from referkit.dashboard.preview import preview_of
from referkit.dashboard.service import Viewer
from referkit.dashboard.snippets import snippets
from referkit.dashboard.web import (
    PREFIX,
    AdminViewer,
    CurrentViewer,
    DashboardRoute,
    Session,
    describe_errors,
    form_data,
    redirect,
    render,
    settings_of,
)
from referkit.errors import ReferkitError
from referkit.member.service import MemberService

router = APIRouter(prefix=f"{PREFIX}/api", route_class=DashboardRoute, include_in_schema=False)
KeyId = Annotated[str, Path(max_length=40)]


async def _panel(
    request: Request,
    session: Session,
    viewer: Viewer,
    *,
    issued: IssuedKey | None = None,
    regenerated: bool = False,
    error: str | None = None,
    program: str | None = None,
) -> Response:
    keys, _ = await AuthService(session).list_keys(viewer.principal, False, page(None, 100))
    programs = await programs_of(session, viewer.principal)
    chosen = next((p for p in programs if p.id == program), programs[0] if programs else None)
    program_id = chosen.id if chosen else "PROGRAM_ID"
    preview = None
    if chosen is not None:
        members, _ = await MemberService(session).list(
            viewer.principal,
            chosen.id,
            page(None, 1),
            q=None,
            status=None,
            email=None,
            external_id=None,
        )
        if members:
            preview = await preview_of(request, session, viewer, members[0], chosen)
    return render(
        request,
        "api.html",
        {
            "title": "API integration",
            "keys": keys,
            "issued": issued,
            "regenerated": regenerated,
            "error": error,
            "scopes": list(Scope),
            "modes": list(Mode),
            "program": chosen,
            "programs": programs,
            "snippets": snippets(settings_of(request).base_url, program_id),
            "preview": preview,
        },
        status_code=422 if error else 200,
    )


@router.get("")
async def panel(
    request: Request,
    session: Session,
    viewer: CurrentViewer,
    program: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return await _panel(request, session, viewer, program=program)


@router.post("/keys")
async def create_key(request: Request, session: Session, viewer: AdminViewer) -> Response:
    form = await form_data(request)
    try:
        body = ApiKeyCreate.model_validate(
            {
                "name": text(form, "name") or "",
                "scope": text(form, "scope") or "full",
                "mode": text(form, "mode") or viewer.principal.mode.value,
            }
        )
        async with session.begin_nested():  # a refusal leaves nothing behind
            issued = await AuthService(session).create_key(
                viewer.principal,
                name=body.name,
                scope=body.scope,
                mode=body.mode,
                rate_limit_per_minute=None,
            )
    except ValidationError as exc:
        return await _panel(request, session, viewer, error="; ".join(describe_errors(exc)))
    except ReferkitError as exc:
        return await _panel(request, session, viewer, error=exc.detail)
    # The secret is in this answer only: it is stored as a hash and never shown again.
    return await _panel(request, session, viewer, issued=issued)


@router.post("/keys/{key_id}/regenerate")
async def regenerate(
    request: Request, session: Session, viewer: AdminViewer, key_id: KeyId
) -> Response:
    issued = await AuthService(session).regenerate(viewer.principal, key_id)
    return await _panel(request, session, viewer, issued=issued, regenerated=True)


@router.post("/keys/{key_id}/revoke")
async def revoke(
    request: Request, session: Session, viewer: AdminViewer, key_id: KeyId
) -> Response:
    await AuthService(session).revoke(viewer.principal, key_id)
    return redirect(request, f"{PREFIX}/api", "Key revoked: it stopped working.")
