"""One function per API operation (named by its OpenAPI ``operationId``), each returning the
``Call`` to make. The clients expose these as methods; this is the only place paths, query
parameters and bodies are written down."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from referkit_client._core import Call, body, no_content, parser, path, raw_bytes
from referkit_client.models import (
    ApiKey,
    Breakdown,
    EmbedToken,
    Event,
    EventCreate,
    Hook,
    KeyCreate,
    Link,
    LinkCreate,
    Member,
    MemberCreate,
    Page,
    Program,
    ProgramCreate,
    Referral,
    ReferralCreate,
    Resource,
    Reward,
    RewardCreate,
    Stats,
    WebhookCreate,
    WebhookEndpoint,
    WebhookMessage,
    Workspace,
)

Body = Mapping[str, Any]
Day = date | datetime | None


def _list(p: str, model: Any, limit: int | None, cursor: str | None, **params: Any) -> Call[Any]:
    return Call("GET", p, parser(Page[model]), {"limit": limit, "cursor": cursor, **params})


# Health and workspace ----------------------------------------------------------------------------


def healthz() -> Call[Resource]:
    return Call("GET", "/healthz", parser(Resource))


def readyz() -> Call[Resource]:
    return Call("GET", "/readyz", parser(Resource))


def get_workspace() -> Call[Workspace]:
    return Call("GET", "/api/v1/workspace", parser(Workspace))


def update_workspace(changes: Body) -> Call[Workspace]:
    return Call("PATCH", "/api/v1/workspace", parser(Workspace), json=body(changes))


def delete_test_data() -> Call[Resource]:
    return Call("DELETE", "/api/v1/test-data", parser(Resource))


# Keys --------------------------------------------------------------------------------------------


def list_keys(
    *, include_revoked: bool | None = None, limit: int | None = None, cursor: str | None = None
) -> Call[Page[ApiKey]]:
    return _list("/api/v1/keys", ApiKey, limit, cursor, include_revoked=include_revoked)


def get_key(key_id: str) -> Call[ApiKey]:
    """Read a key (a live key reads test keys too); never its secret."""
    return Call("GET", path("/api/v1/keys/{k}", k=key_id), parser(ApiKey))


def create_key(key: KeyCreate | Body) -> Call[ApiKey]:
    return Call("POST", "/api/v1/keys", parser(ApiKey), json=body(key))


def update_key(key_id: str, changes: Body) -> Call[ApiKey]:
    return Call("PATCH", path("/api/v1/keys/{k}", k=key_id), parser(ApiKey), json=body(changes))


def revoke_key(key_id: str) -> Call[None]:
    return Call("DELETE", path("/api/v1/keys/{k}", k=key_id), no_content)


def regenerate_key(key_id: str) -> Call[ApiKey]:
    return Call("POST", path("/api/v1/keys/{k}/regenerate", k=key_id), parser(ApiKey))


# Programs ----------------------------------------------------------------------------------------


def list_programs(
    *, status: str | None = None, limit: int | None = None, cursor: str | None = None
) -> Call[Page[Program]]:
    return _list("/api/v1/programs", Program, limit, cursor, status=status)


def create_program(program: ProgramCreate | Body) -> Call[Program]:
    return Call("POST", "/api/v1/programs", parser(Program), json=body(program))


def get_program(program_id: str) -> Call[Program]:
    return Call("GET", path("/api/v1/programs/{p}", p=program_id), parser(Program))


def update_program(program_id: str, changes: Body) -> Call[Program]:
    p = path("/api/v1/programs/{p}", p=program_id)
    return Call("PATCH", p, parser(Program), json=body(changes))


def delete_program(program_id: str) -> Call[None]:
    return Call("DELETE", path("/api/v1/programs/{p}", p=program_id), no_content)


# Members -----------------------------------------------------------------------------------------


def create_member(program_id: str, member: MemberCreate | Body) -> Call[Member]:
    """Create or fetch: the same email or external_id answers the same member."""
    p = path("/api/v1/programs/{p}/members", p=program_id)
    return Call("POST", p, parser(Member), json=body(member))


def list_members(
    program_id: str,
    *,
    q: str | None = None,
    status: str | None = None,
    email: str | None = None,
    external_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[Member]]:
    p = path("/api/v1/programs/{p}/members", p=program_id)
    return _list(p, Member, limit, cursor, q=q, status=status, email=email, external_id=external_id)


def get_member(member_id: str) -> Call[Member]:
    return Call("GET", path("/api/v1/members/{m}", m=member_id), parser(Member))


def update_member(member_id: str, changes: Body) -> Call[Member]:
    p = path("/api/v1/members/{m}", m=member_id)
    return Call("PATCH", p, parser(Member), json=body(changes))


def delete_member(member_id: str) -> Call[None]:
    return Call("DELETE", path("/api/v1/members/{m}", m=member_id), no_content)


def get_member_stats(member_id: str, *, from_: Day = None, to: Day = None) -> Call[Stats]:
    p = path("/api/v1/members/{m}/stats", m=member_id)
    return Call("GET", p, parser(Stats), {"from": from_, "to": to})


def member_balances(member_id: str) -> Call[list[Resource]]:
    p = path("/api/v1/members/{m}/balances", m=member_id)
    return Call("GET", p, parser(list[Resource]))


def member_ledger(
    member_id: str, *, limit: int | None = None, cursor: str | None = None
) -> Call[Page[Resource]]:
    return _list(path("/api/v1/members/{m}/ledger", m=member_id), Resource, limit, cursor)


# Referrals ---------------------------------------------------------------------------------------


def create_referral(referral: ReferralCreate | Body) -> Call[Referral]:
    return Call("POST", "/api/v1/referrals", parser(Referral), json=body(referral))


def list_referrals(
    *,
    program_id: str | None = None,
    member_id: str | None = None,
    status: str | None = None,
    q: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[Referral]]:
    return _list(
        "/api/v1/referrals",
        Referral,
        limit,
        cursor,
        program_id=program_id,
        member_id=member_id,
        status=status,
        q=q,
        created_after=created_after,
        created_before=created_before,
    )


def get_referral(referral_id: str) -> Call[Referral]:
    return Call("GET", path("/api/v1/referrals/{r}", r=referral_id), parser(Referral))


def update_referral(
    referral_id: str,
    *,
    status: Literal["pending", "qualified", "approved", "denied"] | None = None,
    note: str | None = None,
) -> Call[Referral]:
    changes = {k: v for k, v in {"status": status, "note": note}.items() if v is not None}
    p = path("/api/v1/referrals/{r}", r=referral_id)
    return Call("PATCH", p, parser(Referral), json=changes)


# Rewards -----------------------------------------------------------------------------------------


def list_rewards(
    *,
    program_id: str | None = None,
    member_id: str | None = None,
    referral_id: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[Reward]]:
    return _list(
        "/api/v1/rewards",
        Reward,
        limit,
        cursor,
        program_id=program_id,
        member_id=member_id,
        referral_id=referral_id,
        status=status,
    )


def create_reward(reward: RewardCreate | Body) -> Call[Reward]:
    return Call("POST", "/api/v1/rewards", parser(Reward), json=body(reward))


def get_reward(reward_id: str) -> Call[Reward]:
    return Call("GET", path("/api/v1/rewards/{r}", r=reward_id), parser(Reward))


def issue_reward(
    reward_id: str, *, override_hold: bool = False, note: str | None = None
) -> Call[Reward]:
    p = path("/api/v1/rewards/{r}/issue", r=reward_id)
    payload: dict[str, Any] = {"override_hold": override_hold}
    if note is not None:
        payload["note"] = note
    return Call("POST", p, parser(Reward), json=payload)


def cancel_reward(reward_id: str, *, note: str | None = None) -> Call[Reward]:
    p = path("/api/v1/rewards/{r}/cancel", r=reward_id)
    return Call("POST", p, parser(Reward), json={} if note is None else {"note": note})


def list_coupon_pools(program_id: str) -> Call[list[Resource]]:
    p = path("/api/v1/programs/{p}/coupon-pools", p=program_id)
    return Call("GET", p, parser(list[Resource]))


def upload_coupons(program_id: str, pool: str, codes: list[str]) -> Call[Resource]:
    p = path("/api/v1/programs/{p}/coupon-pools/{c}/codes", p=program_id, c=pool)
    return Call("POST", p, parser(Resource), json={"codes": codes})


# Links -------------------------------------------------------------------------------------------


def list_links(
    *,
    program_id: str | None = None,
    member_id: str | None = None,
    q: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[Link]]:
    return _list(
        "/api/v1/links", Link, limit, cursor, program_id=program_id, member_id=member_id, q=q
    )


def create_link(link: LinkCreate | Body) -> Call[Link]:
    return Call("POST", "/api/v1/links", parser(Link), json=body(link))


def get_link(link_id: str) -> Call[Link]:
    return Call("GET", path("/api/v1/links/{l}", l=link_id), parser(Link))


def update_link(link_id: str, changes: Body) -> Call[Link]:
    return Call("PATCH", path("/api/v1/links/{l}", l=link_id), parser(Link), json=body(changes))


def delete_link(link_id: str) -> Call[None]:
    return Call("DELETE", path("/api/v1/links/{l}", l=link_id), no_content)


def get_link_qr(
    link_id: str, *, format: Literal["svg", "png"] = "svg", scale: int | None = None
) -> Call[bytes]:
    p = path("/api/v1/links/{l}/qr", l=link_id)
    return Call("GET", p, raw_bytes, {"format": format, "scale": scale})


# Events and stats --------------------------------------------------------------------------------


def create_event(event: EventCreate | Body) -> Call[Event]:
    return Call("POST", "/api/v1/events", parser(Event), json=body(event))


def create_events_batch(events: list[EventCreate | Body]) -> Call[Resource]:
    return Call(
        "POST", "/api/v1/events/batch", parser(Resource), json={"events": [body(e) for e in events]}
    )


def list_events(
    *,
    type: str | None = None,
    app_id: str | None = None,
    program_id: str | None = None,
    customer_id: str | None = None,
    from_: Day = None,
    to: Day = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[Event]]:
    return _list(
        "/api/v1/events",
        Event,
        limit,
        cursor,
        type=type,
        app_id=app_id,
        program_id=program_id,
        customer_id=customer_id,
        **{"from": from_, "to": to},
    )


def get_program_stats(
    program_id: str, *, from_: Day = None, to: Day = None, interval: str | None = None
) -> Call[Resource]:
    p = path("/api/v1/programs/{p}/stats", p=program_id)
    return Call("GET", p, parser(Resource), {"from": from_, "to": to, "interval": interval})


def get_program_leaderboard(
    program_id: str, *, period: str | None = None, limit: int | None = None
) -> Call[Resource]:
    p = path("/api/v1/programs/{p}/leaderboard", p=program_id)
    return Call("GET", p, parser(Resource), {"period": period, "limit": limit})


def get_link_stats(
    link_id: str,
    *,
    group_by: str | None = None,
    from_: Day = None,
    to: Day = None,
    limit: int | None = None,
) -> Call[Breakdown]:
    """Totals of one link, and per group with ``group_by`` (``country``, ``device``, ``os``,
    ``browser``, ``referrer``, ``utm_source``, ``utm_campaign``; ``network``, ``campaign``)."""
    p = path("/api/v1/links/{p}/stats", p=link_id)
    params = {"group_by": group_by, "from": from_, "to": to, "limit": limit}
    return Call("GET", p, parser(Breakdown), params)


def get_program_breakdown(
    program_id: str,
    *,
    group_by: str,
    from_: Day = None,
    to: Day = None,
    limit: int | None = None,
) -> Call[Breakdown]:
    """A program's clicks, reach, signups, conversions and revenue per group of ``group_by``."""
    p = path("/api/v1/programs/{p}/breakdown", p=program_id)
    params = {"group_by": group_by, "from": from_, "to": to, "limit": limit}
    return Call("GET", p, parser(Breakdown), params)


