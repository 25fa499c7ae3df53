"""Referkit: self-hostable referral programs and attribution."""

__version__ = "0.1.0"
