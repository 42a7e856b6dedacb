"""The automation rules of §8; importing this package registers each of them."""

from . import alert_to_incident, auto_assign, failed_deployments, recurring_incidents, release_planning  # noqa: F401
