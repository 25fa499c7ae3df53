"""Mounts every domain router under /api/v1, and the compatibility faces beside it."""

from __future__ import annotations

from referkit.auth.endpoints import router as keys_router
from referkit.compat.referral_factory import router as referral_factory_router
from referkit.compat.referral_rock import router as referral_rock_router
from referkit.customer.endpoints import router as customers_router
from referkit.db.session import APIRouter
from referkit.embed.endpoints import router as embed_router
from referkit.event.endpoints import router as events_router
from referkit.integration import hooks as _forwarding  # noqa: F401  (registers the subscriber)
from referkit.integration.endpoints import router as integrations_router
from referkit.link.endpoints import router as links_router
from referkit.member.endpoints import router as members_router
from referkit.mobile.endpoints import portfolio_router
from referkit.mobile.endpoints import router as apps_router
from referkit.privacy.endpoints import router as erasures_router
from referkit.program.endpoints import router as programs_router
from referkit.referral.endpoints import router as referrals_router
from referkit.reward.endpoints import router as rewards_router
from referkit.skan.endpoints import router as skan_router
from referkit.stats.endpoints import router as stats_router
from referkit.webhook.endpoints import hooks_router
from referkit.webhook.endpoints import router as webhooks_router
from referkit.workspace.endpoints import router as workspace_router

api_router = APIRouter(prefix="/api/v1")
for router in (workspace_router, keys_router, programs_router, members_router, referrals_router):
    api_router.include_router(router)
for router in (webhooks_router, hooks_router):
    api_router.include_router(router)
for router in (links_router, events_router, stats_router):
    api_router.include_router(router)
api_router.include_router(rewards_router)
api_router.include_router(embed_router)

# Mounted after api_router: their paths (/api/programs, /api/v2/users…) are literal and never
# match /api/v1/…; /r/{code} and /api/c/{code} are answered before any router (app.Referkit).
compat_routers = (referral_rock_router, referral_factory_router)
for router in (customers_router, erasures_router):
    api_router.include_router(router)
api_router.include_router(apps_router)
api_router.include_router(integrations_router)
api_router.include_router(portfolio_router)
api_router.include_router(skan_router)
