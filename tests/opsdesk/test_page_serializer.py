"""PageSerializer builds a serializer class's fields once per process (``FieldPlan``): its pages
render as DRF renders each row, whoever asks; what reads the request is bound to each request's
serializer; every class has its own plan; a class that builds its own fields keeps doing so."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from incidents import services
from incidents.api.serializers import CancelReasonOutputField, IncidentSerializer, SeverityField
from incidents.models import Incident
from opsdesk.api.serializers import FieldPlan, PageSerializer, context_free
from opsdesk.choices import Role
from opsdesk.models import Team
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIST = "/api/v1/incidents/"


@pytest.fixture(autouse=True)
def plans(monkeypatch) -> dict:
    """No plan built before the test (nor kept after it); ``plans["built"]`` lists the classes
    whose plan was built, in order."""
    monkeypatch.setattr(FieldPlan, "_plans", {})
    built: list[type] = []
    build = FieldPlan.__init__

    def counted(self, serializer_class):
        built.append(serializer_class)
        build(self, serializer_class)

    monkeypatch.setattr(FieldPlan, "__init__", counted)
    return {"built": built}


def request_of(user) -> Request:
    request = Request(APIRequestFactory().get("/"))
    request.user = user
    return request


def rendered(data) -> list[dict]:
    return json.loads(JSONRenderer().render(data))


def plain(serializer_class, rows, user) -> list[dict]:
    """DRF's own list: every row through ``Serializer.to_representation`` and the fields the
    serializer builds for itself."""
    child = serializer_class()
    assert type(child).Meta.list_serializer_class is PageSerializer  # the plain list is DRF's, not the page's
    page = serializers.ListSerializer(rows, child=child, context={"request": request_of(user)})
    return rendered(page.data)


def paged(serializer_class, rows, user) -> list[dict]:
    page = serializer_class(rows, many=True, context={"request": request_of(user)})
    assert isinstance(page, PageSerializer)
    data = page.data
    assert "fields" not in page.child.__dict__  # the request's serializer built no fields
    return rendered(data)


# --- incidents, through the API -------------------------------------------------------------


@pytest.fixture
def incidents(db):
    """Incidents in every state, resolved ones among them, a minute apart; the clock stands still."""
    manager = UserFactory(roles=[Role.INCIDENT_MANAGERS])
    service = ServiceFactory()
    with time_machine.travel(T0, tick=False) as clock:
        for n, path in enumerate([[], ["acknowledge"], ["acknowledge", "hold"], ["resolve"], ["resolve", "close"],
                                  ["cancel"], ["acknowledge", "resolve"]]):
            clock.move_to(T0 + timedelta(minutes=n))
            incident = IncidentFactory(service=service, title=f"incident {n}")
            for name in path:
                extra = {"resolve": {"resolution_summary": "Fixed"}, "cancel": {"reason": "duplicate"},
                         "close": {"root_cause": "Config", "lessons_learned": "Review"}}.get(name, {})
                incident = services.incident_transition(instance=incident, name=name, by=manager, **extra)
        clock.move_to(T0 + timedelta(hours=3))
        yield


ROLES = [Role.INCIDENT_MANAGERS, Role.API_READERS, Role.SERVICE_DESK, Role.OPS_MANAGERS, Role.INCIDENT_MANAGERS]


def test_the_plan_of_the_list_api_renders_each_users_page_as_drf_does(incidents, api_client, plans):
    pages = []
    for role in ROLES:
        user = UserFactory(roles=[role])
        rows = api_client(user).get(LIST, {"page_size": 50}).json()["results"]
        assert len(rows) == 7
        assert rows == plain(IncidentSerializer, [Incident.objects.get(pk=row["id"]) for row in rows], user)
        pages.append(rows)
    assert plans["built"] == [IncidentSerializer]  # once, by the first request
    # The pages do depend on the user: a plan that kept the first request's would fail above.
    transitions = [{row["title"]: row["available_transitions"] for row in rows} for rows in pages]
    assert transitions[0] == transitions[4] != transitions[1]
    assert transitions[0]["incident 0"] == ["acknowledge", "cancel", "resolve"]
    assert all(names == [] for names in transitions[1].values())  # API readers take no transition
    assert transitions[2]["incident 0"] == ["acknowledge", "resolve"]  # the desk may not cancel


def test_the_plan_renders_instants_in_each_requests_time_zone(incidents, plans):
    user = UserFactory(roles=[Role.INCIDENT_MANAGERS])
    rows = list(Incident.objects.order_by("-detected_at", "-id"))
    utc = paged(IncidentSerializer, rows, user)
    assert utc[0]["detected_at"].endswith("Z")
    with timezone.override("Europe/Berlin"):
        berlin = paged(IncidentSerializer, rows, user)
        assert berlin == plain(IncidentSerializer, rows, user)
    assert berlin[0]["detected_at"].endswith("+01:00")
    assert paged(IncidentSerializer, rows, user) == utc
    assert plans["built"] == [IncidentSerializer]


# --- fields that read the request --------------------------------------------------------------


class ViewerField(serializers.Field):
    """A field of its own that reads the request through its context."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, team):
        return f"{team.name}, seen by {self.context['request'].user.username}"


