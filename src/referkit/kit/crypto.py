"""Secrets: generation, hashing and constant-time comparison.

API secrets are 256-bit random tokens, so a single SHA-256 is the right hash: it cannot be
brute-forced, and it lets authentication find the key with one indexed lookup. Slow password
hashes are for human-chosen passwords, which API secrets are not.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def random_token(nbytes: int = 32) -> str:
    """URL-safe random text without padding or ambiguous separators."""
    return secrets.token_urlsafe(nbytes).replace("-", "x").replace("_", "z")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secrets_match(secret: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), expected_hash)
