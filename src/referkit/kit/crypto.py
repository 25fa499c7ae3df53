"""Secrets: generation, hashing, constant-time comparison, and encryption at rest.

API secrets are 256-bit random tokens, so a single SHA-256 is the right hash: it cannot be
brute-forced, and it lets authentication find the key with one indexed lookup. Slow password
hashes are for human-chosen passwords, which API secrets are not. API secrets are only ever
stored as hashes; secrets Referkit must read back (webhook signing secrets, stored responses that
carry a secret) are sealed with ``SecretBox`` (below).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


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


# Encryption at rest ------------------------------------------------------------------------------
#
# A stored secret (a webhook signing secret, a stored response that carries an API secret, later
# an integration credential) is sealed with AES-256-GCM under a key derived by HKDF-SHA256 from
# the server's secret key and a *purpose* label, so one purpose's ciphertext never opens as
# another's. The optional *context* (usually the row id) is authenticated data: a ciphertext
# copied onto another row does not open there.
#
# Layout: MAGIC | key id (1 byte) | nonce (12 bytes) | ciphertext + tag. The key id is a byte
# derived from the master key, so after a rotation each value names the key that sealed it and
# retired keys (``REFERKIT_SECRET_KEY_PREVIOUS``) still open it until it is re-sealed. Two keys
# may share an id byte (1 in 256): opening then simply tries each of them. Text columns hold
# ``rkenc1:`` + unpadded URL-safe base64 of the same bytes.

SEALED_MAGIC = b"\x00RKB1"
TEXT_PREFIX = "rkenc1:"
_NONCE_BYTES = 12
_HKDF_INFO = b"referkit/secretbox/v1/"


class DecryptionError(Exception):
    """A stored value cannot be opened: sealed under a key that is not configured (neither
    ``REFERKIT_SECRET_KEY`` nor one of ``REFERKIT_SECRET_KEY_PREVIOUS``), or altered."""


def key_id(master: bytes) -> int:
    """The one-byte id stored with every value sealed under ``master`` (not secret)."""
    return hmac.new(master, b"referkit key id", hashlib.sha256).digest()[0]


def _derive(master: bytes, purpose: str) -> AESGCM:
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=_HKDF_INFO + purpose.encode())
    return AESGCM(hkdf.derive(master))


class SecretBox:
    """Seal and open values of one purpose; the first key seals, every key opens."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = (), *, purpose: str) -> None:
        if not purpose:
            raise ValueError("a purpose label is required")
        self.purpose = purpose
        self._keys = [(key_id(m), _derive(m, purpose)) for m in (current, *previous)]

    @property
    def current_key_id(self) -> int:
        return self._keys[0][0]

    def seal(self, data: bytes, *, context: str = "") -> bytes:
        kid, aead = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        header = SEALED_MAGIC + bytes([kid])
        return header + nonce + aead.encrypt(nonce, data, header + context.encode())

    def unseal(self, blob: bytes, *, context: str = "") -> bytes:
        if not is_sealed(blob) or len(blob) < len(SEALED_MAGIC) + 1 + _NONCE_BYTES + 16:
            raise DecryptionError("not a sealed value")
        header = blob[: len(SEALED_MAGIC) + 1]
        nonce = blob[len(header) : len(header) + _NONCE_BYTES]
        body = blob[len(header) + _NONCE_BYTES :]
        kid = header[-1]
        for candidate, aead in self._keys:
            if candidate != kid:
                continue
            try:
                return aead.decrypt(nonce, body, header + context.encode())
            except InvalidTag:
                continue
        raise DecryptionError(
            f"cannot decrypt a stored {self.purpose} (sealed under key id {kid:#04x}; configured "
            f"key ids: {', '.join(f'{k:#04x}' for k, _ in self._keys)}). Set "
            "REFERKIT_SECRET_KEY_PREVIOUS to the key it was sealed with, then run "
            "`referkit secrets rotate`."
        )

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        sealed = self.seal(plaintext.encode(), context=context)[len(SEALED_MAGIC) :]
        return TEXT_PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def decrypt(self, token: str, *, context: str = "") -> str:
        if not is_encrypted(token):
            raise DecryptionError(f"not an encrypted {self.purpose}")
        packed = token[len(TEXT_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        except ValueError as exc:
            raise DecryptionError(f"malformed encrypted {self.purpose}") from exc
        return self.unseal(SEALED_MAGIC + raw, context=context).decode()

    def reveal(self, stored: str, *, context: str = "") -> str:
        """The plaintext of a stored text value; a value written before encryption existed (no
        ``rkenc1:`` prefix) is returned as it is, until ``referkit secrets rotate`` seals it."""
        return self.decrypt(stored, context=context) if is_encrypted(stored) else stored

    def reveal_bytes(self, stored: bytes, *, context: str = "") -> bytes:
        """Like ``reveal`` for binary columns (legacy values never start with a NUL byte)."""
        return self.unseal(stored, context=context) if is_sealed(stored) else stored


def is_encrypted(value: str) -> bool:
    return value.startswith(TEXT_PREFIX)


def is_sealed(value: bytes) -> bool:
    return value.startswith(SEALED_MAGIC)


class KeyRing:
    """The server's secret keys: the current one seals, retired ones still open."""

    def __init__(self, current: bytes, previous: Sequence[bytes] = ()) -> None:
        self.current = current
        self.previous = tuple(k for k in previous if k != current)
        self._boxes: dict[str, SecretBox] = {}

    def box(self, purpose: str) -> SecretBox:
        box = self._boxes.get(purpose)
        if box is None:
            box = self._boxes[purpose] = SecretBox(self.current, self.previous, purpose=purpose)
        return box
