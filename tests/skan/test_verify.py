"""Signature checks against Apple's own example postbacks and the published key."""

from __future__ import annotations

from referkit.skan.verify import parse

# Apple's documented 2.2 example (combining-parameters-for-previous-skadnetwork-postback-versions).
APPLE_22 = {
    "version": "2.2",
    "ad-network-id": "com.example",
    "campaign-id": 42,
    "transaction-id": "6aafb7a5-0170-41b5-bbe4-fe71dedf1e28",
    "app-id": 525463029,
    "attribution-signature": "MEYCIQDTuQ1Z4Tpy9D3aEKbxLl5J5iKiTumcqZikuY/AOD2U7QIhAJAaiAv89Ao"
    "quHXJffcieEQXdWHpcV8ZgbKN0EwV9/sY",
    "redownload": True,
    "source-app-id": 1234567891,
    "fidelity-type": 1,
    "conversion-value": 20,
}

# Apple's 4.0 example (web ad: source-domain instead of source-app-id).
APPLE_40 = {
    "version": "4.0",
    "ad-network-id": "com.example",
    "source-identifier": "39",
    "app-id": 525463029,
    "transaction-id": "6aafb7a5-0170-41b5-bbe4-fe71dedf1e31",
    "redownload": False,
    "source-domain": "example.com",
    "fidelity-type": 1,
    "did-win": True,
    "coarse-conversion-value": "high",
    "postback-sequence-index": 0,
    "attribution-signature": "MEUCIQD4rX6eh38qEhuUKHdap345UbmlzA7KEZ1bhWZuYM8MJwIgMnyiiZe6h"
    "eabDkGwOaKBYrUXQhKtF3P/ERHqkR/XpuA=",
}


def test_apple_examples_verify_with_apples_key() -> None:
    for body in (APPLE_22, APPLE_40):
        postback = parse(body, [])
        assert postback.verified, postback.verification
        assert postback.verification == "verified with apple"


def test_conversion_values_are_not_signed_but_signed_fields_are() -> None:
    assert parse({**APPLE_40, "coarse-conversion-value": "low"}, []).verified
    assert not parse({**APPLE_40, "did-win": False}, []).verified
    assert not parse({**APPLE_22, "redownload": False}, []).verified
    missing = parse({k: v for k, v in APPLE_22.items() if k != "fidelity-type"}, [])
    assert missing.verification == "missing signed field fidelity-type"
    garbled = parse({**APPLE_22, "attribution-signature": "***"}, [])
    assert garbled.verification == "attribution-signature is not base64"
