from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, status

from referkit.auth.dependencies import ReadPrincipal, Session, WritePrincipal
from referkit.customer.schemas import Customer, CustomerExport
from referkit.customer.service import CustomerService
from referkit.db.session import APIRouter, replica_reads
from referkit.kit.pagination import Page, PageParams, page_params
from referkit.openapi import problems

router = APIRouter(prefix="/customers", tags=["Customers"])


@router.get("", summary="List customers, or find one by email or external id")
@replica_reads
async def list_customers(
    principal: ReadPrincipal,
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    email: Annotated[str | None, Query(max_length=320, description="Any letter case.")] = None,
    external_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[Customer]:
    rows, meta = await CustomerService(session).list(
        principal, page, email=email, external_id=external_id
    )
    return Page[Customer](data=[Customer.model_validate(r) for r in rows], meta=meta)


@router.get("/{customer_id}", summary="Get a customer", responses=problems(404))
async def get_customer(customer_id: str, principal: ReadPrincipal, session: Session) -> Customer:
    return Customer.model_validate(await CustomerService(session).get(principal, customer_id))


@router.get(
    "/{customer_id}/export",
    summary="Export everything stored about a customer (full-scope keys)",
    description="The customer, their events (with IP, user agent and visitor cookie), the "
    "referrals where they are the referee, the rewards they receive, and the clicks linked to "
    "them: a GDPR access or portability request answered in one document.",
    responses=problems(404),
)
async def export_customer(
    customer_id: str, principal: WritePrincipal, session: Session
) -> CustomerExport:
    return await CustomerService(session).export(principal, customer_id)


@router.delete(
    "/{customer_id}",
    summary="Erase a customer's personal data everywhere",
    description="Removes the customer and erases their email, external id, name, IPs, user "
    "agents, visitor cookies and event properties from events, clicks, referrals, rewards, "
    "webhook message bodies and stored responses. Counts, revenue and stats stay the same. "
    "The erasure is recorded (`GET /erasures`) and sent as a `customer.erased` webhook.",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(404),
)
async def delete_customer(customer_id: str, principal: WritePrincipal, session: Session) -> None:
    await CustomerService(session).erase(principal, customer_id)
