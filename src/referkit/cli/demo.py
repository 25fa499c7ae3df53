"""Demo data for ``referkit serve --demo``: a program, referrers and referrals in every status.

Seeding is idempotent (it checks for the demo program by slug). The demo key is issued once: its
secret is kept in ``<data dir>/demo-key.json`` (mode 0600, beside the generated secret key) so
every later run prints the same key. The database holds only its hash, as for every key. If that
key was revoked or regenerated, or the file is gone, a new demo key replaces it and the keys the
demo issued before are revoked, so exactly one demo key works at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from referkit.auth.principal import Mode, Principal, Scope
from referkit.auth.service import AuthService
from referkit.cli.common import ensure_schema, unit_of_work
from referkit.config import Settings
from referkit.dashboard.service import Role, UserService
from referkit.member.schemas import MemberCreate
from referkit.member.service import MemberService
from referkit.program.repository import ProgramRepository
from referkit.program.schemas import ProgramCreate, Qualification, RewardRuleInput
from referkit.program.service import ProgramService
from referkit.referral.schemas import RefereeInput, ReferralCreate, ReferralUpdate
from referkit.referral.service import ReferralService
from referkit.referral.states import ReferralStatus
from referkit.workspace.service import WorkspaceService

DEMO_WORKSPACE = "Demo"
DEMO_EMAIL = "demo@example.com"
DEMO_SLUG = "demo-give-20-get-20"
DEMO_KEY_NAME = "Demo key"
DEMO_KEY_FILE = "demo-key.json"

_MEMBERS = [
    ("ada@example.com", "user_ada", "Ada Lovelace"),
    ("grace@example.com", "user_grace", "Grace Hopper"),
    ("linus@example.com", "user_linus", "Linus Pauling"),
]
_FRIENDS: list[tuple[int, str, str, ReferralStatus]] = [
    (0, "marie@example.com", "Marie Curie", ReferralStatus.approved),
    (0, "alan@example.com", "Alan Turing", ReferralStatus.qualified),
    (0, "emmy@example.com", "Emmy Noether", ReferralStatus.pending),
    (1, "katherine@example.com", "Katherine Johnson", ReferralStatus.qualified),
    (1, "barbara@example.com", "Barbara Liskov", ReferralStatus.denied),
    (2, "rosalind@example.com", "Rosalind Franklin", ReferralStatus.pending),
]


async def _seed(session: AsyncSession, principal: Principal) -> None:
    exists = await ProgramRepository(session).slug_taken(principal.workspace_id, True, DEMO_SLUG)
    if exists:
        return
    program = await ProgramService(session).create(
        principal,
        ProgramCreate(
            name="Demo: give $20, get $20",
            slug=DEMO_SLUG,
            landing_url="https://example.com/signup",
            qualification=Qualification(min_amount=5000, currency="USD", within_days=30),
            reward_rules=[
                RewardRuleInput(
                    recipient="referrer",
                    trigger="referral_qualified",
                    kind="cash",
                    amount=2000,
                    currency="USD",
                    hold_days=14,
                    description="$20 for each friend who buys",
                ),
                RewardRuleInput(
                    recipient="referee",
                    trigger="referral_qualified",
                    kind="credit",
                    amount=2000,
                    currency="USD",
                    description="$20 off for the friend",
                ),
            ],
        ),
    )
    members = MemberService(session)
    codes = []
    for email, external_id, name in _MEMBERS:
        result = await members.create_or_fetch(
            principal, program.id, MemberCreate(email=email, external_id=external_id, name=name)
        )
        codes.append(result.member.referral_code)
    referrals = ReferralService(session)
    for index, email, name, status in _FRIENDS:
        referral = await referrals.create(
            principal,
            ReferralCreate(
                referral_code=codes[index], referee=RefereeInput(email=email, name=name)
            ),
        )
        if status is not ReferralStatus.pending:
            await referrals.update(principal, referral.id, ReferralUpdate(status=status))


def _saved_key(path: Path) -> dict[str, str] | None:
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    fields = ("key_id", "public_key", "secret")
    if not isinstance(saved, dict) or not all(isinstance(saved.get(f), str) for f in fields):
        return None
    return {f: saved[f] for f in fields}


def _save_key(path: Path, key: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(key, handle)
    temporary.replace(path)


async def _demo_key(session: AsyncSession, workspace_id: str, path: Path) -> dict[str, str]:
    """The saved demo key while it still authenticates, else a new one (older ones revoked)."""
    auth = AuthService(session)
    saved = _saved_key(path)
    if saved is not None:
        active = await auth.identify(f"Bearer {saved['secret']}")
        if active is not None and active.id == saved["key_id"]:
            return saved
    await auth.revoke_named(workspace_id, DEMO_KEY_NAME)
    issued = await auth.issue_key(
        workspace_id, name=DEMO_KEY_NAME, scope=Scope.full, mode=Mode.live
    )
    key = {"key_id": issued.key.id, "public_key": issued.key.public_key, "secret": issued.secret}
    _save_key(path, key)
    return key


async def seed_demo(settings: Settings) -> dict[str, str]:
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        workspace, _ = await WorkspaceService(session).get_or_create(DEMO_WORKSPACE)
        key = await _demo_key(session, workspace.id, settings.data_dir / DEMO_KEY_FILE)
        principal = Principal(workspace.id, key["key_id"], Scope.full, True)
        await _seed(session, principal)
        password = demo_password(settings)
        await _demo_user(session, workspace.id, password)
    return {
        "dashboard_email": DEMO_EMAIL,
        "dashboard_password": password,
        "workspace_id": workspace.id,
        **key,
    }


def demo_password(settings: Settings) -> str:
    """The demo user's password: derived from the data directory's secret key, so every
    ``--demo`` run on the same data prints (and accepts) the same one."""
    digest = hmac.new(settings.signing_key, b"referkit demo dashboard user", hashlib.sha256)
    return "demo-" + digest.hexdigest()[:16]


async def _demo_user(session: AsyncSession, workspace_id: str, password: str) -> None:
    users = UserService(session)
    user = await users.by_email(DEMO_EMAIL)
    if user is None:
        user = await users.create(DEMO_EMAIL, password, "Demo admin")
    else:
        await users.set_password(user, password)  # the secret key may have changed
    await users.grant(user.id, workspace_id, Role.admin)
