"""The desk tools on other apps' pages: a list's export link and saved filters, a record's attachments.

The incident, change and release templates load these tags; their apps import nothing of ``desk``.
"""

from __future__ import annotations

from django import template
from django.conf import settings

from .. import selectors, services

register = template.Library()


@register.inclusion_tag("desk/partials/list_tools.html", takes_context=True)
def list_tools(context, list_key: str):
    """"Export CSV" with the current query string, and the user's saved filters of this list (one query)."""
    request = context["request"]
    params = request.GET.copy()
    params.pop("page", None)
    query = services.clean_filter_query(list_key, params.urlencode())
    return {
        "list_key": list_key,
        "query": query,
        "export_query": params.urlencode(),
        "saved_filters": list(selectors.saved_filters_of(request.user, list_key)),
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("desk/partials/attachments.html", takes_context=True)
def attachments_panel(context, record, kind: str):
    """The record's attachments with download links, the upload form and the remove buttons the user may use."""
    request = context["request"]
    user = request.user
    attachments = list(selectors.attachments_of(record))
    return {
        "record": record,
        "kind": kind,
        "attachments": [(a, services.may_delete_attachment(user, a, record)) for a in attachments],
        "can_attach": services.may_attach(user, record, seen=True),  # the page shows it
        "max_bytes": settings.OPSDESK_ATTACHMENT_MAX_BYTES,
        "csrf_token": context.get("csrf_token"),
    }
