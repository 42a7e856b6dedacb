"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE", f"opsdesk.settings.{os.environ.get('OPSDESK_ENV', 'local')}"
)
application = get_asgi_application()
