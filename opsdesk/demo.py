"""Demo data for the kernel: users per role, teams, services; and the context the apps' seeds use.

``manage.py seed_demo`` calls :func:`seed_kernel` and then each app's
``<app>.demo.seed(ctx)`` with the :class:`DemoContext` it returns.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from .choices import Criticality, Role
from .models import Service, Team

User = get_user_model()

DEMO_EMAIL_DOMAIN = "opsdesk.example"
CREDENTIALS_FILE = Path(settings.BASE_DIR) / "var" / "demo-credentials.txt"
# Always the same demo history for the same code: the apps draw from this seed.
DEMO_RANDOM_SEED = 20260101


@dataclass
class DemoContext:
    """What every app's ``demo.seed(ctx)`` gets: who, which teams and services, and the clock."""

    rng: random.Random
    now: datetime
    users: dict[str, list] = field(default_factory=dict)
    teams: list[Team] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    admin: object | None = None

    def user(self, role: str):
        """The first (named) demo user of a role."""
        return self.users[role][0]


@dataclass(frozen=True)
class DemoLogin:
    """One demo login, as printed and written to ``var/demo-credentials.txt``."""

    username: str
    password: str
    roles: str


# username, first name, last name, role, staff (uses the admin)
NAMED_USERS: list[tuple[str, str, str, str, bool]] = [
    ("desk", "Dana", "Desk", Role.SERVICE_DESK, False),
    ("incidentmgr", "Ines", "Morgan", Role.INCIDENT_MANAGERS, True),
    ("changemgr", "Chris", "Hale", Role.CHANGE_MANAGERS, True),
    ("techlead", "Tara", "Lindqvist", Role.TECH_LEADS, True),
    ("productowner", "Pavel", "Owens", Role.PRODUCT_OWNERS, True),
    ("opsmgr", "Olga", "Marsh", Role.OPS_MANAGERS, True),
    ("releasemgr", "Ravi", "Menon", Role.RELEASE_MANAGERS, False),
    ("apireader", "Alex", "Reed", Role.API_READERS, False),
]
# Deputies on the board: they decide when the named approver requested the change. No login
# (an unusable password), so they are not printed with the demo logins.
DEPUTIES: list[tuple[str, str, str, str]] = [
    ("tomas.wright", "Tomas", "Wright", Role.TECH_LEADS),
    ("petra.novak", "Petra", "Novak", Role.PRODUCT_OWNERS),
    ("oscar.diaz", "Oscar", "Diaz", Role.OPS_MANAGERS),
]
ADMIN_USERNAME = "admin"
DEMO_USERNAMES = [ADMIN_USERNAME, *(row[0] for row in NAMED_USERS)]

# name, email local part, (lead, members...) as usernames; extra staff are created on the fly.
TEAMS: list[tuple[str, str, list[str]]] = [
    ("Service Desk", "servicedesk", ["desk", "sam.patel", "lena.kovacs"]),
    ("Platform Operations", "platform", ["opsmgr", "incidentmgr", "omar.haddad", "julia.berg", "kai.nakamura"]),
    ("Network Engineering", "network", ["techlead", "noah.fischer", "maya.cohen"]),
    ("Business Applications", "apps", ["productowner", "releasemgr", "emma.rossi", "luis.garcia", "ada.okafor"]),
    ("Database Administration", "dba", ["changemgr", "priya.shah", "tom.becker"]),
]

# name, slug, owner team, criticality, description
SERVICES: list[tuple[str, str, str, str, str]] = [
    ("Customer Portal", "customer-portal", "Business Applications", Criticality.CRITICAL,
     "The public self-service portal where customers manage their accounts."),
    ("Payments API", "payments-api", "Business Applications", Criticality.CRITICAL,
     "Card and SEPA payment processing used by the portal and the shops."),
    ("Email", "email", "Platform Operations", Criticality.HIGH, "Corporate email and calendars."),
    ("VPN", "vpn", "Network Engineering", Criticality.HIGH, "Remote access for staff and suppliers."),
    ("Core Network", "core-network", "Network Engineering", Criticality.CRITICAL,
     "Data-centre switching, routing and firewalls."),
    ("HR System", "hr-system", "Business Applications", Criticality.MEDIUM,
     "Payroll, leave and personnel records."),
    ("Data Warehouse", "data-warehouse", "Database Administration", Criticality.MEDIUM,
     "Nightly reporting and analytics."),
    ("Identity & SSO", "identity-sso", "Platform Operations", Criticality.HIGH,
     "Single sign-on and directory for every internal application."),
]


