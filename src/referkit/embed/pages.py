"""The embedded referrer dashboard page, its loader script and its two assets.

The page is one server-rendered HTML response (Jinja2) plus one stylesheet and one small script
served here with long cache lifetimes (their URLs carry a content hash). It sets no cookie, so
it works in a cross-site iframe with third-party cookies blocked. Its
``Content-Security-Policy`` allows only Referkit's own assets and lists the program's
``allowed_origins`` as ``frame-ancestors``; with none set, nobody can frame it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any

import segno
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pydantic import StringConstraints, TypeAdapter, ValidationError

from referkit.db.session import APIRouter
from referkit.embed.cache import ProgramLook
from referkit.embed.endpoints import TokenView, limit_token, verify_token
from referkit.embed.exceptions import EmbedTokenError, EmbedTokenExpired, EmbedTokenRevoked
from referkit.embed.views import format_amount, stylesheet_variables
from referkit.errors import NotFound, RateLimited
from referkit.program.schemas import EmbedSettings

router = APIRouter(include_in_schema=False)
PACKAGE = Path(__file__).resolve().parent.parent
STATIC = PACKAGE / "static" / "embed"
ASSETS = {"embed.css": "text/css; charset=utf-8", "frame.js": "text/javascript; charset=utf-8"}
LOADER = "referkit.js"
IMMUTABLE = "public, max-age=31536000, immutable"
LOADER_CACHE = "public, max-age=3600"  # its URL is fixed (the host's script tag)

_templates = Environment(
    loader=FileSystemLoader(PACKAGE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@cache
def _asset(name: str) -> tuple[bytes, str]:
    """An asset's bytes and short content hash (read once: the files ship with the package)."""
    body = (STATIC / name).read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:12]


def asset_url(name: str) -> str:
    return f"/embed/assets/{name}?v={_asset(name)[1]}"


_templates.globals.update(asset_url=asset_url, money=format_amount)


@dataclass(frozen=True)
class Look:
    settings: EmbedSettings
    parent_origin: str | None


def _look(program_embed: dict[str, Any], allowed: list[str], overrides: dict[str, Any]) -> Look:
    """The program's settings with each valid override of the mount call applied; an invalid
    override is ignored (the page still shows, in the program's own look)."""
    settings = EmbedSettings.model_validate(program_embed)
    for name, value in overrides.items():
        if value is None or value == "":
            continue
        try:
            settings = EmbedSettings.model_validate(
                {**settings.model_dump(exclude_none=True), name: value}
            )
        except ValidationError:
            continue
    origin = overrides.get("origin")
    parent = origin.lower() if isinstance(origin, str) and origin.lower() in allowed else None
    return Look(settings, parent)


def _csp(nonce: str, ancestors: list[str]) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {' '.join(ancestors) or chr(39) + 'none' + chr(39)}",
        )
    )


# Pages are rendered with this in place of the CSP nonce and answered with a fresh nonce in its
# place, so a rendered dashboard can be kept (``Board.pages``) and still never repeat a nonce.
# Random per process: no stored text can contain it.
_NONCE_SLOT = f"rknonce{secrets.token_hex(16)}"


def _page(template: str, look: Look, **context: Any) -> list[str]:
    """The page's HTML, split where its nonce goes."""
    html = _templates.get_template(template).render(
        nonce=_NONCE_SLOT,
        theme=look.settings.theme.value,
        variables=Markup(stylesheet_variables(look.settings)),  # noqa: S704 (validated values)
        parent_origin=look.parent_origin,
        **context,
    )
    return html.split(_NONCE_SLOT)


def _respond(page: list[str], status: int, ancestors: list[str]) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    headers = {
        "Content-Security-Policy": _csp(nonce, ancestors),
        "Cache-Control": "no-store",
        # The token is in this page's URL: never send it on as a Referer.
        "Referrer-Policy": "no-referrer",
    }
    if not ancestors:
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    return HTMLResponse(nonce.join(page), status_code=status, headers=headers)


def _render(
    template: str, status: int, look: Look, ancestors: list[str], **context: Any
) -> HTMLResponse:
    return _respond(_page(template, look, **context), status, ancestors)


_UNAVAILABLE = {
    "expired": ("This page has expired", "Reload the page to see your referral dashboard again."),
    "revoked": (
        "This dashboard is not available",
        "Your referral account is not active. Contact the team that runs the program.",
    ),
    "invalid": (
        "This dashboard link is not valid",
        "Reload the page; if this keeps happening, contact the team that runs the program.",
    ),
    "rate_limited": ("Too many requests", "Wait a minute, then reload the page."),
}


