"""The one internal shape every payload format is parsed into, and the checks they share.

A parser turns a request body into a ``Parsed``: the alerts it could read and
the ones it could not (``rejected``, each naming the bad part). A body that is
wrong as a whole (not an object, no ``alerts`` list) raises ``PayloadError``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_FINGERPRINT = 128
MAX_LABELS = 100
MAX_TEXT = 10_000
# Alertmanager and Grafana send Go's zero time for "not set" (endsAt of a firing alert).
GO_ZERO_TIME = re.compile(r"^0001-01-01T00:00:00(\.0+)?(Z|[+-]00:00)$")
_FRACTION = re.compile(r"(\.\d{6})\d+")
MAX_OFFSET = timedelta(hours=14)


class PayloadError(Exception):
    """The body cannot be taken at all; ``errors`` maps the bad part (``body``, ``alerts``, …) to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class AlertError(Exception):
    """One alert of the payload is bad: ``path`` names the part (``alerts[3].startsAt``)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class ParsedAlert:
    """One alert, whatever format it came in: the severity is ``labels.severity`` and the service
    the source's service label, as in Alertmanager (the generic format's fields are put there)."""

    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    group_key: str
    group_label: str


@dataclass(frozen=True)
class Rejected:
    """An alert that was not taken, and why (``errors``: part → message)."""

    index: int
    fingerprint: str | None
    errors: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "fingerprint": self.fingerprint, "errors": self.errors}


@dataclass
class Parsed:
    alerts: list[ParsedAlert] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def load_json(body: bytes) -> Any:
    """The body as JSON, or PayloadError naming what is wrong with it."""
    if not body.strip():
        raise PayloadError({"body": "The body is empty: send the alerts as JSON."})
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise PayloadError({"body": "The body is not UTF-8 text."}) from None
    except json.JSONDecodeError as exc:
        raise PayloadError({"body": f"Invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."}) from None


def require_object(payload: Any) -> dict:
    if not isinstance(payload, dict):
        raise PayloadError({"body": "Send a JSON object with an \"alerts\" list."})
    return payload


def alert_list(payload: dict) -> list:
    alerts = payload.get("alerts")
    if alerts is None:
        raise PayloadError({"alerts": "Missing: the payload needs an \"alerts\" list."})
    if not isinstance(alerts, list):
        raise PayloadError({"alerts": "Must be a list of alerts."})
    if not alerts:
        raise PayloadError({"alerts": "The list is empty: there is no alert to take."})
    return alerts


def parse_time(value: Any, path: str, *, required: bool) -> datetime | None:
    """An ISO 8601 time with an offset (nanoseconds allowed); Go's zero time and empty mean "not set"."""
    if value is None or value == "" or (isinstance(value, str) and GO_ZERO_TIME.match(value)):
        if required:
            raise AlertError(path, "Missing: give an ISO 8601 time with an offset.")
        return None
    if not isinstance(value, str):
        raise AlertError(path, "Must be an ISO 8601 time (a string), e.g. 2026-03-02T09:00:00Z.")
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise AlertError(path, f"{value!r} is not an ISO 8601 time.") from None
    offset = parsed.utcoffset()
    if offset is None:
        raise AlertError(path, f"{value!r} has no offset: add Z or +hh:mm.")
    if abs(offset) > MAX_OFFSET:
        raise AlertError(path, f"{value!r} has an offset beyond ±14 h.")
    if parsed.year < 1970:
        raise AlertError(path, f"{value!r} is before 1970.")
    return parsed


def string_map(value: Any, path: str, *, required: bool = False) -> dict[str, str]:
    """Labels or annotations: an object of strings (numbers and booleans are taken as their text)."""
    if value is None:
        if required:
            raise AlertError(path, "Missing: give an object of name → value.")
        return {}
    if not isinstance(value, dict):
        raise AlertError(path, "Must be an object of name → value.")
    if len(value) > MAX_LABELS:
        raise AlertError(path, f"More than {MAX_LABELS} entries.")
    result = {}
    for name, item in value.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, int | float):
            item = str(item)
        if not isinstance(item, str):
            raise AlertError(f"{path}.{name}", "Must be text.")
        result[str(name)[:200]] = item[:MAX_TEXT]
    return result


def optional_text(value: Any, path: str, *, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AlertError(path, "Must be text.")
    return value.strip()[:limit]


def status_of(value: Any, path: str, *, default: str | None = None) -> str:
    if value is None and default is not None:
        return default
    if value not in ("firing", "resolved"):
        raise AlertError(path, "Must be \"firing\" or \"resolved\".")
    return value


def fingerprint_of(value: Any, path: str, *, labels: dict[str, str], extra: str = "") -> str:
    """The alert's own fingerprint, else one made from its sorted labels (as Alertmanager does)."""
    if value not in (None, ""):
        if not isinstance(value, str | int):
            raise AlertError(path, "Must be text.")
        value = str(value).strip()
        if len(value) > MAX_FINGERPRINT:
            raise AlertError(path, f"Longer than {MAX_FINGERPRINT} characters.")
        return value
    if not labels and not extra:
        raise AlertError(path, "Missing, and the alert has no labels to make one from.")
    canonical = json.dumps(labels, sort_keys=True) + extra
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def group_label(labels: dict[str, str]) -> str:
    """A readable name from group labels: ``alertname=HighLatency, cluster=eu-1``."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items(), key=lambda kv: (kv[0] != "alertname", kv[0])))


def parse_each(raw_alerts: list, parse_one) -> Parsed:
    """Run ``parse_one(index, raw)`` over every alert, keeping the good and naming the bad."""
    parsed = Parsed()
    for index, raw in enumerate(raw_alerts):
        try:
            if not isinstance(raw, dict):
                raise AlertError(f"alerts[{index}]", "Must be an object.")
            parsed.alerts.append(parse_one(index, raw))
        except AlertError as exc:
            fingerprint = raw.get("fingerprint") if isinstance(raw, dict) else None
            parsed.rejected.append(
                Rejected(index=index, fingerprint=fingerprint if isinstance(fingerprint, str) else None,
                         errors={exc.path: exc.message})
            )
    return parsed
