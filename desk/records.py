"""The record types the desk tools work on, and who may see, attach to and manage each.

One place for the rules the global search, the CSV exports, the saved filters and the
attachments ask: every record is looked up through its own app's visibility selector, so
a confidential incident is invisible here exactly as on its own pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Model, QuerySet
from django.urls import reverse

from changes.filtersets import ChangeRequestFilterSet
from changes.models import ChangeRequest
from incidents.filtersets import IncidentFilterSet
from incidents.models import Incident
from incidents.selectors import incidents_visible_to
from releases.filtersets import ReleaseFilterSet
from releases.models import Release

from .choices import ListKey, RecordKind


@dataclass(frozen=True)
class RecordType:
    """How the desk tools reach one kind of record."""

    key: str
    label: str
    model: type[Model]
    view_perm: str
    filterset: Any
    list_url: str
    detail_url: str
    # Attachments: who may add one, who may remove other people's (with ``desk.delete_attachment``).
    change_perm: str = ""

    def visible(self, user) -> QuerySet:
        """The records of this type ``user`` may see (none without the view permission)."""
        if not user.is_authenticated or not user.has_perm(self.view_perm):
            return self.model.objects.none()
        if self.model is Incident:
            return incidents_visible_to(user)
        return self.model.objects.all()

    def url(self, record) -> str:
        return reverse(self.detail_url, args=[record.pk])


INCIDENTS = RecordType(
    key=ListKey.INCIDENTS, label="Incidents", model=Incident, view_perm="incidents.view_incident",
    filterset=IncidentFilterSet, list_url="incidents:list", detail_url="incidents:detail",
    change_perm="incidents.change_incident",
)
CHANGES = RecordType(
    key=ListKey.CHANGES, label="Changes", model=ChangeRequest, view_perm="changes.view_changerequest",
    filterset=ChangeRequestFilterSet, list_url="changes:list", detail_url="changes:detail",
    change_perm="changes.change_changerequest",
)
RELEASES = RecordType(
    key=ListKey.RELEASES, label="Releases", model=Release, view_perm="releases.view_release",
    filterset=ReleaseFilterSet, list_url="releases:list", detail_url="releases:detail",
)

LISTS: dict[str, RecordType] = {t.key: t for t in (INCIDENTS, CHANGES, RELEASES)}
BY_PREFIX: dict[str, RecordType] = {t.model.NUMBER_PREFIX: t for t in LISTS.values()}
ATTACHABLE: dict[str, RecordType] = {RecordKind.INCIDENT: INCIDENTS, RecordKind.CHANGE: CHANGES}


def attachable_type(record) -> tuple[str, RecordType]:
    """The kind and type of a record that takes attachments (ValueError for any other)."""
    for kind, record_type in ATTACHABLE.items():
        if isinstance(record, record_type.model):
            return kind, record_type
    raise ValueError(f"{type(record).__name__} takes no attachments.")


def visible_record(user, kind: str, pk: int):
    """The incident or change ``pk`` if ``user`` may see it, else None."""
    record_type = ATTACHABLE.get(kind)
    if record_type is None:
        return None
    return record_type.visible(user).filter(pk=pk).first()
