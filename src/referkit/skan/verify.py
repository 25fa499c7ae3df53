"""Apple's postbacks: parsing and signature verification (no I/O).

SKAdNetwork (2.1 and later) signs with ECDSA P-256 / SHA-256 over the version's fields joined
by U+2063 (INVISIBLE SEPARATOR); booleans are the strings ``true``/``false``; optional fields
(``source-app-id`` / ``source-domain``) are included only when present; the conversion values
are never signed. AdAttributionKit posts a compact JWS (``ES256``) whose ``kid`` names the key.

Sources (checked against Apple's own example postbacks in tests/skan/test_verify.py):
- https://developer.apple.com/documentation/storekit/verifying-an-install-validation-postback
- https://developer.apple.com/documentation/storekit/combining-parameters-for-previous-skadnetwork-postback-versions
- https://developer.apple.com/documentation/storekit/combining-parameters-for-skadnetwork-3-postbacks
- https://developer.apple.com/documentation/adattributionkit/verifying-a-postback
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

APPLE_P256_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWdp8GPcGqmhgzEFj9Z2nSpQVddayaPe4FMzqM9wib1+aHaaIzoHo"
    "LN9zW4K8y4SPykE3YVK3sVqW6Af0lfx3gg=="
)
"""Apple's NIST P-256 key for SKAdNetwork 2.1-4 postbacks (verifying-an-install-validation-
postback) and AdAttributionKit's production key ``apple-cas-identifier/0`` (verifying-a-
postback): the same published SPKI."""

AAK_KEYS = {"apple-cas-identifier/0": APPLE_P256_PUBLIC_KEY}
"""AdAttributionKit production keys by ``kid``. Development keys are deliberately absent:
development postbacks must not count in production (configure them as extra keys to test)."""

SEPARATOR = "\u2063"

_FIELDS: dict[str, tuple[str, ...]] = {
    "4": (
        "version",
        "ad-network-id",
        "source-identifier",
        "app-id",
        "transaction-id",
        "redownload",
        "source-app-id",
        "source-domain",
        "fidelity-type",
        "did-win",
        "postback-sequence-index",
    ),
    "3": (
        "version",
        "ad-network-id",
        "campaign-id",
        "app-id",
        "transaction-id",
        "redownload",
        "source-app-id",
        "fidelity-type",
        "did-win",
    ),
    "2.2": (
        "version",
        "ad-network-id",
        "campaign-id",
        "app-id",
        "transaction-id",
        "redownload",
        "source-app-id",
        "fidelity-type",
    ),
    "2.1": ("version", "ad-network-id", "campaign-id", "app-id", "transaction-id", "redownload"),
}
_OPTIONAL = frozenset({"source-app-id", "source-domain"})


class PostbackInvalid(ValueError):
    """The body is not a postback at all (no version, no transaction id): answered 422."""


@dataclass
class Postback:
    kind: str  # skan | aak
    version: str
    transaction_id: str
    fields: dict[str, Any]
    verified: bool = False
    verification: str = "not checked"
    raw: dict[str, Any] = field(default_factory=dict)

    def get_str(self, name: str) -> str | None:
        value = self.fields.get(name)
        return None if value is None else _text(value)

    def get_int(self, name: str) -> int | None:
        value = self.fields.get(name)
        if isinstance(value, bool) or value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def get_bool(self, name: str) -> bool | None:
        value = self.fields.get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        if isinstance(value, int) and value in (0, 1):
            return value == 1
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@cache
def load_key(spki_base64: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(base64.b64decode(spki_base64))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an EC public key")
    return key


def _check(keys: list[tuple[str, str]], der_signature: bytes, message: bytes) -> str | None:
    """The name of the key that verifies ``message``, or None."""
    for name, spki in keys:
        try:
            load_key(spki).verify(der_signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return name
    return None


def _family(version: str) -> str | None:
    if version.startswith("4."):
        return "4"
    if version.startswith("3."):
        return "3"
    return version if version in ("2.1", "2.2") else None


def signed_message(body: dict[str, Any]) -> str:
    family = _family(_text(body.get("version", "")))
    if family is None:
        raise KeyError("version")
    parts = []
    for name in _FIELDS[family]:
        if body.get(name) is None:
            if name in _OPTIONAL:
                continue
            raise KeyError(name)
        parts.append(_text(body[name]))
    return SEPARATOR.join(parts)


def parse_skan(body: dict[str, Any], extra_keys: list[str]) -> Postback:
    version = _text(body.get("version", ""))
    transaction = body.get("transaction-id")
    if not version or not isinstance(transaction, str) or not transaction:
        raise PostbackInvalid("A SKAdNetwork postback needs version and transaction-id.")
    postback = Postback("skan", version[:10], transaction[:100], dict(body), raw=dict(body))
    if _family(version) is None:
        postback.verification = f"unsupported version {version[:10]}"
        return postback
    try:
        message = signed_message(body).encode()
        signature = base64.b64decode(str(body.get("attribution-signature") or ""), validate=True)
    except KeyError as missing:
        postback.verification = f"missing signed field {missing.args[0]}"
        return postback
    except (binascii.Error, ValueError):
        postback.verification = "attribution-signature is not base64"
        return postback
    keys = [("apple", APPLE_P256_PUBLIC_KEY)] + [("configured key", k) for k in extra_keys]
    return _settle(postback, _check(keys, signature, message))


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parse_aak(jws: str, outer: dict[str, Any], extra_keys: list[str]) -> Postback:
    """An AdAttributionKit postback: the JWS carries the signed fields; the outer JSON may add
    the unsigned ``conversion-value`` / ``coarse-conversion-value``."""
    try:
        head, payload, signature = jws.split(".")
        header = json.loads(_b64url(head))
        claims = json.loads(_b64url(payload))
        raw_signature = _b64url(signature)
    except (ValueError, binascii.Error):
        raise PostbackInvalid("jws-string is not a compact JWS.") from None
    if not isinstance(claims, dict) or not isinstance(header, dict):
        raise PostbackInvalid("jws-string is not a compact JWS of a JSON object.")
    identifier = claims.get("postback-identifier")
    if not isinstance(identifier, str) or not identifier:
        raise PostbackInvalid("The JWS payload has no postback-identifier.")
    fields = {**{k: v for k, v in outer.items() if k != "jws-string"}, **claims}
    fields.setdefault("app-id", claims.get("advertised-item-identifier"))
    fields.setdefault("ad-network-id", claims.get("ad-network-identifier"))
    fields.setdefault("source-app-id", claims.get("publisher-item-identifier") or None)
    fields.setdefault("redownload", claims.get("conversion-type") == "redownload")
    postback = Postback("aak", "aak", identifier[:100], fields, raw={**outer, "jws-string": jws})
    if header.get("alg") != "ES256" or len(raw_signature) != 64:
        postback.verification = "not an ES256 JWS"
        return postback
    der = utils.encode_dss_signature(
        int.from_bytes(raw_signature[:32], "big"), int.from_bytes(raw_signature[32:], "big")
    )
    kid = str(header.get("kid", ""))
    keys = [("apple", AAK_KEYS[kid])] if kid in AAK_KEYS else []
    keys += [("configured key", k) for k in extra_keys]
    return _settle(postback, _check(keys, der, f"{head}.{payload}".encode("ascii")))


def _settle(postback: Postback, key_name: str | None) -> Postback:
    postback.verified = key_name is not None
    postback.verification = f"verified with {key_name}" if key_name else "signature does not verify"
    return postback


def parse(body: Any, extra_keys: list[str]) -> Postback:
    """A postback from the request body: SKAN JSON, AAK JSON with ``jws-string``, or a bare
    compact JWS string."""
    if isinstance(body, str):
        return parse_aak(body.strip(), {}, extra_keys)
    if not isinstance(body, dict):
        raise PostbackInvalid("The body must be a JSON object or a compact JWS.")
    jws = body.get("jws-string")
    if isinstance(jws, str):
        return parse_aak(jws, body, extra_keys)
    return parse_skan(body, extra_keys)
