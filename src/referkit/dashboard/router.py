"""Mounts the dashboard: its pages under /dashboard and its static files."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.staticfiles import StaticFiles

from referkit.dashboard.pages import (
    app_detail,
    apps,
    auth,
    integrations,
    keys,
    links,
    members,
    overview,
    programs,
    referrals,
    rewards,
    settings,
    skan,
    webhooks,
)
from referkit.dashboard.web import PREFIX, STATIC

dashboard_router = APIRouter()
for module in (
    auth,
    overview,
    programs,
    members,
    referrals,
    rewards,
    links,
    apps,  # before app_detail: /apps/new is not an app id
    app_detail,
    integrations,
    skan,
    webhooks,
    keys,
    settings,
):
    dashboard_router.include_router(module.router)


def install_dashboard(app: FastAPI) -> None:
    app.include_router(dashboard_router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="dashboard-static")
