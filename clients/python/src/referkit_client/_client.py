"""``Referkit`` (sync) and ``AsyncReferkit``: the same methods, from the same operations.

Each method is bound from an operation in ``_operations`` by ``_sync``/``_async`` (or
``_sync_pages``/``_async_pages`` for ``iter_*`` methods that follow ``meta.cursor``), so a
signature, a path and a body are written once; the two classes differ only in how they send.
Tests inject an ``httpx`` client (``http_client=``), e.g. one with an ASGI transport.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from referkit_client import _app_operations as apps
from referkit_client import _network_operations as networks
from referkit_client import _operations as ops
from referkit_client._core import DEFAULT_BASE_URL, USER_AGENT, Call, Retry, check
from referkit_client.errors import APIConnectionError, APIStatusError
from referkit_client.models import Page

P = ParamSpec("P")
T = TypeVar("T")


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT}


def _sync(op: Callable[P, Call[T]]) -> Callable[Concatenate[Referkit, P], T]:
    def method(self: Referkit, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(op(*args, **kwargs))

    method.__name__, method.__doc__ = op.__name__, op.__doc__
    return method


def _async(
    op: Callable[P, Call[T]],
) -> Callable[Concatenate[AsyncReferkit, P], Coroutine[Any, Any, T]]:
    async def method(self: AsyncReferkit, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(op(*args, **kwargs))

    method.__name__, method.__doc__ = op.__name__, op.__doc__
    return method


def _sync_pages(op: Callable[P, Call[Page[T]]]) -> Callable[Concatenate[Referkit, P], Iterator[T]]:
    def method(self: Referkit, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        call = op(*args, **kwargs)
        while True:
            page = self._run(call)
            yield from page.data
            if not page.meta.has_more or not page.meta.cursor:
                return
            call = call.with_params(cursor=page.meta.cursor)

    method.__name__ = "iter_" + op.__name__.removeprefix("list_")
    return method


def _async_pages(
    op: Callable[P, Call[Page[T]]],
) -> Callable[Concatenate[AsyncReferkit, P], AsyncIterator[T]]:
    async def method(self: AsyncReferkit, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        call = op(*args, **kwargs)
        while True:
            page = await self._run(call)
            for item in page.data:
                yield item
            if not page.meta.has_more or not page.meta.cursor:
                return
            call = call.with_params(cursor=page.meta.cursor)

    method.__name__ = "iter_" + op.__name__.removeprefix("list_")
    return method


class _Base:
    retry: Retry

    @staticmethod
    def _failed(error: Exception) -> Exception:
        if isinstance(error, httpx.TransportError):
            return APIConnectionError(f"{type(error).__name__}: {error}")
        return error


class Referkit(_Base):
    """The synchronous client: ``Referkit(api_key="rk_live_…", base_url="https://…")``."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        retry: Retry | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.retry = retry or Retry()
        self._http = http_client or httpx.Client(base_url=base_url, timeout=timeout)
        self._http.headers.update(_headers(api_key))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Referkit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, call: Call[T]) -> T:
        key = self.retry.idempotency_key(call)
        attempt = 0
        while True:
            try:
                response = self._http.send(call.request(self._http, key))
                check(response)
                return call.parse(response)
            except (httpx.TransportError, APIStatusError) as error:
                if not self.retry.should_retry(attempt, error):
                    raise self._failed(error) from error
                time.sleep(self.retry.delay(attempt, error))
                attempt += 1

    # Operations (one per OpenAPI operationId) ----------------------------------------------

    healthz = _sync(ops.healthz)
    readyz = _sync(ops.readyz)
    get_workspace = _sync(ops.get_workspace)
    update_workspace = _sync(ops.update_workspace)
    delete_test_data = _sync(ops.delete_test_data)
    list_keys = _sync(ops.list_keys)
    get_key = _sync(ops.get_key)
    create_key = _sync(ops.create_key)
    update_key = _sync(ops.update_key)
    revoke_key = _sync(ops.revoke_key)
    regenerate_key = _sync(ops.regenerate_key)
    list_programs = _sync(ops.list_programs)
    create_program = _sync(ops.create_program)
    get_program = _sync(ops.get_program)
    update_program = _sync(ops.update_program)
    delete_program = _sync(ops.delete_program)
    create_member = _sync(ops.create_member)
    list_members = _sync(ops.list_members)
    get_member = _sync(ops.get_member)
    update_member = _sync(ops.update_member)
    delete_member = _sync(ops.delete_member)
    get_member_stats = _sync(ops.get_member_stats)
    member_balances = _sync(ops.member_balances)
    member_ledger = _sync(ops.member_ledger)
    create_referral = _sync(ops.create_referral)
    list_referrals = _sync(ops.list_referrals)
    get_referral = _sync(ops.get_referral)
    update_referral = _sync(ops.update_referral)
    list_rewards = _sync(ops.list_rewards)
    create_reward = _sync(ops.create_reward)
    get_reward = _sync(ops.get_reward)
    issue_reward = _sync(ops.issue_reward)
    cancel_reward = _sync(ops.cancel_reward)
    list_coupon_pools = _sync(ops.list_coupon_pools)
    upload_coupons = _sync(ops.upload_coupons)
    list_links = _sync(ops.list_links)
    create_link = _sync(ops.create_link)
    get_link = _sync(ops.get_link)
    update_link = _sync(ops.update_link)
    delete_link = _sync(ops.delete_link)
    get_link_qr = _sync(ops.get_link_qr)
    create_event = _sync(ops.create_event)
    create_events_batch = _sync(ops.create_events_batch)
    list_events = _sync(ops.list_events)
    get_program_stats = _sync(ops.get_program_stats)
    get_program_leaderboard = _sync(ops.get_program_leaderboard)
    get_link_stats = _sync(ops.get_link_stats)
    get_program_breakdown = _sync(ops.get_program_breakdown)
    list_webhooks = _sync(ops.list_webhooks)
    create_webhook = _sync(ops.create_webhook)
    get_webhook = _sync(ops.get_webhook)
    update_webhook = _sync(ops.update_webhook)
    delete_webhook = _sync(ops.delete_webhook)
    test_webhook = _sync(ops.test_webhook)
    rotate_webhook_secret = _sync(ops.rotate_webhook_secret)
    list_webhook_messages = _sync(ops.list_webhook_messages)
    retry_webhook_message = _sync(ops.retry_webhook_message)
    subscribe_hook = _sync(ops.subscribe_hook)
    hook_samples = _sync(ops.hook_samples)
    unsubscribe_hook = _sync(ops.unsubscribe_hook)
    create_member_embed_token = _sync(ops.create_member_embed_token)
    create_program_embed_token = _sync(ops.create_program_embed_token)
    get_embed_me = _sync(ops.get_embed_me)
    list_apps = _sync(apps.list_apps)
    create_app = _sync(apps.create_app)
    get_app = _sync(apps.get_app)
    update_app = _sync(apps.update_app)
    delete_app = _sync(apps.delete_app)
    create_client_key = _sync(apps.create_client_key)
    list_app_links = _sync(apps.list_app_links)
    create_app_link = _sync(apps.create_app_link)
    get_app_link = _sync(apps.get_app_link)
    update_app_link = _sync(apps.update_app_link)
    delete_app_link = _sync(apps.delete_app_link)
    create_install = _sync(apps.create_install)
    app_stats = _sync(apps.app_stats)
    app_events = _sync(apps.app_events)
    app_overview = _sync(apps.app_overview)
    portfolio = _sync(apps.portfolio)
    apple_app_site_association = _sync(apps.apple_app_site_association)
    asset_links = _sync(apps.asset_links)
    list_customers = _sync(apps.list_customers)
    get_customer = _sync(apps.get_customer)
    export_customer = _sync(apps.export_customer)
    delete_customer = _sync(apps.delete_customer)
    list_erasures = _sync(apps.list_erasures)
    list_integrations = _sync(networks.list_integrations)
    put_integrations = _sync(networks.put_integrations)
    forwarding_log = _sync(networks.forwarding_log)
    retry_forward = _sync(networks.retry_forward)
    dry_run = _sync(networks.dry_run)
    get_skan_schema = _sync(networks.get_skan_schema)
    put_skan_schema = _sync(networks.put_skan_schema)
    skan_value = _sync(networks.skan_value)
    receive_postback = _sync(networks.receive_postback)

    # Iterators that follow meta.cursor ------------------------------------------------------

    iter_keys = _sync_pages(ops.list_keys)
    iter_programs = _sync_pages(ops.list_programs)
    iter_members = _sync_pages(ops.list_members)
    iter_referrals = _sync_pages(ops.list_referrals)
    iter_rewards = _sync_pages(ops.list_rewards)
    iter_links = _sync_pages(ops.list_links)
    iter_events = _sync_pages(ops.list_events)
    iter_webhooks = _sync_pages(ops.list_webhooks)
    iter_webhook_messages = _sync_pages(ops.list_webhook_messages)
    iter_member_ledger = _sync_pages(ops.member_ledger)
    iter_apps = _sync_pages(apps.list_apps)
    iter_app_links = _sync_pages(apps.list_app_links)
    iter_app_events = _sync_pages(apps.app_events)
    iter_customers = _sync_pages(apps.list_customers)
    iter_erasures = _sync_pages(apps.list_erasures)
    iter_forwarding_log = _sync_pages(networks.forwarding_log)


