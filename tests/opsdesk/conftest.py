"""Fixtures of the kernel tests: Celery talking to a real broker, restored afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.conf import settings
from kombu import pools

from opsdesk import notifications
from opsdesk.celery import app as celery_app

_CONF_KEYS = [
    "broker_url", "broker_read_url", "broker_write_url", "broker_transport_options",
    "task_always_eager", "task_eager_propagates", "worker_hijack_root_logger",
    "broker_connection_retry", "broker_connection_retry_on_startup", "broker_connection_max_retries",
]


def _drop_connections() -> None:
    """Forget pooled broker connections, so the next publish connects to the current broker_url."""
    # The outbox's publisher thread must not be publishing (and re-caching a pool) meanwhile.
    notifications._publisher.wait_idle(timeout=20)
    pools.reset()  # closes and forgets kombu's global pools (a closed pool must not be handed out again)
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.fixture
def celery_broker() -> Callable[[str], None]:
    """``celery_broker(url)`` makes tasks go through the broker at ``url`` (not eagerly) until the test ends."""
    saved = {key: celery_app.conf[key] for key in _CONF_KEYS}

    def use(url: str) -> None:
        # Celery prefers the CELERY_BROKER_URL environment variable (set in CI) to broker_url;
        # the read/write URLs come before both.
        celery_app.conf.broker_url = url
        celery_app.conf.broker_read_url = url
        celery_app.conf.broker_write_url = url
        celery_app.conf.broker_transport_options = dict(settings.REDIS_BROKER_TRANSPORT_OPTIONS)
        celery_app.conf.task_always_eager = False
        celery_app.conf.worker_hijack_root_logger = False
        _drop_connections()

    yield use
    for key, value in saved.items():
        celery_app.conf[key] = value
    _drop_connections()


def purge_queues(*queues: str) -> None:
    """Empty the named queues on the current broker."""
    with celery_app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()

