"""Operations of mobile attribution (apps, app links, client keys, installs, app analytics),
customers and data care, each returning the ``Call`` to make, as in ``_operations`` (split
only to keep each module readable; both clients bind these the same way)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from referkit_client._core import Call, body, no_content, parser, path
from referkit_client.models import (
    App,
    AppCreate,
    AppStats,
    ClientKey,
    Customer,
    CustomerExport,
    Erasure,
    Event,
    Install,
    InstallCreate,
    Link,
    LinkCreate,
    Overview,
    Page,
    Portfolio,
)

Body = Mapping[str, Any]
Day = date | datetime | None


def _list(p: str, model: Any, limit: int | None, cursor: str | None, **params: Any) -> Call[Any]:
    return Call("GET", p, parser(Page[model]), {"limit": limit, "cursor": cursor, **params})


def _app(app_id: str, rest: str = "", **ids: str) -> str:
    return path("/api/v1/apps/{a}" + rest, a=app_id, **ids)


# Apps --------------------------------------------------------------------------------------------


def list_apps(*, limit: int | None = None, cursor: str | None = None) -> Call[Page[App]]:
    return _list("/api/v1/apps", App, limit, cursor)


def create_app(app: AppCreate | Body) -> Call[App]:
    return Call("POST", "/api/v1/apps", parser(App), json=body(app))


def get_app(app_id: str) -> Call[App]:
    return Call("GET", _app(app_id), parser(App))


def update_app(app_id: str, changes: Body) -> Call[App]:
    return Call("PATCH", _app(app_id), parser(App), json=body(changes))


def delete_app(app_id: str) -> Call[None]:
    """Delete an app: its links are archived; its events and stats stay."""
    return Call("DELETE", _app(app_id), no_content)


def create_client_key(app_id: str, *, name: str | None = None) -> Call[ClientKey]:
    """A publishable client key (``pk_app_…``) to ship in the app; ``key`` is shown once."""
    payload = None if name is None else {"name": name}
    return Call("POST", _app(app_id, "/client-keys"), parser(ClientKey), json=payload)


# App links ---------------------------------------------------------------------------------------


def list_app_links(
    app_id: str, *, q: str | None = None, limit: int | None = None, cursor: str | None = None
) -> Call[Page[Link]]:
    return _list(_app(app_id, "/links"), Link, limit, cursor, q=q)


def create_app_link(app_id: str, link: LinkCreate | Body) -> Call[Link]:
    return Call("POST", _app(app_id, "/links"), parser(Link), json=body(link))


def get_app_link(app_id: str, link_id: str) -> Call[Link]:
    return Call("GET", _app(app_id, "/links/{l}", l=link_id), parser(Link))


def update_app_link(app_id: str, link_id: str, changes: Body) -> Call[Link]:
    p = _app(app_id, "/links/{l}", l=link_id)
    return Call("PATCH", p, parser(Link), json=body(changes))


def delete_app_link(app_id: str, link_id: str) -> Call[None]:
    return Call("DELETE", _app(app_id, "/links/{l}", l=link_id), no_content)


# Installs and app analytics -------------------------------------------------------------------


def create_install(
    app_id: str, install: InstallCreate | Body, *, client_key: str | None = None
) -> Call[Install]:
    """Record an install (first open): its attribution and deferred deep link. Sent with the
    client's key, or with ``client_key`` (``pk_app_…``) as a device would. The same
    ``event_id`` twice answers the first answer."""
    headers = {} if client_key is None else {"Authorization": f"Bearer {client_key}"}
    p = _app(app_id, "/installs")
    return Call("POST", p, parser(Install), json=body(install), headers=headers)


def app_stats(
    app_id: str,
    *,
    from_: Day = None,
    to: Day = None,
    group_by: Literal["link", "network", "campaign", "day"] | None = None,
) -> Call[AppStats]:
    params = {"from": from_, "to": to, "group_by": group_by}
    return Call("GET", _app(app_id, "/stats"), parser(AppStats), params)


def app_events(
    app_id: str,
    *,
    type: str | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[Event]]:
    p = _app(app_id, "/events")
    return _list(p, Event, limit, cursor, type=type, **{"from": from_, "to": to})


def app_overview(app_id: str, *, from_: Day = None, to: Day = None) -> Call[Overview]:
    """KPIs against the previous period of the same length, and the top links."""
    return Call("GET", _app(app_id, "/overview"), parser(Overview), {"from": from_, "to": to})


def portfolio(*, from_: Day = None, to: Day = None) -> Call[Portfolio]:
    """Every app's KPIs side by side, with totals."""
    return Call("GET", "/api/v1/portfolio", parser(Portfolio), {"from": from_, "to": to})


def apple_app_site_association() -> Call[dict[str, Any]]:
    """The public association file for universal links (served for the request's host)."""
    p = "/.well-known/apple-app-site-association"
    return Call("GET", p, parser(dict[str, Any]))


def asset_links() -> Call[list[dict[str, Any]]]:
    """The public Digital Asset Links file for Android App Links."""
    return Call("GET", "/.well-known/assetlinks.json", parser(list[dict[str, Any]]))


# Customers and data care ------------------------------------------------------------------------


def list_customers(
    *,
    email: str | None = None,
    external_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[Page[Customer]]:
    return _list("/api/v1/customers", Customer, limit, cursor, email=email, external_id=external_id)


def get_customer(customer_id: str) -> Call[Customer]:
    return Call("GET", path("/api/v1/customers/{c}", c=customer_id), parser(Customer))


def export_customer(customer_id: str) -> Call[CustomerExport]:
    """Everything stored about the customer, in one document (full-scope keys)."""
    p = path("/api/v1/customers/{c}/export", c=customer_id)
    return Call("GET", p, parser(CustomerExport))


def delete_customer(customer_id: str) -> Call[None]:
    """Erase the customer's personal data everywhere; counts and revenue stay."""
    return Call("DELETE", path("/api/v1/customers/{c}", c=customer_id), no_content)


def list_erasures(
    *, subject_id: str | None = None, limit: int | None = None, cursor: str | None = None
) -> Call[Page[Erasure]]:
    return _list("/api/v1/erasures", Erasure, limit, cursor, subject_id=subject_id)
