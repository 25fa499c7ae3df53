"""Ad-network integrations and SKAdNetwork through the SDK, against the live app: settings
with write-only credentials, the dry run and the forwarding log; a conversion-value schema, the
value an installed app asks for with its client key, and Apple's postbacks relayed."""

from __future__ import annotations

import random
import uuid

import pytest
from referkit_client import AsyncReferkit, ValidationError
from referkit_client.models import (
    AppCreate,
    Device,
    InstallCreate,
    IntegrationUpdate,
    SkanSchemaInput,
)

POSTBACK_URL = "https://127.0.0.1:8219/pb?click={click_id}&event={event_name}"


async def test_integrations_keep_credentials_write_only(rk: AsyncReferkit) -> None:
    app = await rk.create_app(AppCreate(name="Forwarded"))
    configured = await rk.put_integrations(
        app.id,
        [
            IntegrationUpdate(
                network="meta",
                enabled=True,
                credentials={"access_token": "EAAB-secret"},
                config={"dataset_id": "1234567890"},
                event_map={"install": "MobileAppInstall"},
            ),
            {
                "network": "postback",
                "enabled": True,
                "send": "all",
                "config": {"url": POSTBACK_URL},
            },
        ],
    )
    by_network = {i.network: i for i in configured.data}
    assert by_network["meta"].credentials_set == ["access_token"]
    assert "EAAB-secret" not in configured.model_dump_json()
    assert by_network["postback"].config["url"] == POSTBACK_URL
    listed = await rk.list_integrations(app.id)
    assert {i.network for i in listed.data if i.enabled} == {"meta", "postback"}

    install = await rk.create_install(
        app.id, InstallCreate(device=Device(os="android"), event_id="forwarded-install")
    )
    preview = await rk.dry_run(app.id, "postback", event_id=install.install_id)
    assert (preview.event_id, preview.would_send) == (install.install_id, True)
    assert preview.request is not None
    assert preview.request["url"].endswith("event=install")
    # The install was queued for the postback (the worker sends it; none runs here).
    [queued] = [f async for f in rk.iter_forwarding_log(app.id, "postback")]
    assert (queued.event_id, queued.event_name, queued.status) == (
        install.install_id,
        "install",
        "pending",
    )
    again = await rk.retry_forward(app.id, "postback", queued.id)
    assert (again.id, again.status) == (queued.id, "pending")
    assert (await rk.forwarding_log(app.id, "meta")).data == []

    with pytest.raises(ValidationError):
        await rk.put_integrations(app.id, [{"network": "postback", "config": {"url": "nope"}}])


async def test_skan_schema_value_and_postbacks(rk: AsyncReferkit) -> None:
    # The database may outlive one run (REFERKIT_TEST_DATABASE_URL): a store id and a transaction
    # id of this run's own, so the postback maps to this app and is new.
    store_id = random.randint(10**9, 10**10)
    app = await rk.create_app(
        {"name": "Skan", "platforms": {"ios": {"app_store_id": str(store_id)}}}
    )
    schema = await rk.put_skan_schema(
        app.id,
        SkanSchemaInput(
            currency="USD",
            fine=[{"value": 0, "event": "install"}, {"value": 10, "event": "purchase"}],
            coarse={"window_1": [{"value": "low", "event": "install"}]},
        ),
    )
    assert schema.version == 1
    assert (await rk.get_skan_schema(app.id)).fine == schema.fine
    with pytest.raises(ValidationError):
        await rk.put_skan_schema(app.id, {"fine": [{"value": 64, "event": "install"}]})

    key = await rk.create_client_key(app.id)
    install = await rk.create_install(
        app.id, {"device": {"os": "ios"}, "event_id": "skan-device"}, client_key=key.key
    )
    value = await rk.skan_value(app.id, install.install_id, client_key=key.key)
    assert (value.window, value.fine, value.coarse, value.schema_version) == (1, 0, "low", 1)

    postback = {
        "version": "4.0",
        "ad-network-id": "example123.skadnetwork",
        "source-identifier": "1234",
        "app-id": store_id,
        "transaction-id": str(uuid.uuid4()),
        "redownload": False,
        "fidelity-type": 1,
        "did-win": True,
        "postback-sequence-index": 0,
        "conversion-value": 10,
        "attribution-signature": "MEUCIQDDetgQ0W1XnA==",
    }
    first = await rk.receive_postback(postback)
    assert (first.status, first.verified, first.app_id) == ("stored", False, app.id)
    assert (await rk.receive_postback(postback)).status == "duplicate"
    # Kept, but not counted: the signature does not verify.
    stats = await rk.app_stats(app.id)
    assert stats.skan is not None
    assert (stats.skan.postbacks, stats.skan.unverified) == (0, 1)
    with pytest.raises(ValidationError):
        await rk.receive_postback("not-a-jws")
