"""Referral Rock's API under ``/api/…`` (api.referralrock.com/Help): change the base URL."""

from referkit.compat.referral_rock import access, hooks, members, referrals
from referkit.compat.referral_rock.common import router

__all__ = ["access", "hooks", "members", "referrals", "router"]
