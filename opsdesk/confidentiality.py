"""The confidentiality rule of §6, in one place, for every read path.

A confidential incident is visible only to holders of ``incidents.view_confidential_incident``
(Incident Managers), superusers, its reporter and the members and lead of its team. Every
read path asks this module: the incident selectors and pages, the API, the admin of every
model that can show incident data (its queryset, hence its search and its related
lookups), the automation log and the alert list.

- ``visible_incidents(user)``: the incidents ``user`` may see.
- ``restrict(rows, user, path="incident")``: rows pointing at an incident through ``path``
  (nullable or not), without those of incidents ``user`` may not see.
- ``restrict_generic(rows, user)``: rows pointing at any object through a generic relation
  (``content_type``/``object_id``: the transition log, the notification outbox).
- ``ConfidentialAdminMixin``: a model admin whose queryset goes through one of the two.

``user=None`` is the system itself and sees everything; anonymous and inactive users see no
incident at all.
"""

from __future__ import annotations

from django.apps import apps
from django.db.models import Q, QuerySet

VIEW_ALL_CONFIDENTIAL = "incidents.view_confidential_incident"


def _incident_model():
    return apps.get_model("incidents", "Incident")


def sees_all_incidents(user) -> bool:
    """Incident Managers (``view_confidential_incident``), superusers and the system see every incident."""
    if user is None:  # the system itself
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.has_perm(VIEW_ALL_CONFIDENTIAL)


def _my_teams(user) -> QuerySet:
    from .models import Team

    return Team.objects.filter(Q(members=user) | Q(lead=user)).values("pk")


def visible_q(user, prefix: str = "") -> Q:
    """The rule as a condition on incidents (for an authenticated, active user who does not
    see all): not confidential, or reported by ``user``, or of a team ``user`` is in or leads."""
    return (Q(**{f"{prefix}confidential": False}) | Q(**{f"{prefix}reporter": user})
            | Q(**{f"{prefix}team__in": _my_teams(user)}))


def visible_incidents(user) -> QuerySet:
    """Every non-confidential incident, and the confidential ones ``user`` reported or whose
    team ``user`` is a member or the lead of."""
    incidents = _incident_model().objects.all()
    if sees_all_incidents(user):
        return incidents
    if not user.is_authenticated or not user.is_active:
        return incidents.none()
    return incidents.filter(visible_q(user))


def hidden_incidents(user) -> QuerySet:
    """The confidential incidents ``user`` may not see (empty for those who see all)."""
    incidents = _incident_model().objects.filter(confidential=True)
    if sees_all_incidents(user):
        return incidents.none()
    if not user.is_authenticated or not user.is_active:
        return incidents
    return incidents.exclude(visible_q(user))


def incident_is_visible(user, incident) -> bool:
    """Whether ``user`` may see this one incident (at most one query)."""
    if not incident.confidential or sees_all_incidents(user):
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    if incident.reporter_id == user.pk:
        return True
    if incident.team_id is None:
        return False
    from .models import Team

    return Team.objects.filter(pk=incident.team_id).filter(Q(members=user) | Q(lead=user)).exists()


def restrict(rows: QuerySet, user, *, path: str = "incident") -> QuerySet:
    """``rows`` without those whose incident (reached through ``path``) ``user`` may not see.

    Rows with no incident stay; anonymous users keep only those.
    """
    if sees_all_incidents(user):
        return rows
    return rows.exclude(**{f"{path}__in": hidden_incidents(user).values("pk")})


def restrict_generic(rows: QuerySet, user, *, content_type: str = "content_type",
                     object_id: str = "object_id") -> QuerySet:
    """``rows`` without those attached (generic relation) to an incident ``user`` may not see."""
    if sees_all_incidents(user):
        return rows
    from django.contrib.contenttypes.models import ContentType

    incident_type = ContentType.objects.get_for_model(_incident_model())
    return rows.exclude(
        **{content_type: incident_type, f"{object_id}__in": hidden_incidents(user).values("pk")}
    )


class ConfidentialAdminMixin:
    """A model admin that never shows rows of incidents the user may not see.

    Set ``confidential_path`` (the lookup to the incident, e.g. ``"incident"``) or
    ``confidential_generic = True`` (rows with ``content_type``/``object_id``). The queryset is
    the one place the admin reads from: the change list, its search (``?q=``), its filters, the
    change and history pages and the autocomplete of other admins all go through it.
    """

    confidential_path: str | None = None
    confidential_generic: bool = False

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if self.confidential_generic:
            return restrict_generic(rows, request.user)
        if self.confidential_path:
            return restrict(rows, request.user, path=self.confidential_path)
        return rows
