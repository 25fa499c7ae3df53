"""Compatibility faces: Referral Rock (``/api/…``) and Referral Factory (``/api/v2/…``).

Thin translations of another product's paths, field names, envelopes and error shapes onto
the domain services. Nothing here decides anything a service could decide: every rule
(identity, attribution, status transitions, rewards, holds) lives in the domain.
"""
