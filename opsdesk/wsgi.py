"""WSGI entry point (gunicorn opsdesk.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE", f"opsdesk.settings.{os.environ.get('OPSDESK_ENV', 'local')}"
)
application = get_wsgi_application()
