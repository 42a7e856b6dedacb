"""``approved_change_to_release``: an approved change joins release planning."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from changes.choices import ChangeType
from changes.models import ChangeRequest
from opsdesk import events, notifications
from opsdesk.choices import Role
from opsdesk.models import Service
from opsdesk.templatetags.opsdesk_format import format_when
from releases import services as release_services
from releases.choices import ReleaseState
from releases.models import Release

from ..choices import RuleKey
from ..registry import Acted, Rule, Skipped, register


def release_name(services: list[Service], day) -> str:
    """``Payments API release 8 Dec 2026`` (``+ 1 more service`` when it covers several), the
    date in the one format of every page."""
    more = len(services) - 1
    suffix = f" (+ {more} more service{'s' if more != 1 else ''})" if more else ""
    return f"{services[0].name} release {format_when(day)}{suffix}"[:200]


def _renamed(release: Release, services_before: list[Service]) -> str | None:
    """The release's new name once a joining change brought more services, when its name is
    still the one this rule gave it (a name a person chose is kept); None when unchanged."""
    if release.created_by_rule != RuleKey.APPROVED_CHANGE_TO_RELEASE or not release.planned_date:
        return None
    if release.name != release_name(services_before, release.planned_date):
        return None
    name = release_name(list(release.services.order_by("id")), release.planned_date)
    return name if name != release.name else None


def tell_release_managers(release: Release, change: ChangeRequest) -> None:
    """A release nobody manages yet: every Release Manager (and the services' teams) hears of it."""
    managers = (
        get_user_model()
        .objects.filter(groups__name=Role.RELEASE_MANAGERS, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    notifications.notify(
        recipients=[notifications.email(address) for address in managers]
        + release_services.release_recipients(release),
        subject=f"{release.number} created for approved change {change.number}",
        body=(
            f"{change.number} {change.title} was approved and no release in planning covered its services, "
            f"so {release.number} “{release.name}” was created. It has no release manager yet.\n\n"
            f"{release_services.release_url(release)}"
        ),
        dedupe_key=f"release:{release.pk}:created",
        about=release,
    )


@register
class ApprovedChangeToRelease(Rule):
    key = RuleKey.APPROVED_CHANGE_TO_RELEASE
    title = RuleKey.APPROVED_CHANGE_TO_RELEASE.label
    trigger = events.ChangeApproved
    summary = (
        "A normal or emergency change that is approved joins the oldest release in planning that covers one "
        "of its services (the release takes on the change's other services), or a new release in planning "
        "for its services, whose creation the Release Managers are told of."
    )

    def subject(self, event: events.ChangeApproved) -> ChangeRequest:
        return ChangeRequest.objects.get(pk=event.change_id)

    def run(self, event: events.ChangeApproved, params: dict):
        change = ChangeRequest.objects.select_for_update(of=("self",)).select_related("release").get(pk=event.change_id)
        if change.change_type not in (ChangeType.NORMAL, ChangeType.EMERGENCY):
            return None  # standard changes are routine work outside release planning
        if change.release_id is not None:
            return Skipped(f"{change.number} is already in {change.release.number}.")
        # Locking the services serialises two changes approved at once on one service: one new release.
        services = list(Service.objects.select_for_update().filter(changes=change).order_by("id"))
        if not services:
            return Skipped(f"{change.number} names no service, so no release plans it.")
        candidates = Release.objects.filter(state=ReleaseState.PLANNING, services__in=services).values("pk")
        release = Release.objects.select_for_update().filter(pk__in=candidates).order_by("created_at", "id").first()
        if release is not None:
            named = list(release.services.order_by("id"))
            release_services.release_add_change(release=release, change=change, by=None, at=event.at)
            renamed = _renamed(release, named)
            if renamed:  # the name the rule gave still says which services: keep it true
                release = release_services.release_update(release=release, by=None, name=renamed)
            return Acted(detail=f"{change.number} joined {release.number} “{release.name}”.", changed=[release, change])
        day = timezone.localdate(change.planned_start) if change.planned_start else timezone.localdate(event.at)
        release = release_services.release_create(
            by=None,
            created_by_rule=self.key,
            created_at=change.approved_at or event.at,
            name=release_name(services, day),
            services=services,
            planned_date=day,
            release_manager=None,
        )
        release_services.release_add_change(release=release, change=change, by=None, at=event.at)
        tell_release_managers(release, change)
        return Acted(
            detail=f"Opened {release.number} “{release.name}” in planning for {change.number}.",
            created=[release], changed=[change],
        )