# Webhooks ----------------------------------------------------------------------------------------


def list_webhooks(
    *, limit: int | None = None, cursor: str | None = None
) -> Call[Page[WebhookEndpoint]]:
    return _list("/api/v1/webhooks", WebhookEndpoint, limit, cursor)


def create_webhook(webhook: WebhookCreate | Body) -> Call[WebhookEndpoint]:
    return Call("POST", "/api/v1/webhooks", parser(WebhookEndpoint), json=body(webhook))


def get_webhook(webhook_id: str) -> Call[WebhookEndpoint]:
    return Call("GET", path("/api/v1/webhooks/{w}", w=webhook_id), parser(WebhookEndpoint))


def update_webhook(webhook_id: str, changes: Body) -> Call[WebhookEndpoint]:
    p = path("/api/v1/webhooks/{w}", w=webhook_id)
    return Call("PATCH", p, parser(WebhookEndpoint), json=body(changes))


def delete_webhook(webhook_id: str) -> Call[None]:
    return Call("DELETE", path("/api/v1/webhooks/{w}", w=webhook_id), no_content)


def test_webhook(webhook_id: str) -> Call[WebhookMessage]:
    p = path("/api/v1/webhooks/{w}/test", w=webhook_id)
    return Call("POST", p, parser(WebhookMessage))