class AsyncReferkit(_Base):
    """The asynchronous client: ``async with AsyncReferkit(api_key=…) as rk: …``."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        retry: Retry | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.retry = retry or Retry()
        self._http = http_client or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._http.headers.update(_headers(api_key))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncReferkit:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, call: Call[T]) -> T:
        key = self.retry.idempotency_key(call)
        attempt = 0
        while True:
            try:
                response = await self._http.send(call.request(self._http, key))
                check(response)
                return call.parse(response)
            except (httpx.TransportError, APIStatusError) as error:
                if not self.retry.should_retry(attempt, error):
                    raise self._failed(error) from error
                await asyncio.sleep(self.retry.delay(attempt, error))
                attempt += 1

    # Operations (one per OpenAPI operationId) ----------------------------------------------

    healthz = _async(ops.healthz)
    readyz = _async(ops.readyz)
    get_workspace = _async(ops.get_workspace)
    update_workspace = _async(ops.update_workspace)
    delete_test_data = _async(ops.delete_test_data)
    list_keys = _async(ops.list_keys)
    get_key = _async(ops.get_key)
    create_key = _async(ops.create_key)
    update_key = _async(ops.update_key)
    revoke_key = _async(ops.revoke_key)
    regenerate_key = _async(ops.regenerate_key)
    list_programs = _async(ops.list_programs)
    create_program = _async(ops.create_program)
    get_program = _async(ops.get_program)
    update_program = _async(ops.update_program)
    delete_program = _async(ops.delete_program)
    create_member = _async(ops.create_member)
    list_members = _async(ops.list_members)
    get_member = _async(ops.get_member)
    update_member = _async(ops.update_member)
    delete_member = _async(ops.delete_member)
    get_member_stats = _async(ops.get_member_stats)
    member_balances = _async(ops.member_balances)
    member_ledger = _async(ops.member_ledger)
    create_referral = _async(ops.create_referral)
    list_referrals = _async(ops.list_referrals)
    get_referral = _async(ops.get_referral)
    update_referral = _async(ops.update_referral)
    list_rewards = _async(ops.list_rewards)
    create_reward = _async(ops.create_reward)
    get_reward = _async(ops.get_reward)
    issue_reward = _async(ops.issue_reward)
    cancel_reward = _async(ops.cancel_reward)
    list_coupon_pools = _async(ops.list_coupon_pools)
    upload_coupons = _async(ops.upload_coupons)
    list_links = _async(ops.list_links)
    create_link = _async(ops.create_link)
    get_link = _async(ops.get_link)
    update_link = _async(ops.update_link)
    delete_link = _async(ops.delete_link)
    get_link_qr = _async(ops.get_link_qr)
    create_event = _async(ops.create_event)
    create_events_batch = _async(ops.create_events_batch)
    list_events = _async(ops.list_events)
    get_program_stats = _async(ops.get_program_stats)
    get_program_leaderboard = _async(ops.get_program_leaderboard)
    get_link_stats = _async(ops.get_link_stats)
    get_program_breakdown = _async(ops.get_program_breakdown)
    list_webhooks = _async(ops.list_webhooks)
    create_webhook = _async(ops.create_webhook)
    get_webhook = _async(ops.get_webhook)
    update_webhook = _async(ops.update_webhook)
    delete_webhook = _async(ops.delete_webhook)
    test_webhook = _async(ops.test_webhook)
    rotate_webhook_secret = _async(ops.rotate_webhook_secret)
    list_webhook_messages = _async(ops.list_webhook_messages)
    retry_webhook_message = _async(ops.retry_webhook_message)
    subscribe_hook = _async(ops.subscribe_hook)
    hook_samples = _async(ops.hook_samples)
    unsubscribe_hook = _async(ops.unsubscribe_hook)
    create_member_embed_token = _async(ops.create_member_embed_token)
    create_program_embed_token = _async(ops.create_program_embed_token)
    get_embed_me = _async(ops.get_embed_me)
    list_apps = _async(apps.list_apps)
    create_app = _async(apps.create_app)
    get_app = _async(apps.get_app)
    update_app = _async(apps.update_app)
    delete_app = _async(apps.delete_app)
    create_client_key = _async(apps.create_client_key)
    list_app_links = _async(apps.list_app_links)
    create_app_link = _async(apps.create_app_link)
    get_app_link = _async(apps.get_app_link)
    update_app_link = _async(apps.update_app_link)
    delete_app_link = _async(apps.delete_app_link)
    create_install = _async(apps.create_install)
    app_stats = _async(apps.app_stats)
    app_events = _async(apps.app_events)
    app_overview = _async(apps.app_overview)
    portfolio = _async(apps.portfolio)
    apple_app_site_association = _async(apps.apple_app_site_association)
    asset_links = _async(apps.asset_links)
    list_customers = _async(apps.list_customers)
    get_customer = _async(apps.get_customer)
    export_customer = _async(apps.export_customer)
    delete_customer = _async(apps.delete_customer)
    list_erasures = _async(apps.list_erasures)
    list_integrations = _async(networks.list_integrations)
    put_integrations = _async(networks.put_integrations)
    forwarding_log = _async(networks.forwarding_log)
    retry_forward = _async(networks.retry_forward)
    dry_run = _async(networks.dry_run)
    get_skan_schema = _async(networks.get_skan_schema)
    put_skan_schema = _async(networks.put_skan_schema)
    skan_value = _async(networks.skan_value)
    receive_postback = _async(networks.receive_postback)

    # Iterators that follow meta.cursor ------------------------------------------------------

    iter_keys = _async_pages(ops.list_keys)
    iter_programs = _async_pages(ops.list_programs)
    iter_members = _async_pages(ops.list_members)
    iter_referrals = _async_pages(ops.list_referrals)
    iter_rewards = _async_pages(ops.list_rewards)
    iter_links = _async_pages(ops.list_links)
    iter_events = _async_pages(ops.list_events)
    iter_webhooks = _async_pages(ops.list_webhooks)
    iter_webhook_messages = _async_pages(ops.list_webhook_messages)
    iter_member_ledger = _async_pages(ops.member_ledger)
    iter_apps = _async_pages(apps.list_apps)
    iter_app_links = _async_pages(apps.list_app_links)
    iter_app_events = _async_pages(apps.app_events)
    iter_customers = _async_pages(apps.list_customers)
    iter_erasures = _async_pages(apps.list_erasures)
    iter_forwarding_log = _async_pages(networks.forwarding_log)


OPERATIONS: tuple[str, ...] = (
    "healthz",
    "readyz",
    "get_workspace",
    "update_workspace",
    "delete_test_data",
    "list_keys",
    "get_key",
    "create_key",
    "update_key",
    "revoke_key",
    "regenerate_key",
    "list_programs",
    "create_program",
    "get_program",
    "update_program",
    "delete_program",
    "create_member",
    "list_members",
    "get_member",
    "update_member",
    "delete_member",
    "get_member_stats",
    "member_balances",
    "member_ledger",
    "create_referral",
    "list_referrals",
    "get_referral",
    "update_referral",
    "list_rewards",
    "create_reward",
    "get_reward",
    "issue_reward",
    "cancel_reward",
    "list_coupon_pools",
    "upload_coupons",
    "list_links",
    "create_link",
    "get_link",
    "update_link",
    "delete_link",
    "get_link_qr",
    "create_event",
    "create_events_batch",
    "list_events",
    "get_program_stats",
    "get_program_leaderboard",
    "get_link_stats",
    "get_program_breakdown",
    "list_webhooks",
    "create_webhook",
    "get_webhook",
    "update_webhook",
    "delete_webhook",
    "test_webhook",
    "rotate_webhook_secret",
    "list_webhook_messages",
    "retry_webhook_message",
    "subscribe_hook",
    "hook_samples",
    "unsubscribe_hook",
    "create_member_embed_token",
    "create_program_embed_token",
    "get_embed_me",
    "list_apps",
    "create_app",
    "get_app",
    "update_app",
    "delete_app",
    "create_client_key",
    "list_app_links",
    "create_app_link",
    "get_app_link",
    "update_app_link",
    "delete_app_link",
    "create_install",
    "app_stats",
    "app_events",
    "app_overview",
    "portfolio",
    "apple_app_site_association",
    "asset_links",
    "list_customers",
    "get_customer",
    "export_customer",
    "delete_customer",
    "list_erasures",
    "list_integrations",
    "put_integrations",
    "forwarding_log",
    "retry_forward",
    "dry_run",
    "get_skan_schema",
    "put_skan_schema",
    "skan_value",
    "receive_postback",
)
"""Every operation's name (its OpenAPI operationId); both clients have a method for each."""
