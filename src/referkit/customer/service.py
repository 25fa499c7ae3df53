"""Customers: look one up, export everything stored about them, erase them.

The gathering and the erasure themselves are ``PrivacyService``'s (they cross every table);
this service shapes what the API answers.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Principal
from referkit.customer.schemas import (
    Customer,
    CustomerExport,
    ExportedClick,
    ExportedEvent,
    ExportedReferral,
)
from referkit.kit.email import identity_email
from referkit.kit.pagination import PageMeta, PageParams
from referkit.kit.time import utcnow
from referkit.models import Customer as CustomerRow
from referkit.models import Erasure
from referkit.privacy.service import PrivacyService
from referkit.referral.schemas import referral_view
from referkit.reward.schemas import Reward


class CustomerService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.privacy = PrivacyService(session)

    async def get(self, principal: Principal, customer_id: str) -> CustomerRow:
        return await self.privacy.customer(principal, customer_id)

    async def list(
        self,
        principal: Principal,
        params: PageParams,
        *,
        email: str | None,
        external_id: str | None,
    ) -> tuple[list[CustomerRow], PageMeta]:
        return await self.privacy.customers(
            principal,
            params,
            email_key=identity_email(email) if email else None,
            external_id=external_id,
        )

    async def export(self, principal: Principal, customer_id: str) -> CustomerExport:
        person = await self.privacy.person(principal, customer_id)
        return CustomerExport(
            exported_at=utcnow(),
            customer=Customer.model_validate(person.customer),
            events=[ExportedEvent.model_validate(e) for e in person.events],
            referrals=[
                ExportedReferral(**referral_view(r).model_dump(), ip=r.ip, user_agent=r.user_agent)
                for r in person.referrals
            ],
            rewards=[Reward.model_validate(r) for r in person.rewards],
            clicks=[ExportedClick.model_validate(c) for c in person.clicks],
        )

    async def erase(self, principal: Principal, customer_id: str) -> Erasure:
        return await self.privacy.erase_customer(principal, customer_id)
