"""A local P-256 key pair standing in for Apple's: tests sign postbacks with its private half
and configure its public half through ``REFERKIT_SKAN_EXTRA_PUBLIC_KEYS``."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from referkit.skan.verify import signed_message

PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC_B64 = base64.b64encode(
    PRIVATE.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def sign_skan(body: dict[str, Any], key: ec.EllipticCurvePrivateKey = PRIVATE) -> dict[str, Any]:
    signature = key.sign(signed_message(body).encode(), ec.ECDSA(hashes.SHA256()))
    return {**body, "attribution-signature": base64.b64encode(signature).decode()}


def skan4(app_store_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": "4.0",
        "ad-network-id": "example123.skadnetwork",
        "source-identifier": "5239",
        "app-id": int(app_store_id),
        "transaction-id": str(uuid.uuid4()),
        "redownload": False,
        "source-app-id": 1234567891,
        "fidelity-type": 1,
        "did-win": True,
        "postback-sequence-index": 0,
        "conversion-value": 20,
    }
    body.update(fields)
    return sign_skan({k: v for k, v in body.items() if v is not None})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def aak_jws(claims: dict[str, Any], kid: str = "apple-cas-identifier/0") -> str:
    head = _b64url(json.dumps({"alg": "ES256", "kid": kid}).encode())
    payload = _b64url(json.dumps(claims).encode())
    der = PRIVATE.sign(f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    return f"{head}.{payload}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
