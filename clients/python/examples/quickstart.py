"""Quickstart: a referrer's link, a referral, approval and the reward (``mypy --strict`` clean)."""

from __future__ import annotations

import asyncio
import os

from referkit_client import AsyncReferkit, InvalidTransitionError, Referkit
from referkit_client.models import MemberCreate, RefereeInput, ReferralCreate


def sync_example(api_key: str, base_url: str, program_id: str) -> str:
    with Referkit(api_key=api_key, base_url=base_url) as rk:
        member = rk.create_member(program_id, MemberCreate(email="jane@example.com", name="Jane"))
        referral = rk.create_referral(
            ReferralCreate(
                referral_code=member.referral_code, referee=RefereeInput(email="sam@example.com")
            )
        )
        try:
            rk.update_referral(referral.id, status="approved")
        except InvalidTransitionError as error:
            print("not approved:", error.detail)
        for reward in rk.iter_rewards(referral_id=referral.id):
            print(reward.id, reward.amount, reward.currency, reward.status)
        return member.referral_link


async def async_example(api_key: str, base_url: str, program_id: str) -> list[str]:
    async with AsyncReferkit(api_key=api_key, base_url=base_url) as rk:
        return [m.referral_code async for m in rk.iter_members(program_id, limit=100)]


if __name__ == "__main__":
    key, url = (
        os.environ["REFERKIT_API_KEY"],
        os.environ.get("REFERKIT_URL", "http://127.0.0.1:8000"),
    )
    program = os.environ["REFERKIT_PROGRAM_ID"]
    print(sync_example(key, url, program))
    print(asyncio.run(async_example(key, url, program)))
