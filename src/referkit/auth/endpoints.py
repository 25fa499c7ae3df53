from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, status

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.auth.principal import Mode
from referkit.auth.schemas import ApiKey, ApiKeyCreate, ApiKeyUpdate, ApiKeyWithSecret
from referkit.auth.service import AuthService, IssuedKey
from referkit.db.session import APIRouter
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.openapi import problems

router = APIRouter(prefix="/keys", tags=["Keys"])


def _with_secret(issued: IssuedKey) -> ApiKeyWithSecret:
    shown = ApiKey.model_validate(issued.key).model_dump()
    return ApiKeyWithSecret(**shown, secret=issued.secret)


@router.get("", summary="List API keys", responses=problems(422))
async def list_keys(
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    include_revoked: Annotated[bool, Query(description="Include revoked keys.")] = False,
    mode: Annotated[
        Mode | None,
        Query(
            description="The keys of this mode; the calling key's by default. A live key may "
            "list test keys, a test key only test keys."
        ),
    ] = None,
) -> Page[ApiKey]:
    keys, meta = await AuthService(session).list_keys(principal, include_revoked, page, mode=mode)
    return Page[ApiKey](data=[ApiKey.model_validate(k) for k in keys], meta=meta)


@router.get(
    "/{key_id}",
    summary="Read an API key (a live key reads test keys too)",
    responses=problems(404),
)
async def get_key(key_id: str, principal: ReadPrincipal, session: Session) -> ApiKey:
    return ApiKey.model_validate(await AuthService(session).get_key(principal, key_id))


@router.post(
    "",
    summary="Create an API key (the secret is shown once)",
    status_code=status.HTTP_201_CREATED,
    responses=problems(422),
)
async def create_key(
    body: ApiKeyCreate, principal: WritePrincipal, session: Session
) -> ApiKeyWithSecret:
    issued = await AuthService(session).create_key(
        principal,
        name=body.name,
        scope=body.scope,
        mode=body.mode,
        rate_limit_per_minute=body.rate_limit_per_minute,
    )
    return _with_secret(issued)


@router.patch(
    "/{key_id}",
    summary="Rename a key or set its own rate limit",
    responses=problems(404, 422),
)
async def update_key(
    key_id: str, body: ApiKeyUpdate, principal: WritePrincipal, session: Session
) -> ApiKey:
    key = await AuthService(session).update_key(
        principal, key_id, body.model_dump(exclude_unset=True)
    )
    return ApiKey.model_validate(key)


@router.post(
    "/{key_id}/regenerate",
    summary="Regenerate a key's secret (the old secret stops working at once)",
    responses=problems(404),
)
async def regenerate_key(
    key_id: str, principal: WritePrincipal, session: Session
) -> ApiKeyWithSecret:
    return _with_secret(await AuthService(session).regenerate(principal, key_id))


@router.delete(
    "/{key_id}",
    summary="Revoke a key (it stops working at once)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def revoke_key(key_id: str, principal: WritePrincipal, session: Session) -> None:
    await AuthService(session).revoke(principal, key_id)
