"""Writes of the desk tools: saved filters and attachments. The pages, the admin and the API call these."""

from __future__ import annotations

import mimetypes
from pathlib import PurePath

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat

from opsdesk.exceptions import DomainValidationError
from opsdesk.workflow import log_transition

from .models import Attachment, SavedFilter
from .records import LISTS, attachable_type

# Parameters of a list that are not part of its filter.
NOT_SAVED = ("page", "csrfmiddlewaretoken")
# List parameters kept besides the FilterSet's filters: the sort and the page size.
KEPT = ("sort", "per_page")
MAX_SAVED_FILTERS = 50
# Names the standard library does not map that operations people attach every day.
EXTRA_TYPES = {".log": "text/plain", ".out": "text/plain", ".har": "application/json", ".yaml": "text/plain",
               ".yml": "text/plain", ".md": "text/plain"}


# --- saved filters ------------------------------------------------------------------------


def clean_filter_query(list_key: str, query: str) -> str:
    """The query string of a list's filter, keeping only that list's filters, its sort and page size."""
    record_type = LISTS[list_key]
    known = set(record_type.filterset.base_filters) | set(KEPT)
    given = QueryDict(query.lstrip("?"))
    kept = QueryDict(mutable=True)
    for key in given:
        if key in known and key not in NOT_SAVED:
            values = [v for v in given.getlist(key) if v.strip()]
            if values:
                kept.setlist(key, values)
    return kept.urlencode()


@transaction.atomic
def saved_filter_save(*, user, list_key: str, name: str, query: str) -> SavedFilter:
    """Save the current filter of a list under ``name`` (the same name again replaces it)."""
    if list_key not in LISTS:
        raise DomainValidationError({"list": f"Unknown list {list_key!r}."})
    if not user.has_perm(LISTS[list_key].view_perm):
        raise PermissionDenied("Your role does not include this list.")
    name = (name or "").strip()
    if not name:
        raise DomainValidationError({"name": "Give the filter a name."})
    if len(name) > SavedFilter._meta.get_field("name").max_length:
        raise DomainValidationError({"name": "At most 80 characters."})
    cleaned = clean_filter_query(list_key, query or "")
    existing = SavedFilter.objects.select_for_update().filter(user=user, list=list_key, name=name).first()
    if existing is not None:
        existing.query = cleaned
        existing.save(update_fields=["query"])
        return existing
    if SavedFilter.objects.filter(user=user, list=list_key).count() >= MAX_SAVED_FILTERS:
        raise DomainValidationError({"name": f"At most {MAX_SAVED_FILTERS} saved filters per list; delete one first."})
    return SavedFilter.objects.create(user=user, list=list_key, name=name, query=cleaned)


def saved_filter_delete(*, saved_filter: SavedFilter, by) -> None:
    """Delete one of ``by``'s own saved filters (another user's is refused)."""
    if saved_filter.user_id != by.pk:
        raise PermissionDenied("That filter belongs to someone else.")
    saved_filter.delete()


# --- attachments --------------------------------------------------------------------------


def attachment_type_of(upload) -> str:
    """The content type judged from the file name (the browser's claim only when the name says nothing)."""
    suffix = PurePath(upload.name or "").suffix.lower()
    guessed = EXTRA_TYPES.get(suffix) or mimetypes.guess_type(upload.name or "")[0]
    return (guessed or getattr(upload, "content_type", "") or "application/octet-stream").split(";")[0].strip()


def may_attach(user, record, *, seen: bool = False) -> bool:
    """``desk.add_attachment`` and the right to edit the record, and to see it (``seen``: the
    caller already knows, e.g. the record's own page)."""
    _, record_type = attachable_type(record)
    if not (user.has_perm("desk.add_attachment") and user.has_perm(record_type.change_perm)):
        return False
    return seen or record_type.visible(user).filter(pk=record.pk).exists()


def may_delete_attachment(user, attachment: Attachment, record) -> bool:
    """The uploader, or a manager of that kind of record (``desk.delete_attachment`` and the record's edit right)."""
    if attachment.uploaded_by_id is not None and attachment.uploaded_by_id == user.pk:
        return True
    _, record_type = attachable_type(record)
    return user.has_perm("desk.delete_attachment") and user.has_perm(record_type.change_perm)


def _log(record, *, name: str, by, comment: str) -> None:
    """An attachment added or removed is an event on the record's timeline (the transition log)."""
    log_transition(obj=record, name=name, from_state=record.state, to_state=record.state, by=by, comment=comment)


@transaction.atomic
def attachment_add(*, record, upload, by) -> Attachment:
    """Store ``upload`` (a Django ``UploadedFile``) through the default storage and attach it to ``record``.

    Refused: no right to edit the record (403), an empty or too large file, a type outside
    ``OPSDESK_ATTACHMENT_TYPES`` (400).
    """
    if not may_attach(by, record):
        raise PermissionDenied("Your role does not include attaching files here.")
    if upload is None:
        raise DomainValidationError({"file": "Choose a file."})
    limit = settings.OPSDESK_ATTACHMENT_MAX_BYTES
    if upload.size == 0:
        raise DomainValidationError({"file": "The file is empty."})
    if upload.size > limit:
        raise DomainValidationError({"file": f"The file is larger than {filesizeformat(limit)}."})
    mime_type = attachment_type_of(upload)
    if mime_type not in settings.OPSDESK_ATTACHMENT_TYPES:
        raise DomainValidationError({"file": f"Files of type {mime_type} are not accepted."})
    filename = PurePath((upload.name or "file").replace("\\", "/")).name[:255] or "file"
    attachment = Attachment(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk,
        filename=filename, mime_type=mime_type, size=upload.size, uploaded_by=by,
    )
    attachment.file.save(filename, upload, save=False)
    try:  # a failed write must not leave the stored file behind
        attachment.save()
        _log(record, name="attachment_added", by=by, comment=f"{filename} ({filesizeformat(upload.size)})")
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment


@transaction.atomic
def attachment_delete(*, attachment: Attachment, record, by) -> None:
    """Remove an attachment and its file (the uploader or a manager; 403 otherwise)."""
    if not may_delete_attachment(by, attachment, record):
        raise PermissionDenied("Only the uploader or a manager may remove this file.")
    name = attachment.file.name
    storage = attachment.file.storage
    attachment.delete()
    _log(record, name="attachment_removed", by=by, comment=attachment.filename)
    transaction.on_commit(lambda: storage.delete(name))