def _unavailable(state: str, status: int, look: Look, ancestors: list[str]) -> HTMLResponse:
    heading, message = _UNAVAILABLE[state]
    return _render(
        "embed/unavailable.html",
        status,
        look,
        ancestors,
        state=state,
        heading=heading,
        message=message,
    )


@lru_cache(maxsize=2048)
def _qr_svg(link: str) -> Markup:
    # Drawing a QR code costs more than the rest of the page; a member's link rarely changes.
    svg = segno.make(link, error="m").svg_inline(
        scale=4, border=2, dark="#000", light="#fff", svgclass="rk-qr-svg", omitsize=True
    )
    return Markup(svg)  # noqa: S704 (segno's own markup of a URL we built)


# The page's query parameters and their longest values. They are read by ``_parameters``, not
# declared as ``Query(max_length=…)`` parameters: FastAPI validating each of them cost a quarter
# of a cached page view. The answer is the same, a too-long value included (the same 422).
_PARAMETERS = {
    "token": 4096,
    "theme": 200,
    "accent": 200,
    "background": 200,
    "radius": 200,
    "font": 200,
    "origin": 300,
}
_BOUNDED = {
    limit: TypeAdapter(Annotated[str, StringConstraints(max_length=limit)])
    for limit in set(_PARAMETERS.values())
}


def _parameters(request: Request) -> dict[str, str | None]:
    """Each parameter's value (the last one given), or None; a value over its limit raises
    the ``RequestValidationError`` FastAPI raises for it."""
    query = request.query_params
    values = {name: query.get(name) for name in _PARAMETERS}
    errors: list[Any] = []
    for name, limit in _PARAMETERS.items():
        value = values[name]
        if value is not None and len(value) > limit:
            try:
                _BOUNDED[limit].validate_python(value)
            except ValidationError as exc:
                errors.extend(
                    {**error, "loc": ("query", name, *error["loc"])}
                    for error in exc.errors(include_url=False)
                )
    if errors:
        raise RequestValidationError(errors)
    return values


@router.get("/embed/referrer", response_class=HTMLResponse)
async def referrer_page(request: Request) -> HTMLResponse:
    """The dashboard page. Query: ``token``; the mount call's ``theme``, ``accent``,
    ``background``, ``radius`` and ``font`` overrides; ``origin``, the host page's origin."""
    given = _parameters(request)
    radius = given["radius"]
    overrides = {
        "theme": given["theme"],
        "accent": given["accent"],
        "background": given["background"],
        "radius": int(radius) if radius and radius.isdigit() else None,
        "font": given["font"],
    }
    origin = given["origin"]
    try:
        claims = verify_token(request, given["token"] or "")
    except EmbedTokenError:
        return _unavailable("invalid", 401, _look({}, [], overrides), [])
    view = TokenView(request, claims)
    try:
        program = await view.program()
        allowed = list(program.allowed_origins) if program else []
        look_of = {**overrides, "origin": origin}
        try:
            await limit_token(request, claims)
            board = await view.board()
        except EmbedTokenExpired:
            return _unavailable("expired", 401, _look_of(program, allowed, look_of), allowed)
        except EmbedTokenRevoked:
            return _unavailable("revoked", 401, _look_of(program, allowed, look_of), allowed)
        except RateLimited as exc:
            response = _unavailable(
                "rate_limited", 429, _look_of(program, allowed, look_of), allowed
            )
            response.headers.update(exc.headers)
            return response
    finally:
        await view.close()
    # The same member, program and look render the same page (the token's expiry is not on
    # it), so a page rendered for the board is kept with it.
    key = tuple(look_of.values())
    page: list[str] | None = board.pages.get(key)
    if page is None:
        me = board.me
        look = _look_of(program, allowed, look_of)
        page = _page("embed/referrer.html", look, me=me, qr_svg=_qr_svg(me.member.referral_link))
        board.remember_page(key, page)
    return _respond(page, 200, allowed)


def _look_of(program: ProgramLook | None, allowed: list[str], overrides: dict[str, Any]) -> Look:
    return _look(program.embed if program else {}, allowed, overrides)


@router.get("/embed/referkit.js")
async def loader_script() -> Response:
    body, digest = _asset(LOADER)
    return Response(
        body,
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cache-Control": LOADER_CACHE,
            "ETag": f'"{digest}"',
            # Any site may load the loader (it holds no data); this also allows SRI checks.
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


@router.get("/embed/assets/{name}")
async def embed_asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound(f"No embed asset {name!r}.")
    body, digest = _asset(name)
    return Response(
        body,
        media_type=ASSETS[name],
        headers={"Cache-Control": IMMUTABLE, "ETag": f'"{digest}"'},
    )
