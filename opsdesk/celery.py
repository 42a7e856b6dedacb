"""The Celery application; tasks live in each app's tasks.py."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE", f"opsdesk.settings.{os.environ.get('OPSDESK_ENV', 'local')}"
)

app = Celery("opsdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def keep_workers_connected(sender=None, **kwargs) -> None:
    """Workers (and beat) retry the broker for ever, at start-up and after losing it.

    The settings make publishing give up at once (``broker_connection_max_retries = 0``)
    so that a web process never waits on a dead broker; a worker that gave up would
    exit and deliver nothing until restarted by hand, so it reconnects instead.
    """
    conf = getattr(sender, "app", app).conf
    conf.broker_connection_retry = True
    conf.broker_connection_retry_on_startup = True
    conf.broker_connection_max_retries = None  # None: for ever
