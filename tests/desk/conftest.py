import pytest

from changes import services as change_services
from opsdesk.choices import Role
from tests.factories import ChangeRequestFactory, IncidentFactory, TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Attachments go to a fresh folder per test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def desk(db):
    return UserFactory(username="desk", roles=[Role.SERVICE_DESK])


@pytest.fixture
def outsider(db):
    """Service Desk, but in no team: sees no confidential incident."""
    return UserFactory(username="outsider", roles=[Role.SERVICE_DESK])


@pytest.fixture
def security_team(db):
    member = UserFactory(username="sec", roles=[Role.SERVICE_DESK])
    return TeamFactory(name="Security", members=[member])


@pytest.fixture
def confidential(security_team):
    return IncidentFactory(
        title="Payments API credential leak", description="Token found in a public gist.",
        confidential=True, team=security_team,
    )


@pytest.fixture
def submitted_change(db):
    """``submitted_change(**fields)``: a normal change submitted by a Change Manager."""
    manager = UserFactory(roles=[Role.CHANGE_MANAGERS])

    def make(**fields):
        change = ChangeRequestFactory(**fields)
        return change_services.change_transition(instance=change, name="submit", by=manager)

    return make
