"""Money on the wire is an integer of minor units; how many of them make one major unit
depends on the ISO 4217 currency (JPY has none, KWD has three, most have two).

Every face that shows or forwards an amount in major units (the embed, the dashboard, the
Referral Rock API, ad-network requests) asks here, so a currency is never scaled two ways.
"""

from __future__ import annotations

ZERO_DECIMAL = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
        "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def decimals(currency: str) -> int:
    """The number of minor-unit digits of ``currency`` (2 unless ISO 4217 says otherwise)."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    return 3 if code in THREE_DECIMAL else 2


def to_major(amount: int, currency: str) -> int | float:
    """``amount`` minor units in major units: ``2500 USD`` → ``25.0``; ``500 JPY`` → ``500``."""
    digits = decimals(currency)
    return amount if digits == 0 else round(amount / 10**digits, digits)
