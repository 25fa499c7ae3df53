"""Secrets: generation, hashing and constant-time comparison.

API secrets are 256-bit random tokens, so a single SHA-256 is the right hash: it cannot be
brute-forced, and it lets authentication find the key with one indexed lookup. Slow password
hashes are for human-chosen passwords, which API secrets are not.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading


def random_token(nbytes: int = 32) -> str:
    """URL-safe random text without padding or ambiguous separators."""
    return secrets.token_urlsafe(nbytes).replace("-", "x").replace("_", "z")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secrets_match(secret: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), expected_hash)


_POOL_BYTES = 4096
_pool = b""
_taken = 0
_pool_lock = threading.Lock()


def _drop_pool() -> None:
    global _pool, _taken, _pool_lock
    _pool, _taken = b"", 0
    _pool_lock = threading.Lock()  # another thread may have held it at the fork


# A forked child must not hand out the bytes its parent still holds.
os.register_at_fork(after_in_child=_drop_pool)


def random_bytes(n: int) -> bytes:
    """``os.urandom(n)``, read from the kernel 4 KiB at a time: the redirect takes a few random
    bytes per click, and one system call per click was a visible share of its cost."""
    global _pool, _taken
    with _pool_lock:
        if _taken + n > len(_pool):
            _pool, _taken = os.urandom(max(_POOL_BYTES, n)), 0
        chunk = _pool[_taken : _taken + n]
        _taken += n
    return chunk
