from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from fastapi import Depends, Query, Request, status
from fastapi.responses import Response

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.db.session import APIRouter, replica_reads
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.kit.schemas import WholeNumber
from referkit.link.schemas import Link, LinkCreate, LinkUpdate, QrFormat, UtmOut
from referkit.link.service import LinkService
from referkit.models import Link as LinkRow
from referkit.openapi import problems
from referkit.stats.service import StatsService

router = APIRouter(prefix="/links", tags=["Links"])


def short_url(request: Request, code: str) -> str:
    base_url: str = request.app.state.settings.base_url
    return f"{base_url}/r/{code}"


async def links_out(request: Request, session: Session, links: list[LinkRow]) -> list[Link]:
    totals = (
        await StatsService(session).link_totals(links[0].workspace_id, [link.id for link in links])
        if links
        else {}
    )
    return [
        Link(
            id=link.id,
            code=link.code,
            short_url=short_url(request, link.code),
            destination_url=link.destination_url,
            app_id=link.app_id,
            program_id=link.program_id,
            member_id=link.member_id,
            is_default=link.is_default,
            ios_url=link.ios_url,
            android_url=link.android_url,
            utm=UtmOut(**link.utm),
            deep_link_path=link.deep_link_path,
            deep_link_params=link.deep_link_params,
            network=link.network,
            campaign=link.campaign,
            adset=link.adset,
            ad=link.ad,
            og=link.og,
            expires_at=link.expires_at,
            clicks=totals.get(link.id, (0, 0))[0],
            unique_clicks=totals.get(link.id, (0, 0))[1],
            livemode=link.livemode,
            created_at=link.created_at,
            updated_at=link.updated_at,
        )
        for link in links
    ]


@router.get("", summary="List links", responses=problems(422))
@replica_reads
async def list_links(
    request: Request,
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    program_id: Annotated[str | None, Query(max_length=40)] = None,
    member_id: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Matches code, URL.")] = None,
) -> Page[Link]:
    links, meta = await LinkService(session).list(
        principal, page, program_id=program_id, member_id=member_id, q=q
    )
    return Page[Link](data=await links_out(request, session, links), meta=meta)


@router.post(
    "",
    summary="Create a tracking link",
    description="Codes share one case-insensitive space with member referral codes.",
    status_code=status.HTTP_201_CREATED,
    responses=problems(409, 422),
)
async def create_link(
    body: LinkCreate, request: Request, principal: WritePrincipal, session: Session
) -> Link:
    link = await LinkService(session).create(principal, body)
    return (await links_out(request, session, [link]))[0]


@router.get("/{link_id}", summary="Get a link", responses=problems(404))
async def get_link(
    link_id: str, request: Request, principal: ReadPrincipal, session: Session
) -> Link:
    link = await LinkService(session).get(principal, link_id)
    return (await links_out(request, session, [link]))[0]


@router.patch("/{link_id}", summary="Update a link", responses=problems(404, 422))
async def update_link(
    link_id: str, body: LinkUpdate, request: Request, principal: WritePrincipal, session: Session
) -> Link:
    link = await LinkService(session).update(principal, link_id, body)
    return (await links_out(request, session, [link]))[0]


@router.delete(
    "/{link_id}",
    summary="Archive a link (its code is never reused)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def delete_link(link_id: str, principal: WritePrincipal, session: Session) -> None:
    await LinkService(session).archive(principal, link_id)


_QR_TYPES = {QrFormat.svg: "image/svg+xml", QrFormat.png: "image/png"}


@router.get(
    "/{link_id}/qr",
    summary="QR code of a link's short URL",
    response_class=Response,
    responses={
        200: {
            "description": "The QR code.",
            "content": {
                "image/svg+xml": {"schema": {"type": "string"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **problems(404, 422),
    },
)
async def get_link_qr(
    link_id: str,
    request: Request,
    principal: ReadPrincipal,
    session: Session,
    format: Annotated[QrFormat, Query(description="svg or png.")] = QrFormat.svg,
    scale: Annotated[int, Ge(1), Le(40), WholeNumber, Query(description="Pixels per module.")] = 8,
) -> Response:
    service = LinkService(session)
    link = await service.get(principal, link_id)
    image = await service.qr(principal, link.id, short_url(request, link.code), format, scale)
    return Response(image, media_type=_QR_TYPES[format])
