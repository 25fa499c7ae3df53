"""encrypt webhook signing secrets and stored idempotent responses at rest

The secret columns widen to hold ciphertext (``rkenc1:…``, about 113 characters for a
``whsec_`` secret), then every plaintext secret and stored response is sealed with the key the
application uses (``kit.crypto.SecretBox`` under ``REFERKIT_SECRET_KEY``, or the development key
file in the data directory). ``referkit db upgrade`` and ``referkit serve`` hand the migration
their keys; run any other way, it reads the settings itself, and only when there is something to
encrypt. Downgrading decrypts again (it needs the same key).

Revision ID: 0010_secrets
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

from referkit.kit.crypto import KeyRing, SecretBox, is_encrypted, is_sealed

revision: str = "0010_secrets"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The purpose labels of webhook.service and idempotency.service, frozen here as of this revision.
WEBHOOK_PURPOSE = "webhook-signing-secret"
RESPONSE_PURPOSE = "idempotent-response"
BATCH = 500

endpoints = sa.table(
    "webhook_endpoints",
    sa.column("id", sa.String),
    sa.column("secret", sa.String),
    sa.column("previous_secret", sa.String),
)
responses = sa.table(
    "idempotency_keys", sa.column("id", sa.String), sa.column("body", sa.LargeBinary)
)


def _keyring() -> KeyRing:
    keyring = context.config.attributes.get("keyring")
    if keyring is None:
        from referkit.config import load_settings  # only when rows need the key

        keyring = load_settings().keyring
    assert isinstance(keyring, KeyRing)
    return keyring


def _widen(length: int) -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        for column in ("secret", "previous_secret"):
            batch.alter_column(
                column,
                existing_type=sa.String(length=100 if length == 255 else 255),
                type_=sa.String(length=length),
                existing_nullable=column == "previous_secret",
            )


def _rewrite_secrets(change: Callable[[SecretBox, str, str], str]) -> None:
    """Apply ``change(box, endpoint_id, value)`` to both secret columns of every endpoint."""
    bind, box, after = op.get_bind(), None, ""
    while True:
        rows = bind.execute(
            sa.select(endpoints.c.id, endpoints.c.secret, endpoints.c.previous_secret)
            .where(endpoints.c.id > after)
            .order_by(endpoints.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        box = box or _keyring().box(WEBHOOK_PURPOSE)
        for endpoint_id, secret, previous in rows:
            values = {"secret": change(box, endpoint_id, secret)}
            if previous:
                values["previous_secret"] = change(box, endpoint_id, previous)
            bind.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(**values))
        after = rows[-1][0]


def _rewrite_responses(change: Callable[[SecretBox, str, bytes], bytes]) -> None:
    bind, box, after = op.get_bind(), None, ""
    while True:
        rows = bind.execute(
            sa.select(responses.c.id, responses.c.body)
            .where(responses.c.id > after, responses.c.body.is_not(None))
            .order_by(responses.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        box = box or _keyring().box(RESPONSE_PURPOSE)
        for record_id, body in rows:
            new = change(box, record_id, bytes(body))
            bind.execute(responses.update().where(responses.c.id == record_id).values(body=new))
        after = rows[-1][0]


def _seal_text(box: SecretBox, row_id: str, value: str) -> str:
    return value if is_encrypted(value) else box.encrypt(value, context=row_id)


def _seal_bytes(box: SecretBox, row_id: str, value: bytes) -> bytes:
    return value if is_sealed(value) else box.seal(value, context=row_id)


def _open_text(box: SecretBox, row_id: str, value: str) -> str:
    return box.reveal(value, context=row_id)


def _open_bytes(box: SecretBox, row_id: str, value: bytes) -> bytes:
    return box.reveal_bytes(value, context=row_id)


def upgrade() -> None:
    _widen(255)
    _rewrite_secrets(_seal_text)
    _rewrite_responses(_seal_bytes)


def downgrade() -> None:
    _rewrite_responses(_open_bytes)
    _rewrite_secrets(_open_text)
    _widen(100)
