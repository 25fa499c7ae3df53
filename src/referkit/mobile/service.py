"""Apps: create, read, update, delete; their client keys.

An app is a tenant row like a program (workspace + mode; another workspace's id is a 404).
Programs and links name an app through ``AppService.referenced`` (a 422 when the app is
unknown). Deleting an app archives its links (codes are never handed out again) and keeps its
events and rollups, as deleting a program keeps its clicks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.db.session import batch_memo
from referkit.errors import NotFound, Unprocessable
from referkit.kit.crypto import hash_secret, random_token
from referkit.kit.ids import new_id
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.tenancy import owned
from referkit.kit.time import utcnow
from referkit.link.changes import link_changes
from referkit.mobile.repository import AppRepository
from referkit.mobile.schemas import (
    AppCreate,
    AppUpdate,
    AttributionSettings,
    ClientKeyCreate,
    Platforms,
)
from referkit.models import ApiKey, App


@dataclass(frozen=True)
class IssuedClientKey:
    key: ApiKey
    token: str


def app_settings(app: App, session: AsyncSession | None = None) -> AttributionSettings:
    """The app's windows, defaults filled in (rows store what was sent); read once per event
    batch when ``session`` is the batch's."""
    memo = batch_memo(session) if session is not None else None
    key = ("app.settings", app.id)
    found: AttributionSettings | None = memo.get(key) if memo is not None else None
    if found is None:
        found = AttributionSettings.model_validate(app.attribution or {})
        if memo is not None:
            memo[key] = found
    return found


def _merged_platforms(stored: dict[str, Any], sent: Platforms) -> dict[str, Any]:
    """Fields sent replace those stored, a null removes one; platforms not sent stay."""
    merged = {name: dict(fields) for name, fields in stored.items()}
    for name, fields in sent.model_dump(mode="json", exclude_unset=True).items():
        if fields is None:
            merged.pop(name, None)
            continue
        both = {**merged.get(name, {}), **fields}
        merged[name] = {key: value for key, value in both.items() if value is not None}
    return merged


class AppService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.apps = AppRepository(session)

    async def get(self, principal: Principal, app_id: str) -> App:
        return await owned(principal, app_id, prefix="app", noun="app", load=self.apps.get)

    async def referenced(self, principal: Principal, app_id: str, field: str = "app_id") -> App:
        """The app a program, link or event names; a 422 on that field when there is none."""
        try:
            return await self.get(principal, app_id)
        except NotFound:
            raise Unprocessable(
                f"No app {app_id} in this workspace.",
                errors=[
                    {"field": field, "in": "body", "message": "unknown app", "type": "value_error"}
                ],
            ) from None

    async def all(self, principal: Principal) -> list[App]:
        return await self.apps.all(principal.workspace_id, principal.livemode)

    async def list(self, principal: Principal, params: PageParams) -> tuple[list[App], PageMeta]:
        return await self.apps.page(principal.workspace_id, principal.livemode, params)

    async def create(self, principal: Principal, body: AppCreate) -> App:
        now = utcnow()
        app = App(
            id=new_id("app"),
            workspace_id=principal.workspace_id,
            livemode=principal.livemode,
            name=body.name,
            platforms=body.platforms.model_dump(mode="json", exclude_none=True),
            deep_link_scheme=body.deep_link_scheme,
            link_domain=body.link_domain,
            attribution=body.attribution.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        await self.apps.add(app)
        return app

    async def update(self, principal: Principal, app_id: str, body: AppUpdate) -> App:
        app = await self.get(principal, app_id)
        changes = body.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        if "name" in changes and body.name is None:
            raise Unprocessable("name cannot be null")
        if body.platforms is not None:
            changes["platforms"] = _merged_platforms(app.platforms, body.platforms)
        for name in ("deep_link_scheme", "link_domain"):
            if name in body.model_fields_set:
                changes[name] = getattr(body, name)
        for name, value in changes.items():
            setattr(app, name, value)
        app.updated_at = utcnow()
        await self.session.flush()
        await self._links_changed(app)
        return app

    async def delete(self, principal: Principal, app_id: str) -> None:
        app = await self.get(principal, app_id)
        for code in await self.apps.archive_links(app.id, utcnow()):
            link_changes(self.session).codes.add(code)
        await self.apps.delete(app)

    async def _links_changed(self, app: App) -> None:
        """Store settings are part of each cached redirect target of the app's links."""
        for code in await self.apps.link_codes(app.id):
            link_changes(self.session).codes.add(code)

    async def create_client_key(
        self, principal: Principal, app_id: str, body: ClientKeyCreate
    ) -> IssuedClientKey:
        app = await self.get(principal, app_id)
        token = f"pk_app_{random_token(24)}"
        key = ApiKey(
            id=new_id("key"),
            workspace_id=app.workspace_id,
            name=body.name,
            scope="app_client",
            livemode=app.livemode,
            # Publishable: the key is its own public half (it ships in the app anyway).
            public_key=token,
            secret_hash=hash_secret(token),
            secret_hint=f"{token[:10]}…{token[-4:]}",
            app_id=app.id,
            created_at=utcnow(),
        )
        self.session.add(key)
        await self.session.flush()
        return IssuedClientKey(key=key, token=token)


class WellKnownService:
    """The association files iOS and Android fetch from the link domain, built from the live
    apps' settings: an app is listed when it names no ``link_domain`` or names this host."""

    PATHS = ("/r/*", "/api/c/*")

    def __init__(self, session: AsyncSession) -> None:
        self.apps = AppRepository(session)

    async def _apps(self, host: str) -> list[App]:
        return await self.apps.for_well_known(host.lower())

    async def apple_app_site_association(self, host: str) -> dict[str, Any]:
        """Apple's format (iOS 13+): ``applinks.details[]`` of ``appIDs`` + ``components``."""
        app_ids = []
        for app in await self._apps(host):
            ios = app.platforms.get("ios") or {}
            if ios.get("team_id") and ios.get("bundle_id"):
                app_ids.append(f"{ios['team_id']}.{ios['bundle_id']}")
        details = (
            [{"appIDs": app_ids, "components": [{"/": path} for path in self.PATHS]}]
            if app_ids
            else []
        )
        return {"applinks": {"details": details}}

    async def asset_links(self, host: str) -> list[dict[str, Any]]:
        """Google's Digital Asset Links statements (``handle_all_urls``) per Android app."""
        statements = []
        for app in await self._apps(host):
            android = app.platforms.get("android") or {}
            fingerprints = android.get("sha256_cert_fingerprints") or []
            if android.get("package") and fingerprints:
                statements.append(
                    {
                        "relation": ["delegate_permission/common.handle_all_urls"],
                        "target": {
                            "namespace": "android_app",
                            "package_name": android["package"],
                            "sha256_cert_fingerprints": fingerprints,
                        },
                    }
                )
        return statements
