"""OpenAPI document: problem responses, security schemes, YAML and offline docs pages.

Every API operation documents the problem responses it can give (so clients and schemathesis
know them), requires Bearer or Basic auth, and has an operation id, a summary and examples.
Swagger UI and ReDoc are served from assets shipped in a Python package: no CDN is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
import yaml
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from referkit import __version__
from referkit.errors import PROBLEM_CONTENT_TYPE

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
API_PREFIX = "/api/v1"


class FieldError(BaseModel):
    field: str = Field(examples=["referee.email"])
    in_: str = Field(alias="in", examples=["body"])
    message: str = Field(examples=["value is not a valid email address"])
    type: str = Field(examples=["value_error"])


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine ``code``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["/problems/not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No member mem_01jd9x4k6b8v2q3r5s7t9w1y3z in this workspace."])
    code: str = Field(examples=["not_found"])
    errors: list[FieldError] | None = Field(default=None, description="Validation errors.")
    existing_id: str | None = Field(default=None, description="The resource a conflict is with.")


_DESCRIPTIONS = {
    401: "Missing or invalid credentials.",
    403: "The key's scope does not allow this operation.",
    404: "Not found in this workspace.",
    409: "Conflict with a stored resource or an invalid status transition.",
    422: "Invalid request; `errors` lists each bad field.",
    413: "The request body is larger than allowed (64 KB; 1 MB for batches).",
    429: "Rate limited (`rate_limited`) or blocked IP (`ip_blocked`); see `Retry-After`.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Response docs for the given problem statuses (401/403/422 are added to every API route)."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Problem."),
            "content": {PROBLEM_CONTENT_TYPE: {}},
        }
        for status in statuses
    }


def _problem_ref() -> dict[str, Any]:
    return {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title="Referkit API",
        version=__version__,
        summary="Referral programs, referrers, referrals and attribution on your own database.",
        description=(
            "Authenticate with `Authorization: Bearer rk_live_…` or Basic auth "
            "(`public_key:secret`). Errors are RFC 9457 `application/problem+json` with a "
            "machine `code`. Lists take `limit`+`cursor` or `offset`+`count` and answer "
            "`{data, meta}`. Money is integer minor units plus an ISO 4217 currency."
        ),
        routes=app.routes,
    )
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})
    components["securitySchemes"] = {
        "BearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "The key's secret: `rk_live_…` or `rk_test_…`.",
        },
        "BasicAuth": {
            "type": "http",
            "scheme": "basic",
            "description": "User `public_key`, password the key's secret.",
        },
        "EmbedToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "A short-lived, read-only embed token (`rke1…`) from the embed-token "
            "calls; only `/api/v1/embed/me` takes it.",
        },
    }
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            # The 422 FastAPI documents is our problem document, not its HTTPValidationError.
            if "422" in responses:
                responses["422"] = {"description": _DESCRIPTIONS[422], "content": _problem_ref()}
            for response in responses.values():
                # FastAPI files a response model under application/json; problems are only
                # ever sent as application/problem+json, so the schema belongs there.
                if PROBLEM_CONTENT_TYPE in response.get("content", {}):
                    response["content"] = _problem_ref()
            if path.startswith(API_PREFIX):
                # An operation that names its own scheme (embed tokens) keeps it.
                operation.setdefault("security", [{"BearerAuth": []}, {"BasicAuth": []}])
                # 422 too: any API request can carry a malformed query (GuardMiddleware).
                statuses = [401, 403, 422, 429]
                if "requestBody" in operation:
                    statuses.append(413)
                for status in statuses:
                    responses.setdefault(
                        str(status),
                        {"description": _DESCRIPTIONS[status], "content": _problem_ref()},
                    )
    for name in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(name, None)
    app.openapi_schema = schema
    return schema


def install_docs(app: FastAPI) -> None:
    """Spec at /openapi.json and /openapi.yaml; Swagger UI and ReDoc under /api/v1."""
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    assets = f"{API_PREFIX}/docs/assets"
    app.mount(assets, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    async def openapi_yaml(request: Request) -> Response:
        text = yaml.safe_dump(app.openapi(), sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml")

    async def swagger(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Referkit API — Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="Referkit API — ReDoc",
            redoc_js_url=f"{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{assets}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route("/openapi.yaml", openapi_yaml, include_in_schema=False)
    app.add_route(f"{API_PREFIX}/docs", swagger, include_in_schema=False)
    app.add_route(f"{API_PREFIX}/redoc", redoc, include_in_schema=False)


def operation_id_from_name(route: APIRoute) -> str:
    """Operation ids are the endpoint function names (``create_member``), stable and readable.

    Passed to ``FastAPI(generate_unique_id_function=...)``: routers are included lazily, so the
    app's route list holds no ``APIRoute`` objects to rename after the fact.
    """
    return route.name
