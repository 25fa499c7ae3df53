"""Embed tokens: short-lived, HMAC-signed, bound to one member, read-only.

Format: ``rke1.<payload>.<signature>``, both parts base64url without padding. The payload is
compact JSON naming the workspace, mode, program and member, the issue and expiry times (Unix
seconds) and a random id (the per-token rate-limit key). The signature is HMAC-SHA256 over
``rke1.<payload>`` with a key derived from the installation's signing key, so an embed token
can never be confused with another token the same key signs.

Nothing is stored: a token is checked by its signature and expiry, then, at every use, by the
member it names still being active (see ``EmbedService.open``). That is what revokes the
tokens of a disabled or deleted member.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from referkit.kit.crypto import random_token

PREFIX = "rke1"
_KEY_LABEL = b"referkit embed token v1"
MAX_TOKEN_LENGTH = 1024


class TokenError(Exception):
    """The text is not a token this installation signed (malformed or forged)."""


@dataclass(frozen=True)
class EmbedClaims:
    workspace_id: str
    livemode: bool
    program_id: str
    member_id: str
    issued_at: int
    expires_at: int
    token_id: str

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_at

    @property
    def expires_at_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)


def derive_key(signing_key: bytes) -> bytes:
    return hmac.new(signing_key, _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("not base64url") from None


def new_claims(
    *,
    workspace_id: str,
    livemode: bool,
    program_id: str,
    member_id: str,
    now: datetime,
    ttl_seconds: int,
) -> EmbedClaims:
    issued = int(now.timestamp())
    return EmbedClaims(
        workspace_id=workspace_id,
        livemode=livemode,
        program_id=program_id,
        member_id=member_id,
        issued_at=issued,
        expires_at=issued + ttl_seconds,
        token_id=random_token(12),
    )


def sign(claims: EmbedClaims, key: bytes) -> str:
    payload = {
        "w": claims.workspace_id,
        "l": 1 if claims.livemode else 0,
        "p": claims.program_id,
        "m": claims.member_id,
        "i": claims.issued_at,
        "e": claims.expires_at,
        "j": claims.token_id,
    }
    body = f"{PREFIX}.{_b64(json.dumps(payload, separators=(',', ':')).encode())}"
    signature = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


def verify(token: str, key: bytes) -> EmbedClaims:
    """The claims of a token this key signed (expired or not); TokenError otherwise."""
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise TokenError("not an embed token")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise TokenError("not an embed token")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(parts[2])):
        raise TokenError("bad signature")
    try:
        data = json.loads(_unb64(parts[1]))
        return EmbedClaims(
            workspace_id=str(data["w"]),
            livemode=bool(data["l"]),
            program_id=str(data["p"]),
            member_id=str(data["m"]),
            issued_at=int(data["i"]),
            expires_at=int(data["e"]),
            token_id=str(data["j"]),
        )
    except (ValueError, KeyError, TypeError):
        # Signed by us yet unreadable: only a future format could do that.
        raise TokenError("unreadable payload") from None


class Verifier:
    """``verify`` with one key, remembering the claims of the tokens it accepted: a token is
    used for a page view and then the API reads of that view, so checking its signature once
    is enough. Only accepted tokens are kept (a forged one is checked every time), and the
    claims say nothing about expiry or revocation, which are checked at every use."""

    MAX_KNOWN = 4096

    def __init__(self, signing_key: bytes) -> None:
        self.key = derive_key(signing_key)
        self._known: dict[str, EmbedClaims] = {}

    def verify(self, token: str) -> EmbedClaims:
        claims = self._known.get(token)
        if claims is None:
            claims = verify(token, self.key)
            if len(self._known) >= self.MAX_KNOWN:
                self._known.clear()
            self._known[token] = claims
        return claims
