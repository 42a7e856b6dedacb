"""Calendar feed tokens: issued and revoked here only (one function each), stored hashed.

Calendar clients (Outlook, Google Calendar, Thunderbird) cannot send headers,
so the feed ``/changes/calendar.ics?token=…`` carries a per-user secret in the
URL. Only its SHA-256 is stored (the token has 256 bits of entropy, so a slow
password hash would add nothing); the plain token is returned once, by
``feed_token_issue``.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from opsdesk import audit
from opsdesk.exceptions import DomainValidationError, TransitionNotAllowed

from ..models import CalendarFeedToken

VIEW_PERM = "changes.view_changerequest"
# Touch last_used_at at most this often (a calendar polls every few minutes).
LAST_USED_RESOLUTION_SECONDS = 300


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def feed_token_issue(*, user, by, name: str = "", at=None) -> tuple[CalendarFeedToken, str]:
    """Issue a feed token for ``user`` (by themselves); returns the row and the plain token, shown once.

    Needs ``changes.view_changerequest``: the feed shows changes.
    """
    if by is None or not by.is_authenticated or not by.is_active or by.pk != user.pk:
        raise PermissionDenied("You can only issue calendar feed tokens for yourself.")
    if not user.has_perm(VIEW_PERM):
        raise PermissionDenied("Your role does not include viewing changes.")
    name = (name or "").strip() or "Calendar"
    if len(name) > 100:
        raise DomainValidationError({"name": "Keep the name under 100 characters."})
    plain = secrets.token_urlsafe(32)
    token = CalendarFeedToken.objects.create(
        user=user, name=name, key_hash=_hash(plain), prefix=plain[:8], created_at=at or timezone.now()
    )
    audit.feed_token_issued(token, by=by)
    return token, plain


@transaction.atomic
def feed_token_revoke(*, token: CalendarFeedToken, by, at=None) -> CalendarFeedToken:
    """Revoke a feed token: its owner, or a superuser. Its URL stops working at once."""
    if by is None or not by.is_authenticated or not by.is_active or (by.pk != token.user_id and not by.is_superuser):
        raise PermissionDenied("You can only revoke your own calendar feed tokens.")
    locked = CalendarFeedToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        raise TransitionNotAllowed(f"The feed token “{locked.name}” is already revoked.")
    locked.revoked_at = at or timezone.now()
    locked.save(update_fields=["revoked_at"])
    audit.feed_token_revoked(locked, by=by)
    return locked


def feed_token_user(plain: str | None, *, now=None):
    """The active user behind a plain feed token, or None (unknown, revoked, inactive, no longer allowed)."""
    if not plain or len(plain) > 200:
        return None
    token = (
        CalendarFeedToken.objects.select_related("user")
        .filter(key_hash=_hash(plain), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active or not token.user.has_perm(VIEW_PERM):
        return None
    now = now or timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        CalendarFeedToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
