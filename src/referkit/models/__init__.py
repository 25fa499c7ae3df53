"""All ORM models, in one package so domains never import each other's tables."""

from referkit.models.api_key import ApiKey
from referkit.models.idempotency_key import IdempotencyKey
from referkit.models.member import Member
from referkit.models.program import Program
from referkit.models.referral import Referral
from referkit.models.workspace import Workspace

__all__ = ["ApiKey", "IdempotencyKey", "Member", "Program", "Referral", "Workspace"]
