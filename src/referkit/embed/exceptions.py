"""Why an embed token is refused. All answer 401: the host page should fetch a new token."""

from __future__ import annotations

from referkit.errors import ReferkitError


class EmbedTokenError(ReferkitError):
    status_code = 401
    code = "embed_token_invalid"
    title = "Invalid embed token"


class EmbedTokenExpired(EmbedTokenError):
    code = "embed_token_expired"
    title = "Embed token expired"


class EmbedTokenRevoked(EmbedTokenError):
    code = "embed_token_revoked"
    title = "Embed token revoked"
