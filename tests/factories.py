"""factory-boy factories for every model the tests build."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from opsdesk.models import Service, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=list(extracted)))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    email = factory.LazyAttribute(lambda t: f"{t.name.lower().replace(' ', '-')}@example.test")
    lead = factory.SubFactory(UserFactory)

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    owner_team = factory.SubFactory(TeamFactory)
    criticality = "medium"


class IncidentFactory(factory.django.DjangoModelFactory):
    """An incident in ``detected`` with its SLA deadlines set from the seeded policy."""

    class Meta:
        model = "incidents.Incident"

    title = factory.Sequence(lambda n: f"Incident {n}")
    severity = "medium"
    service = factory.SubFactory(ServiceFactory)
    team = factory.LazyAttribute(lambda i: i.service.owner_team)
    reporter = factory.SubFactory(UserFactory)
    detected_at = factory.LazyFunction(timezone.now)
    started_at = factory.LazyAttribute(lambda i: i.detected_at - timedelta(minutes=5))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from incidents.models import SLAPolicy

        incident = model_class(*args, **kwargs)
        policy = SLAPolicy.objects.filter(severity=incident.severity).first()
        if policy is not None:
            incident.apply_policy(policy)
        incident.save()
        return incident


# A complete risk questionnaire that scores low on a low or medium criticality service.
LOW_RISK_ANSWERS = {
    "user_impact": "none", "complexity": "low", "tested_in_staging": True, "rollback_tested": True,
    "outage_required": False,
}


class ChangeRequestFactory(factory.django.DjangoModelFactory):
    """A draft normal change, ready to submit (plans and a window in the future)."""

    class Meta:
        model = "changes.ChangeRequest"
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Change {n}")
    change_type = "normal"
    risk = "medium"
    risk_answers = factory.LazyFunction(lambda: dict(LOW_RISK_ANSWERS))
    implementation_plan = "Apply the change."
    testing_plan = "Run the smoke tests."
    rollback_plan = "Revert to the previous version."
    requester = factory.SubFactory(UserFactory)
    planned_start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    planned_end = factory.LazyAttribute(lambda c: c.planned_start + timedelta(hours=2))

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create:
            self.services.add(*(extracted or [ServiceFactory()]))


class ReleaseFactory(factory.django.DjangoModelFactory):
    """A release in ``planning``."""

    class Meta:
        model = "releases.Release"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Release {n}")
    version = factory.Sequence(lambda n: f"1.{n}.0")
    release_manager = factory.SubFactory(UserFactory)

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create:
            self.services.add(*(extracted or [ServiceFactory()]))
