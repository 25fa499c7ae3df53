"""Pooled random bytes (the right lengths, never the same bytes twice, not even across fork),
and encryption at rest: sealed values hide their plaintext, open only in their context and
purpose, survive a key rotation, and fail clearly under the wrong key."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError

from referkit.config import Settings
from referkit.kit.crypto import (
    DecryptionError,
    SecretBox,
    is_encrypted,
    is_sealed,
    key_id,
    random_bytes,
)


def test_lengths_and_no_repeats() -> None:
    chunks = [random_bytes(10) for _ in range(2000)]  # several refills of the 4 KiB pool
    assert {len(chunk) for chunk in chunks} == {10}
    assert len(set(chunks)) == len(chunks)
    assert len(random_bytes(10_000)) == 10_000
    assert random_bytes(0) == b""


def test_a_forked_child_does_not_reuse_the_parents_bytes() -> None:
    random_bytes(10)  # the pool now holds bytes the parent will hand out next
    reader, writer = os.pipe()
    with warnings.catch_warnings():  # 3.12+ warns about fork in a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.write(writer, random_bytes(16))
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 16)
    os.close(reader)
    assert len(from_child) == 16
    assert random_bytes(16) != from_child


# Encryption at rest ------------------------------------------------------------------------------

OLD_KEY = b"old-secret-key-" + b"o" * 32
NEW_KEY = b"new-secret-key-" + b"n" * 32
SECRET = "whsec_" + "Q" * 44


def test_a_sealed_secret_hides_the_plaintext_and_opens_again() -> None:
    box = SecretBox(NEW_KEY, purpose="webhook-signing-secret")
    first = box.encrypt(SECRET, context="wh_1")
    second = box.encrypt(SECRET, context="wh_1")
    assert first.startswith("rkenc1:")
    assert is_encrypted(first)
    assert SECRET not in first
    assert "Q" * 8 not in first
    assert first != second  # a fresh nonce each time
    assert box.decrypt(first, context="wh_1") == SECRET
    blob = box.seal(b'{"secret": "rk_live_x"}', context="idem_1")
    assert is_sealed(blob)
    assert b"rk_live_x" not in blob
    assert box.unseal(blob, context="idem_1") == b'{"secret": "rk_live_x"}'


def test_context_purpose_and_tampering_are_all_refused() -> None:
    box = SecretBox(NEW_KEY, purpose="webhook-signing-secret")
    token = box.encrypt(SECRET, context="wh_1")
    with pytest.raises(DecryptionError):
        box.decrypt(token, context="wh_2")  # moved onto another row
    with pytest.raises(DecryptionError):
        SecretBox(NEW_KEY, purpose="idempotent-response").decrypt(token, context="wh_1")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(DecryptionError):
        box.decrypt(flipped, context="wh_1")
    with pytest.raises(DecryptionError):
        box.decrypt("rkenc1:!!!", context="wh_1")
    with pytest.raises(DecryptionError):
        box.decrypt(SECRET)  # not encrypted at all


def test_rotation_opens_old_values_and_seals_under_the_new_key() -> None:
    old = SecretBox(OLD_KEY, purpose="p")
    token = old.encrypt(SECRET, context="wh_1")
    rotated = SecretBox(NEW_KEY, [OLD_KEY], purpose="p")
    assert rotated.decrypt(token, context="wh_1") == SECRET
    resealed = rotated.encrypt(rotated.decrypt(token, context="wh_1"), context="wh_1")
    # The key id byte tells which key sealed a value.
    assert rotated.current_key_id == key_id(NEW_KEY) != key_id(OLD_KEY)
    new_only = SecretBox(NEW_KEY, purpose="p")
    assert new_only.decrypt(resealed, context="wh_1") == SECRET
    with pytest.raises(DecryptionError, match="REFERKIT_SECRET_KEY_PREVIOUS") as refused:
        new_only.decrypt(token, context="wh_1")
    assert f"{key_id(OLD_KEY):#04x}" in str(refused.value)


def test_values_stored_before_encryption_are_revealed_as_they_are() -> None:
    box = SecretBox(NEW_KEY, purpose="p")
    assert box.reveal(SECRET) == SECRET
    assert box.reveal_bytes(b'{"a": 1}') == b'{"a": 1}'
    assert box.reveal(box.encrypt(SECRET, context="c"), context="c") == SECRET


def test_settings_derive_the_keyring_from_the_secret_keys(tmp_path: Path) -> None:
    old = OLD_KEY.decode()
    settings = Settings(data_dir=tmp_path, secret_key=NEW_KEY.decode(), secret_key_previous=old)
    assert settings.keyring.current == NEW_KEY
    assert settings.keyring.previous == (OLD_KEY,)
    token = SecretBox(OLD_KEY, purpose="p").encrypt(SECRET)
    assert settings.keyring.box("p").decrypt(token) == SECRET
    assert settings.keyring.box("p") is settings.keyring.box("p")
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, secret_key_previous="too-short")
    # Without REFERKIT_SECRET_KEY the development key file is the key.
    dev = Settings(data_dir=tmp_path)
    assert dev.keyring.current == (tmp_path / "secret_key").read_text().strip().encode()
