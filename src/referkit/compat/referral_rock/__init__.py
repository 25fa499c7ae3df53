"""Referral Rock's API under ``/api/…`` (api.referralrock.com/Help): change the base URL."""

from referkit.compat.referral_rock import hooks, members, referrals
from referkit.compat.referral_rock.common import router

__all__ = ["hooks", "members", "referrals", "router"]
