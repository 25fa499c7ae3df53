"""Small helpers for the English in messages."""

from __future__ import annotations


def with_article(word: str, *, capital: bool = False) -> str:
    """``word`` after "a" or "an" (by its first letter, which suits every status name we have:
    "an approved referral", "a pending reward")."""
    article = "an" if word[:1].lower() in "aeiou" else "a"
    return f"{article.capitalize() if capital else article} {word}"
