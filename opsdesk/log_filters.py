"""Logging filters (loaded by the logging settings, before the apps: no model imports here)."""

import logging


class SkipForbidden(logging.Filter):
    """Drops ``django.request``'s record of a 403 (with the traceback of the ``PermissionDenied``):
    ``opsdesk.audit.AuditMiddleware`` logs every 403 once, in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 403
