"""Mobile attribution: an app, its client key, a link, an install and the app's numbers
(``mypy --strict`` clean)."""

from __future__ import annotations

import os

from referkit_client import Referkit
from referkit_client.models import AppCreate, Device, InstallCreate, LinkCreate


def mobile_example(api_key: str, base_url: str) -> None:
    with Referkit(api_key=api_key, base_url=base_url) as rk:
        app = rk.create_app(
            AppCreate(
                name="Shop",
                platforms={"ios": {"bundle_id": "com.example.shop", "team_id": "ABCDE12345"}},
                deep_link_scheme="shop",
            )
        )
        client_key = rk.create_client_key(app.id, name="iOS app")  # ship client_key.key
        link = rk.create_app_link(
            app.id, LinkCreate(destination_url="https://example.com/p/42", campaign="spring")
        )
        print("share:", link.short_url)
        # What the app sends on first open (normally from the device, with its client key).
        install = rk.create_install(
            app.id,
            InstallCreate(device=Device(os="ios", os_version="17.4"), event_id="device-uuid-1"),
            client_key=client_key.key,
        )
        print(install.attribution.method, install.deep_link)
        for row in rk.app_stats(app.id, group_by="campaign").data:
            print(row.key, row.clicks, row.installs, row.conversion_rate)
        for entry in rk.portfolio().data:
            print(entry.name, entry.current.installs, entry.previous.installs)


if __name__ == "__main__":
    mobile_example(
        os.environ["REFERKIT_API_KEY"], os.environ.get("REFERKIT_URL", "http://127.0.0.1:8000")
    )
