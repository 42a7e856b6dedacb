"""Template context: the open major incidents named in the banner of every page (§2.1).

Lazy: the query runs only when a page draws the banner (full pages, not htmx
fragments, the admin or the API), and then once per request.
"""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject


def major_incidents(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def load():
        from .selectors import open_major_incidents

        return open_major_incidents(user)

    return {"major_banner": SimpleLazyObject(load)}
