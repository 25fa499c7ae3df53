"""Operations of an app's ad-network integrations (forwarding, its log and dry run) and of
SKAdNetwork / AdAttributionKit (the conversion-value schema, the value call and Apple's
postbacks), each returning the ``Call`` to make, as in ``_operations``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from referkit_client._core import Call, body, parser, path
from referkit_client.models import (
    DryRun,
    Forward,
    Integrations,
    IntegrationUpdate,
    Page,
    PostbackAck,
    SkanSchema,
    SkanSchemaInput,
    SkanValue,
)

Body = Mapping[str, Any]
Network = Literal["meta", "google_ads", "tiktok", "postback"]


def _integrations(app_id: str, rest: str = "", **ids: str) -> str:
    return path("/api/v1/apps/{a}/integrations" + rest, a=app_id, **ids)


# Ad-network integrations ---------------------------------------------------------------------


def list_integrations(app_id: str) -> Call[Integrations]:
    """Every network's settings of the app (credential values are never answered)."""
    return Call("GET", _integrations(app_id), parser(Integrations))


def put_integrations(
    app_id: str, integrations: list[IntegrationUpdate | Body]
) -> Call[Integrations]:
    """Configure networks; a network left out, or a field left out, keeps what is stored."""
    payload = {"data": [body(i) for i in integrations]}
    return Call("PUT", _integrations(app_id), parser(Integrations), json=payload)


def forwarding_log(
    app_id: str, network: Network, *, limit: int | None = None, cursor: str | None = None
) -> Call[Page[Forward]]:
    p = _integrations(app_id, "/{n}/log", n=network)
    return Call("GET", p, parser(Page[Forward]), {"limit": limit, "cursor": cursor})


def retry_forward(app_id: str, network: Network, forward_id: str) -> Call[Forward]:
    """Send a forward again now."""
    p = _integrations(app_id, "/{n}/log/{f}/retry", n=network, f=forward_id)
    return Call("POST", p, parser(Forward))


def dry_run(app_id: str, network: Network, *, event_id: str | None = None) -> Call[DryRun]:
    """The exact request an event (default a sample) would be forwarded with; nothing is sent."""
    payload = None if event_id is None else {"event_id": event_id}
    p = _integrations(app_id, "/{n}/test", n=network)
    return Call("POST", p, parser(DryRun), json=payload)


# SKAdNetwork / AdAttributionKit -------------------------------------------------------------


def get_skan_schema(app_id: str) -> Call[SkanSchema]:
    return Call("GET", path("/api/v1/apps/{a}/skan", a=app_id), parser(SkanSchema))


def put_skan_schema(app_id: str, schema: SkanSchemaInput | Body) -> Call[SkanSchema]:
    """Replace the conversion-value schema (kept as a new version); a 422 names every bad rule."""
    p = path("/api/v1/apps/{a}/skan", a=app_id)
    return Call("PUT", p, parser(SkanSchema), json=body(schema))


def skan_value(app_id: str, install_id: str, *, client_key: str | None = None) -> Call[SkanValue]:
    """The conversion value the app should set now; the app may ask with its ``client_key``."""
    headers = {} if client_key is None else {"Authorization": f"Bearer {client_key}"}
    p = path("/api/v1/apps/{a}/skan/value", a=app_id)
    return Call("GET", p, parser(SkanValue), {"install_id": install_id}, headers=headers)


def receive_postback(postback: Body | str) -> Call[PostbackAck]:
    """Relay an Apple postback: a SKAdNetwork JSON object, or an AdAttributionKit compact JWS.
    It is verified with Apple's keys and counted only when verified."""
    if isinstance(postback, str):
        headers = {"Content-Type": "text/plain"}
        return Call(
            "POST", "/api/skan/postback", parser(PostbackAck), headers=headers, content=postback
        )
    return Call("POST", "/api/skan/postback", parser(PostbackAck), json=dict(postback))