def demo_data_present() -> bool:
    """Whether the demo users exist in this database already."""
    return User.objects.filter(username__in=DEMO_USERNAMES).exists()


def _password() -> str:
    return secrets.token_urlsafe(9)


def _email(username: str) -> str:
    return f"{username}@{DEMO_EMAIL_DOMAIN}"


@transaction.atomic
def seed_kernel(*, now: datetime | None = None) -> tuple[DemoContext, list[DemoLogin]]:
    """Create the demo users (one per role, extra staff, a superuser), teams and services.

    Returns the context for the apps' seeds and the logins with their new random passwords.
    """
    now = now or timezone.now()
    groups = {group.name: group for group in Group.objects.filter(name__in=Role.values)}
    missing = sorted(set(Role.values) - set(groups))
    if missing:
        raise RuntimeError(f"Role groups missing (run migrate first): {', '.join(missing)}")

    ctx = DemoContext(rng=random.Random(DEMO_RANDOM_SEED), now=now, users={role: [] for role in Role.values})
    logins: list[DemoLogin] = []
    users_by_name = {}

    admin_password = _password()
    admin = User.objects.create_superuser(
        username=ADMIN_USERNAME,
        email=_email(ADMIN_USERNAME),
        password=admin_password,
        first_name="Ada",
        last_name="Admin",
    )
    ctx.admin = admin
    logins.append(DemoLogin(ADMIN_USERNAME, admin_password, "superuser"))
    users_by_name[ADMIN_USERNAME] = admin

    for username, first, last, role, staff in NAMED_USERS:
        password = _password()
        user = User.objects.create_user(
            username=username,
            email=_email(username),
            password=password,
            first_name=first,
            last_name=last,
            is_staff=staff,
        )
        user.groups.add(groups[role])
        ctx.users[role].append(user)
        users_by_name[username] = user
        logins.append(DemoLogin(username, password, role + (" (admin)" if staff else "")))

    for username, first, last, role in DEPUTIES:
        deputy = User.objects.create_user(username=username, email=_email(username), password=None,
                                          first_name=first, last_name=last)
        deputy.groups.add(groups[role])
        ctx.users[role].append(deputy)

    # Extra engineers who work incidents in their team: Service Desk permissions.
    for _team, _local, usernames in TEAMS:
        for username in usernames:
            if username in users_by_name:
                continue
            first, last = (part.capitalize() for part in username.split("."))
            password = _password()
            user = User.objects.create_user(
                username=username, email=_email(username), password=password, first_name=first, last_name=last
            )
            user.groups.add(groups[Role.SERVICE_DESK])
            ctx.users[Role.SERVICE_DESK].append(user)
            users_by_name[username] = user
            logins.append(DemoLogin(username, password, Role.SERVICE_DESK))

    teams_by_name = {}
    for name, local, usernames in TEAMS:
        members = [users_by_name[u] for u in usernames]
        team = Team.objects.create(name=name, email=f"{local}@{DEMO_EMAIL_DOMAIN}", lead=members[0])
        team.members.add(*members)
        teams_by_name[name] = team
        ctx.teams.append(team)

    for name, slug, team, criticality, description in SERVICES:
        ctx.services.append(
            Service.objects.create(
                name=name, slug=slug, owner_team=teams_by_name[team], criticality=criticality, description=description
            )
        )
    return ctx, logins


def write_credentials(logins: list[DemoLogin], path: Path | None = None) -> Path:
    """Write the demo logins to ``path``, readable by the owner only (``make run`` shows them again)."""
    path = path or CREDENTIALS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    lines = ["# OpsDesk demo logins (username, password, role). Demo data only: never use in production."]
    lines += [f"{login.username}\t{login.password}\t{login.roles}" for login in logins]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_credentials(path: Path | None = None) -> list[DemoLogin]:
    """The logins written by :func:`write_credentials` (empty when there is no file)."""
    path = path or CREDENTIALS_FILE
    if not path.exists():
        return []
    logins = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        username, password, roles = (line.split("\t") + ["", ""])[:3]
        logins.append(DemoLogin(username, password, roles))
    return logins


def format_logins(logins: list[DemoLogin]) -> str:
    """A table of logins for the terminal."""
    width = max((len(login.username) for login in logins), default=8)
    return "\n".join(f"  {login.username:<{width}}  {login.password:<14}  {login.roles}" for login in logins)
