"""Reads of the automation app: rules, and runs as each user may see them (§6)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from incidents.models import Incident
from incidents.selectors import sees_all_incidents
from opsdesk import confidentiality

from .models import AutomationRule, AutomationRun, AutomationRunObject


def rule_list() -> QuerySet[AutomationRule]:
    return AutomationRule.objects.select_related("updated_by").order_by("key")


def runs_visible_to(user) -> QuerySet[AutomationRun]:
    """The runs ``user`` may see: none whose subject or records include a confidential incident
    the user may not see (Incident Managers, superusers and the system see all)."""
    runs = AutomationRun.objects.all()
    if user is None or sees_all_incidents(user):
        return runs
    if not user.is_authenticated or not user.is_active:
        return runs.none()
    incident_type = ContentType.objects.get_for_model(Incident)
    hidden = confidentiality.hidden_incidents(user)
    touches_hidden = AutomationRunObject.objects.filter(
        run=OuterRef("pk"), content_type=incident_type, object_id__in=hidden.values("pk")
    )
    return runs.exclude(subject_type=incident_type, subject_id__in=hidden.values("pk")).exclude(Exists(touches_hidden))


def run_list(*, user) -> QuerySet[AutomationRun]:
    """Runs for a list page or the API: newest first, with their rule, subject type and records."""
    return (
        runs_visible_to(user)
        .select_related("rule", "subject_type")
        .prefetch_related("records")
        .order_by("-created_at", "-id")
    )


def runs_about(obj, *, user, related: QuerySet | None = None) -> list[AutomationRun]:
    """What automation did to ``obj``: runs about it (its subject) or that created or changed it,
    oldest first. ``related`` adds runs about other records (e.g. a release's deployments)."""
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    touched = AutomationRunObject.objects.filter(run=OuterRef("pk"), content_type=content_type, object_id=obj.pk)
    condition = Q(subject_type=content_type, subject_id=obj.pk) | Q(Exists(touched))
    if related is not None:
        related_type = ContentType.objects.get_for_model(related.model, for_concrete_model=True)
        condition |= Q(subject_type=related_type, subject_id__in=related.values("pk"))
    return with_links(run_list(user=user).filter(condition).order_by("created_at", "id"))


# The web page of each kind of record a run can name (a deployment has none: its release's page).
RECORD_PAGES = {"incident": "incidents:detail", "changerequest": "changes:detail", "release": "releases:detail"}


def with_links(runs: Iterable[AutomationRun]) -> list[AutomationRun]:
    """Set ``subject_url`` on each run and ``url`` on each of its records (one query for deployments)."""
    from releases.models import Deployment

    runs = list(runs)
    deployment_ids = {run.subject_id for run in runs if run.subject_type.model == "deployment"}
    releases_of = (
        dict(Deployment.objects.filter(pk__in=deployment_ids).values_list("pk", "release_id")) if deployment_ids else {}
    )

    def url(model: str, pk: int) -> str | None:
        if model == "deployment":
            pk, model = releases_of.get(pk), "release"
        return reverse(RECORD_PAGES[model], args=[pk]) if model in RECORD_PAGES and pk else None

    for run in runs:
        run.subject_url = url(run.subject_type.model, run.subject_id)
        for record in run.records.all():
            record.content_type = ContentType.objects.get_for_id(record.content_type_id)  # cached: no query
            record.url = url(record.content_type.model, record.object_id)
    return runs
