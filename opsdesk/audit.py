"""The audit log (§6): who logged in, failed, logged out or was locked out, every permission
denial, API and feed tokens issued and revoked, every add, change and delete in the admin.

Events come from Django's auth signals, django-axes' lockout signal, the admin's own
``LogEntry`` rows, knox's token rows, the feed token services, and ``AuditMiddleware``,
which records every 403 answer (pages, admin and API alike) and logs it once, in one line.
"""

from __future__ import annotations

import logging

from django.contrib.auth import signals as auth_signals
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from .choices import AuditKind
from .models import AuditEvent

logger = logging.getLogger("opsdesk.audit")



def client_address(request) -> str | None:
    """The client's address as django-axes sees it (it honours the proxy settings)."""
    if request is None:
        return None
    try:
        from axes.helpers import get_client_ip_address

        return get_client_ip_address(request) or None
    except Exception:  # noqa: BLE001 - an address is a nicety; the event is what matters
        return request.META.get("REMOTE_ADDR") or None


def record(kind: str, *, request=None, user=None, username: str = "", object_repr: str = "",
           detail: str = "") -> AuditEvent:
    """Append one event; the request (if any) gives the user, address, method and path."""
    if user is None and request is not None:
        candidate = getattr(request, "user", None)
        user = candidate if candidate is not None and candidate.is_authenticated else None
    if user is not None and not getattr(user, "pk", None):
        user = None
    return AuditEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        ip_address=client_address(request),
        method=((request.method if request is not None else "") or "")[:10],
        path=((request.get_full_path() if request is not None and request.path else "") or "")[:500],
        time=timezone.now(),
        object_repr=object_repr[:200],
        detail=detail,
    )


# --- logins ------------------------------------------------------------------------------------


@receiver(auth_signals.user_logged_in, dispatch_uid="audit-login")
def _logged_in(sender, request, user, **kwargs):
    record(AuditKind.LOGIN, request=request, user=user)


@receiver(auth_signals.user_logged_out, dispatch_uid="audit-logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(AuditKind.LOGOUT, request=request, user=user)


@receiver(auth_signals.user_login_failed, dispatch_uid="audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    from django.contrib.auth import get_user_model

    username = str(credentials.get("username", ""))
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    record(AuditKind.LOGIN_FAILED, request=request, user=user, username=username)


def _locked_out(sender, request, username=None, ip_address=None, **kwargs):
    from django.conf import settings
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username or ""}).first()
    record(AuditKind.LOCKOUT, request=request, user=user, username=username or "",
           detail=f"{settings.AXES_FAILURE_LIMIT} failed logins from {ip_address or 'an unknown address'}; "
                  f"locked for {int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)} minutes.")


def connect_lockouts() -> None:
    from django.apps import apps

    if not apps.is_installed("axes"):
        return
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="audit-lockout")


# --- the admin ---------------------------------------------------------------------------------


def connect_admin() -> None:
    """The admin's own ``LogEntry`` rows (one per add, change, delete) become audit events."""
    from django.apps import apps

    if apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.models import LogEntry

        post_save.connect(_admin_action, sender=LogEntry, dispatch_uid="audit-admin")


def _admin_action(sender, instance, created: bool, **kwargs):
    from django.contrib.admin.models import ADDITION, CHANGE, DELETION

    if not created:
        return
    kinds = {ADDITION: AuditKind.ADMIN_ADD, CHANGE: AuditKind.ADMIN_CHANGE, DELETION: AuditKind.ADMIN_DELETE}
    record(kinds.get(instance.action_flag, AuditKind.ADMIN_CHANGE), user=instance.user,
           object_repr=f"{instance.content_type.model if instance.content_type_id else ''}: "
                       f"{instance.object_repr}"[:200],
           detail=instance.get_change_message())


# --- tokens ------------------------------------------------------------------------------------


def connect_api_tokens() -> None:
    from knox.models import AuthToken

    post_save.connect(_api_token_saved, sender=AuthToken, dispatch_uid="audit-token-issued")
    post_delete.connect(_api_token_deleted, sender=AuthToken, dispatch_uid="audit-token-revoked")


def _api_token_saved(sender, instance, created: bool, **kwargs):
    if created:
        record(AuditKind.TOKEN_ISSUED, user=instance.user, object_repr=f"API token {instance.token_key}",
               detail=f"expires {instance.expiry:%Y-%m-%d %H:%M} UTC" if instance.expiry else "never expires")


def _api_token_deleted(sender, instance, **kwargs):
    expired = instance.expiry is not None and instance.expiry <= timezone.now()
    record(AuditKind.TOKEN_REVOKED, user=instance.user, object_repr=f"API token {instance.token_key}",
           detail="expired" if expired else "revoked")


def feed_token_issued(token, *, by) -> None:
    record(AuditKind.TOKEN_ISSUED, user=token.user, object_repr=f"feed token {token.prefix}",
           detail=f"by {by.get_username()}" if by is not None and by != token.user else "")


def feed_token_revoked(token, *, by) -> None:
    record(AuditKind.TOKEN_REVOKED, user=token.user, object_repr=f"feed token {token.prefix}",
           detail=f"by {by.get_username()}" if by is not None and by != token.user else "")


# --- denials -----------------------------------------------------------------------------------


class AuditMiddleware:
    """Records every 403 (user, path, method, time) and logs it once, without a traceback.

    Django's own ``django.request`` warning for a 403 (with the traceback of the
    ``PermissionDenied``) is dropped by ``opsdesk.log_filters.SkipForbidden`` in the logging settings.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            user = getattr(request, "user", None)
            name = user.get_username() if user is not None and user.is_authenticated else "anonymous"
            logger.warning("Permission denied: %s %s %s", name, request.method, request.path)
            try:
                record(AuditKind.PERMISSION_DENIED, request=request)
            except Exception:  # noqa: BLE001 - a refused request must stay a 403 even if the log cannot be written
                logger.exception("Could not record the permission denial")
        return response
