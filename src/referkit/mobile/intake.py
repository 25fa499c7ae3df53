"""``POST /api/v1/apps/{app_id}/installs`` without the framework, when nothing is unusual.

The install intake is the event intake (``event.intake``) for one more path: cached
credentials allowed to track (full keys and the app's ``pk_app_…`` client keys, the latter
limited per device IP), the same rate limiter and headers, the body validated as
``InstallCreate``, the install written through the event group commit and answered with the
JSON the endpoint answers. Attribution, reinstall detection, click claims and idempotency all
happen in the batch, as for every install.

Whatever the service refuses (an unknown app, a client key of another app, an ``event_id``
used by another event) was refused before anything was stored, so the request goes to the
full stack, which answers it with its own 404, 403 or 409.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from referkit.auth.principal import Access, Principal
from referkit.config import Settings
from referkit.errors import ReferkitError, internal_error_response
from referkit.event.intake import EventIntake, Fallback, parse_body
from referkit.ingest import Ingest
from referkit.mobile.installs import install_event, install_view, is_install_of
from referkit.mobile.schemas import InstallCreate
from referkit.protection import timeout_response

_PREFIX, _SUFFIX = "/api/v1/apps/", "/installs"
logger = logging.getLogger("referkit.intake")


def installs_app_id(path: str) -> str | None:
    """The app id of an ``/api/v1/apps/{app_id}/installs`` path; None for any other path."""
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        app_id = path[len(_PREFIX) : -len(_SUFFIX)]
        if app_id and "/" not in app_id:
            return app_id
    return None


class InstallIntake(EventIntake):
    ACCESS = Access.track

    @staticmethod
    def _body_limit(settings: Settings, app_id: Any) -> int:
        return settings.max_body_bytes

    @staticmethod
    def _parse(body: bytes, app_id: Any) -> tuple[str, InstallCreate]:
        return str(app_id), parse_body(body, InstallCreate)

    async def _answer(
        self, scope: Scope, principal: Principal, parsed: Any, settings: Settings
    ) -> tuple[int, bytes] | Response:
        app_id, install = parsed
        event_body = install_event(
            scope, settings, app_id, install, client=principal.app_id is not None
        )
        ingest: Ingest = self.state.ingest
        seconds = settings.request_timeout_seconds
        try:
            async with asyncio.timeout(seconds if seconds > 0 else None):
                event, created = await ingest.event(principal, event_body)
        except ReferkitError:
            raise Fallback from None  # refused, nothing stored: the full stack's answer
        except TimeoutError:
            return timeout_response(seconds)
        except Exception:
            logger.exception("install intake: unhandled error")
            return internal_error_response()
        if not is_install_of(event, app_id):
            raise Fallback  # the event id names another event: the endpoint's 409
        content = JSONResponse(install_view(event).model_dump(mode="json")).body
        return (201 if created else 200), bytes(content)