def rotate_webhook_secret(webhook_id: str) -> Call[WebhookEndpoint]:
    p = path("/api/v1/webhooks/{w}/rotate-secret", w=webhook_id)
    return Call("POST", p, parser(WebhookEndpoint))


def list_webhook_messages(
    webhook_id: str,
    *,
    status: str | None = None,
    type: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[WebhookMessage]]:
    p = path("/api/v1/webhooks/{w}/messages", w=webhook_id)
    return _list(p, WebhookMessage, limit, cursor, status=status, type=type)


def retry_webhook_message(message_id: str) -> Call[WebhookMessage]:
    p = path("/api/v1/webhooks/messages/{m}/retry", m=message_id)
    return Call("POST", p, parser(WebhookMessage))


def subscribe_hook(target_url: str, event: str) -> Call[Hook]:
    payload = {"target_url": target_url, "event": event}
    return Call("POST", "/api/v1/hooks", parser(Hook), json=payload)


def hook_samples(event: str) -> Call[list[dict[str, Any]]]:
    p = path("/api/v1/hooks/samples/{e}", e=event)
    return Call("GET", p, parser(list[dict[str, Any]]))


def unsubscribe_hook(hook_id: str) -> Call[None]:
    return Call("DELETE", path("/api/v1/hooks/{h}", h=hook_id), no_content)


# Embedded referrer dashboard ------------------------------------------------------------------


def create_member_embed_token(
    member_id: str, *, expires_in_seconds: int | None = None
) -> Call[EmbedToken]:
    """A short-lived read-only token (and page URL) for the member's referrer dashboard."""
    p = path("/api/v1/members/{m}/embed-token", m=member_id)
    payload = {} if expires_in_seconds is None else {"expires_in_seconds": expires_in_seconds}
    return Call("POST", p, parser(EmbedToken), json=payload)


def create_program_embed_token(
    program_id: str, member: MemberCreate | Body, *, expires_in_seconds: int | None = None
) -> Call[EmbedToken]:
    """Create or fetch the member, and answer its dashboard token in one call."""
    p = path("/api/v1/programs/{p}/embed-token", p=program_id)
    payload = dict(body(member))
    if expires_in_seconds is not None:
        payload["expires_in_seconds"] = expires_in_seconds
    return Call("POST", p, parser(EmbedToken), json=payload)


def get_embed_me(token: str) -> Call[Resource]:
    """The dashboard's data as JSON, read with an embed token (not the API key)."""
    headers = {"Authorization": f"Bearer {token}"}
    return Call("GET", "/api/v1/embed/me", parser(Resource), headers=headers)
