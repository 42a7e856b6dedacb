"""Settings of ``bench/run``'s gunicorn: production settings, plus the bare ``.values()`` view's URL."""

from opsdesk.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
