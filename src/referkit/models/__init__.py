"""All ORM models, in one package so domains never import each other's tables."""

from referkit.models.api_key import ApiKey
from referkit.models.member import Member
from referkit.models.program import Program
from referkit.models.referral import Referral
from referkit.models.workspace import Workspace

__all__ = ["ApiKey", "Member", "Program", "Referral", "Workspace"]
