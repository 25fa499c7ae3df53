"""Demo data for ``referkit serve --demo``: a program, referrers and referrals in every status.

Seeding is idempotent (it checks for the demo program by slug); a new full key is issued on
every run because secrets can only be shown when they are created.
"""

from __future__ import annotations

import hashlib
import hmac

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


async def seed_demo(settings: Settings) -> dict[str, str]:
    await ensure_schema(settings)
    async with unit_of_work(settings) as session:
        workspace, _ = await WorkspaceService(session).get_or_create(DEMO_WORKSPACE)
        issued = await AuthService(session).issue_key(
            workspace.id, name="Demo key", scope=Scope.full, mode=Mode.live
        )
        principal = Principal(workspace.id, issued.key.id, Scope.full, True)
        await _seed(session, principal)
        password = demo_password(settings)
        await _demo_user(session, workspace.id, password)
    return {
        "dashboard_email": DEMO_EMAIL,
        "dashboard_password": password,
        "workspace_id": workspace.id,
        "key_id": issued.key.id,
        "public_key": issued.key.public_key,
        "secret": issued.secret,
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
