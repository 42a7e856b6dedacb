"""The Celery application; tasks live in each app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE", f"opsdesk.settings.{os.environ.get('OPSDESK_ENV', 'local')}"
)

app = Celery("opsdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
