"""``referkit secrets rotate``: re-encrypt every stored secret under the current secret key.

Rotation (docs/security.md): set ``REFERKIT_SECRET_KEY`` to the new key and
``REFERKIT_SECRET_KEY_PREVIOUS`` to the old one, restart, run this command, then drop the old
key. The whole rewrite is one transaction: if any value cannot be decrypted with the configured
keys, nothing changes and the command says which key is missing.
"""

from __future__ import annotations

import asyncio

import typer

from referkit.cli.common import console, ensure_schema, settings_or_exit, unit_of_work
from referkit.config import Settings
from referkit.idempotency.service import ENCRYPTION_PURPOSE as RESPONSE_PURPOSE
from referkit.idempotency.service import IdempotencyService
from referkit.integration.service import ENCRYPTION_PURPOSE as INTEGRATION_PURPOSE
from referkit.integration.service import IntegrationService
from referkit.kit.crypto import DecryptionError
from referkit.webhook.service import ENCRYPTION_PURPOSE as WEBHOOK_PURPOSE
from referkit.webhook.service import WebhookService

app = typer.Typer(
    help="Secrets stored encrypted at rest.", no_args_is_help=True, pretty_exceptions_enable=False
)


async def reseal(settings: Settings) -> dict[str, int]:
    """Re-encrypt webhook signing secrets, stored responses and integration credentials;
    counts per kind."""
    await ensure_schema(settings)
    keyring = settings.keyring
    async with unit_of_work(settings) as session:
        webhooks = await WebhookService(
            session, secrets=keyring.box(WEBHOOK_PURPOSE)
        ).reseal_secrets()
        responses = await IdempotencyService(session, keyring.box(RESPONSE_PURPOSE)).reseal_all()
        integrations = await IntegrationService(
            session, secrets=keyring.box(INTEGRATION_PURPOSE)
        ).reseal_credentials()
    return {
        "webhook_endpoints": webhooks,
        "idempotent_responses": responses,
        "integrations": integrations,
    }


@app.command()
def rotate() -> None:
    """Re-encrypt every stored secret with REFERKIT_SECRET_KEY (old keys: only to decrypt)."""
    settings = settings_or_exit()
    try:
        counts = asyncio.run(reseal(settings))
    except DecryptionError as exc:
        console.print(f"[red]Nothing was changed:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"Re-encrypted the signing secrets of {counts['webhook_endpoints']} webhook endpoint(s), "
        f"{counts['idempotent_responses']} stored response(s) and the credentials of "
        f"{counts['integrations']} ad-network integration(s) under the current key."
    )
    if settings.secret_key_previous:
        console.print("REFERKIT_SECRET_KEY_PREVIOUS is no longer needed; remove it.")
