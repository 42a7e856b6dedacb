"""Health probes for /healthz."""

from __future__ import annotations


def database_status(connection) -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"error: {type(exc).__name__}"
    return "ok"


def broker_status() -> str:
    """Open and close a connection to the Celery broker, with a short timeout."""
    from opsdesk.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"error: {type(exc).__name__}"
    return "ok"


