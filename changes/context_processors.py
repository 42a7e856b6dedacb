"""Template context: how many changes await the user's approval (the navigation's badge).

Lazy: the count runs only when a page draws the navigation, and only for approvers
(one query; none for everyone else).
"""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject


def awaiting_approval(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        from .selectors import awaiting_approval_filter

        condition = awaiting_approval_filter(user)
        if condition is None:
            return 0
        from .models import ChangeRequest

        return ChangeRequest.objects.filter(condition).count()

    return {"awaiting_approval_count": SimpleLazyObject(count)}
