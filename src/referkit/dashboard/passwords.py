"""Password hashing for dashboard users: argon2id through pwdlib.

Hashing is slow on purpose (tens of milliseconds of CPU), so it runs in a worker thread: the
event loop keeps serving other requests while one sign-in is checked.
"""

from __future__ import annotations

import asyncio
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_LENGTH = 10
_hasher = PasswordHash((Argon2Hasher(),))
# Checked when the email is unknown, so an unknown account takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password for ``referkit users create`` without ``--password``."""
    return secrets.token_urlsafe(15)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"The password needs at least {MIN_LENGTH} characters."
    if len(password) > 512:
        return "The password is longer than 512 characters."
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, a new hash when the stored one uses outdated parameters)."""
    if password_hash is None:
        await asyncio.to_thread(_hasher.verify, password, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(_hasher.verify_and_update, password, password_hash)
