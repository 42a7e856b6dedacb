"""Reads of the desk tools: the global search, a user's saved filters and a record's attachments."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from opsdesk.search import format_record_number, parse_record_number, words

from .models import Attachment, SavedFilter
from .records import ATTACHABLE, BY_PREFIX, LISTS, RecordType, attachable_type, visible_record

RESULTS_PER_TYPE = 10


@dataclass
class ResultGroup:
    """The best matches of one record type, and how many there are in all."""

    record_type: RecordType
    total: int
    records: list = field(default_factory=list)


def record_by_number(user, value: str) -> tuple[RecordType, object] | None:
    """The type and record an exact number names (``INC-000123``, ``chg-42``, ``REL7``) if
    ``user`` may see it; None otherwise, so an invisible record looks exactly like a missing one."""
    parsed = parse_record_number(value)
    if parsed is None:
        return None
    record_type = BY_PREFIX[parsed[0]]
    record = record_type.visible(user).filter(number=format_record_number(*parsed)).first()
    return (record_type, record) if record is not None else None


def search_everything(user, value: str, *, limit: int = RESULTS_PER_TYPE) -> list[ResultGroup]:
    """For each record type ``user`` may see, the matches of every word of ``value`` (through
    that type's FilterSet, so exactly what its list's search finds), best first. Two queries
    per type; types without matches are left out."""
    if not words(value):
        return []
    groups = []
    for record_type in LISTS.values():
        base = record_type.visible(user)
        if not base.query.is_empty():
            matches = record_type.filterset({"q": value}, queryset=base).qs
            total = matches.count()
            if total:
                best = list(matches.order_by("-search_rank", "-pk")[:limit])
                groups.append(ResultGroup(record_type=record_type, total=total, records=best))
    return groups


def saved_filters_of(user, list_key: str | None = None) -> QuerySet[SavedFilter]:
    """The user's own saved filters (of one list when given), by name."""
    if not user.is_authenticated:
        return SavedFilter.objects.none()
    filters = SavedFilter.objects.filter(user=user)
    return filters.filter(list=list_key) if list_key else filters


def visible_attachment(user, pk: int) -> tuple[Attachment, str, object] | None:
    """The attachment, its record's kind and the record, if ``user`` may see the record; else None."""
    attachment = Attachment.objects.select_related("content_type").filter(pk=pk).first()
    if attachment is None:
        return None
    model = attachment.content_type.model
    kind = next((k for k, t in ATTACHABLE.items() if t.model._meta.model_name == model), None)
    record = visible_record(user, kind, attachment.object_id) if kind else None
    return (attachment, kind, record) if record is not None else None


def attachments_of(record) -> QuerySet[Attachment]:
    """The attachments of an incident or a change, oldest first, with their uploaders."""
    attachable_type(record)
    return Attachment.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk
    ).select_related("uploaded_by")
