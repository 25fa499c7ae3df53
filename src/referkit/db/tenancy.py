"""Which tables belong to a workspace, and what that promises about their keys.

Referkit is built so a PostgreSQL cluster sharded by workspace (Citus) can hold it without code
changes. Citus places every row of a *distributed* table on the shard of its distribution
column (``workspace_id`` here), so it can only enforce a primary key or a unique constraint
that contains that column, and a foreign key between two distributed tables only when both
sides carry it. Tables that have no workspace, or that must be found before the workspace is
known, are *reference* tables instead: one copy on every node (Citus allows a foreign key from
a distributed table to a reference table, never the other way).

``tests/db/test_tenant_keys.py`` checks the models and the migrated database of both backends
against these lists, and ``docs/scaling.md`` gives the commands in the order below.
Every table must appear in exactly one list.
"""

from __future__ import annotations

DISTRIBUTION_COLUMN = "workspace_id"

REFERENCE_TABLES: dict[str, str] = {
    "workspaces": "the tenant itself: every distributed table's workspace_id refers to it",
    "api_keys": (
        "an API request is resolved to its workspace by the key's public key or secret hash, "
        "so the lookup must work before any workspace is known (a few rows per workspace)"
    ),
    "dashboard_users": "a person may belong to several workspaces; sign-in is by email",
    "dashboard_memberships": (
        "read by user (which workspaces may this person open) as well as by workspace"
    ),
    "dashboard_sessions": "found by the cookie's token hash before the workspace is known",
    "dashboard_invites": "accepted by the token hash in the link, before any session exists",
    "codes": (
        "/r/{code} names no workspace: the redirect finds the code's workspace here first, "
        "and a new link or member claims its code here, in the same transaction, so codes stay "
        "unique across the installation while links and members hold them per workspace"
    ),
}
"""Tables created with ``create_reference_table``, with the reason for each."""

DISTRIBUTED_TABLES: tuple[str, ...] = (
    # Parents before children: the order ``create_distributed_table`` must follow so every
    # foreign key finds its (co-located) parent already distributed.
    "programs",
    "members",
    "referrals",
    "rewards",
    "ledger_entries",
    "coupons",
    "customers",
    "links",
    "rollups",
    "reward_rollups",
    "dimension_rollups",
    "erasures",
    "idempotency_keys",
    "webhook_endpoints",
    "webhook_messages",
    "webhook_attempts",
    "apps",
    "app_clicks",
    "app_devices",
    "app_rollups",
    "app_integrations",
    "integration_forwards",
    "integration_attempts",
    "skan_schemas",
    # Monthly partitions on PostgreSQL (0023), keyed (workspace_id, id, created_at) there and
    # (workspace_id, id) on SQLite (0028); orphan clicks of unknown codes have workspace ''.
    "clicks",
    "events",
    # Keyed (key, workspace_id): the key starts with the hour, so the hourly purge is a range.
    "reach_marks",
    # Apple's postbacks name an app, not a workspace: the app is found by its App Store id
    # before the row is stored, and the row is its workspace's; one that matches no app is
    # kept in workspace '' (as orphan clicks are), for the operator, never counted.
    "skan_postbacks",
)
"""Tables distributed by ``workspace_id``: every key of theirs contains it."""

OWNED_ELSEWHERE: dict[str, str] = {}
"""Distributed tables whose own keys another change defines (none now): the check skips their
own keys, but foreign keys that point at them are held to the distributed-table rule."""

NOT_YET: dict[str, str] = {}
"""Tenant tables that cannot be distributed yet, and why (none now): the check reports them,
fails nothing."""

GLOBAL_UNIQUE_NOT_YET: dict[tuple[str, tuple[str, ...]], str] = {}
"""Unique constraints of distributed tables that are not per workspace yet (none now; the
link and member codes' namespace lives in the ``codes`` reference table)."""
