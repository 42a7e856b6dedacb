"""Pages of the desk tools: the global search, list exports, saved filters, attachments.

Thin views: reads from ``desk.selectors``, writes through ``desk.services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from opsdesk.exceptions import DomainValidationError

from . import selectors, services
from .exports import export_response
from .records import ATTACHABLE, LISTS, visible_record


@login_required
def search(request):
    """The navigation's search box: an exact number jumps to the record; words list matches."""
    value = request.GET.get("q", "").strip()[:200]  # a search box, not a document
    found = selectors.record_by_number(request.user, value) if value else None
    if found is not None:
        record_type, record = found
        return redirect(record_type.url(record))
    groups = selectors.search_everything(request.user, value) if value else []
    return render(request, "desk/search.html", {"q": value, "groups": groups})


def _list_type(request, list_key: str):
    record_type = LISTS.get(list_key)
    if record_type is None:
        raise Http404("No such list.")
    if not request.user.has_perm(record_type.view_perm):
        raise PermissionDenied(f"Your role does not include viewing {record_type.label.lower()}.")
    return record_type


@login_required
def export(request, list_key: str):
    """The list's rows with its current filters as a streamed CSV file."""
    record_type = _list_type(request, list_key)
    params = request.GET.copy()
    for key in ("page", "per_page", "sort"):
        params.pop(key, None)
    filterset = record_type.filterset(params or None, queryset=record_type.model.objects.none(), request=request)
    if filterset.is_bound and not filterset.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
        return HttpResponseBadRequest(f"Bad filter: {problems}", content_type="text/plain")
    return export_response(record_type, user=request.user, params=params, request=request)


def _back_to(request, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


@login_required
@require_POST
def saved_filter_save(request, list_key: str):
    """Save the list's current filter (``query``) under ``name``; back to the list with it applied."""
    record_type = _list_type(request, list_key)
    list_url = reverse(record_type.list_url)
    query = request.POST.get("query", "")
    try:
        saved = services.saved_filter_save(
            user=request.user, list_key=list_key, name=request.POST.get("name", ""), query=query
        )
    except DomainValidationError as exc:
        messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()))
        return redirect(f"{list_url}?{query}" if query else list_url)
    messages.success(request, f"Filter “{saved.name}” saved.")
    return redirect(f"{list_url}?{saved.query}" if saved.query else list_url)


@login_required
@require_POST
def saved_filter_delete(request, pk: int):
    """Delete one of the user's saved filters (another user's is a 404: it is private)."""
    saved = get_object_or_404(selectors.saved_filters_of(request.user), pk=pk)
    services.saved_filter_delete(saved_filter=saved, by=request.user)
    messages.success(request, f"Filter “{saved.name}” deleted.")
    return redirect(_back_to(request, reverse(LISTS[saved.list].list_url)))


def _record_or_404(request, kind: str, pk: int):
    record = visible_record(request.user, kind, pk)
    if record is None:
        raise Http404("No such record.")
    return record


def _record_url(kind: str, record) -> str:
    return reverse(ATTACHABLE[kind].detail_url, args=[record.pk]) + "#attachments"


@login_required
@require_POST
def attachment_upload(request, kind: str, pk: int):
    """Attach the uploaded file to the incident or change; back to its page."""
    record = _record_or_404(request, kind, pk)
    try:
        attachment = services.attachment_add(record=record, upload=request.FILES.get("file"), by=request.user)
    except DomainValidationError as exc:
        messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()))
    else:
        messages.success(request, f"{attachment.filename} attached.")
    return redirect(_record_url(kind, record))


def _attachment_or_404(request, pk: int):
    """The attachment, its kind and record, if the user may see the record; 404 otherwise."""
    found = selectors.visible_attachment(request.user, pk)
    if found is None:
        raise Http404("No such attachment.")
    return found


@login_required
def attachment_download(request, pk: int):
    """The file, as a download (never shown inline, never sniffed), to those who may see its record."""
    return serve_attachment(request, pk)


def serve_attachment(request, pk: int) -> FileResponse:
    """The download response of the page and the API (Http404 when the record is not visible)."""
    attachment, _, _ = _attachment_or_404(request, pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The file is missing from the storage.") from exc
    response = FileResponse(handle, as_attachment=True, filename=attachment.filename,
                            content_type=attachment.mime_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def attachment_delete(request, pk: int):
    """Remove an attachment (the uploader or a manager)."""
    attachment, kind, record = _attachment_or_404(request, pk)
    services.attachment_delete(attachment=attachment, record=record, by=request.user)
    messages.success(request, f"{attachment.filename} removed.")
    return redirect(_record_url(kind, record))