class TeamPage(serializers.ModelSerializer):
    viewer = ViewerField()
    leads = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "lead", "members", "active", "viewer", "leads"]
        list_serializer_class = PageSerializer

    def get_leads(self, team) -> bool:
        return team.lead_id == self.context["request"].user.pk


class TeamPageWithEmail(TeamPage):
    name = serializers.SerializerMethodField()

    class Meta(TeamPage.Meta):
        fields = [*TeamPage.Meta.fields, "email"]

    def get_name(self, team) -> str:
        return team.name.upper()


class TeamPageForStaff(TeamPage):
    """Fields that depend on the request, built by the class itself."""

    def get_fields(self):
        fields = super().get_fields()
        if not self.context["request"].user.is_staff:
            del fields["lead"]
        return fields


@pytest.fixture
def teams(db):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob", is_staff=True)
    return [TeamFactory(name="Network", lead=alice, members=[alice, bob], email="net@example.test"),
            TeamFactory(name="Storage", lead=bob, members=[bob], email="storage@example.test")], alice, bob


def test_a_field_that_reads_the_request_sees_the_request_of_each_page(teams, plans):
    rows, alice, bob = teams
    for_alice, for_bob = paged(TeamPage, rows, alice), paged(TeamPage, rows, bob)
    assert [(row["viewer"], row["leads"]) for row in for_alice] == [
        ("Network, seen by alice", True), ("Storage, seen by alice", False)]
    assert [(row["viewer"], row["leads"]) for row in for_bob] == [
        ("Network, seen by bob", False), ("Storage, seen by bob", True)]
    assert for_bob == plain(TeamPage, rows, bob)
    assert paged(TeamPage, rows, alice) == for_alice == plain(TeamPage, rows, alice)
    assert for_alice[0]["members"] == [alice.pk, bob.pk]
    assert plans["built"] == [TeamPage]


def test_each_serializer_class_has_its_own_plan(teams, plans):
    rows, alice, _ = teams
    base = paged(TeamPage, rows, alice)
    sub = paged(TeamPageWithEmail, rows, alice)
    assert list(base[0]) == ["id", "name", "lead", "members", "active", "viewer", "leads"]
    assert list(sub[0]) == [*base[0], "email"]
    assert [row["name"] for row in sub] == ["NETWORK", "STORAGE"]
    assert sub == plain(TeamPageWithEmail, rows, alice)
    assert paged(TeamPage, rows, alice) == base == plain(TeamPage, rows, alice)
    assert plans["built"] == [TeamPage, TeamPageWithEmail]


def test_a_class_that_builds_its_fields_per_request_keeps_building_them(teams, plans):
    rows, alice, bob = teams
    assert "lead" not in paged_fields(TeamPageForStaff, rows, alice)[0]
    assert paged_fields(TeamPageForStaff, rows, bob)[0]["lead"] == rows[0].lead_id
    assert paged_fields(TeamPageForStaff, rows, bob) == plain(TeamPageForStaff, rows, bob)
    assert plans["built"] == []


def paged_fields(serializer_class, rows, user) -> list[dict]:
    return rendered(serializer_class(rows, many=True, context={"request": request_of(user)}).data)


def test_a_serializer_whose_fields_were_built_renders_with_them(teams, plans):
    rows, alice, _ = teams
    page = TeamPage(rows, many=True, context={"request": request_of(alice)})
    page.child.fields.pop("members")  # changed on this instance: the plan would not know
    assert "members" not in rendered(page.data)[0]
    assert plans["built"] == []


def test_a_plan_is_built_once_when_threads_ask_at_the_same_moment(plans, monkeypatch):
    build = FieldPlan.__init__

    def slow(self, serializer_class):  # long enough for every thread to ask before the first is done
        time.sleep(0.05)
        build(self, serializer_class)

    monkeypatch.setattr(FieldPlan, "__init__", slow)
    barrier, got = threading.Barrier(4), []

    def ask():
        barrier.wait()
        got.append(FieldPlan.of(TeamPage()))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(got) == 4 and all(plan is got[0] for plan in got)
    assert plans["built"] == [TeamPage]


@pytest.mark.parametrize(
    ("field", "shared"),
    [
        (serializers.CharField(), True),
        (serializers.DateTimeField(), True),
        (serializers.PrimaryKeyRelatedField(read_only=True), True),
        (SeverityField(), True),  # DRF's ChoiceField methods
        (serializers.CharField(default="x"), False),  # a default may need the context
        (CancelReasonOutputField(), False),  # a method of its own
        (ViewerField(), False),
        (serializers.SerializerMethodField(), False),
        (serializers.HyperlinkedRelatedField(read_only=True, view_name="team-detail"), False),
        (serializers.FileField(), False),  # its URL is made absolute with the request
        (serializers.PrimaryKeyRelatedField(many=True, read_only=True), False),
        (serializers.ListField(child=serializers.CharField()), False),
        (TeamPage(), False),
    ],
)
def test_only_fields_that_render_without_the_context_are_shared(field, shared):
    assert context_free(field) is shared
