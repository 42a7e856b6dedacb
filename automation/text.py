"""Generated text that respects confidentiality (§6): a confidential incident is never named."""

from __future__ import annotations

from collections.abc import Iterable


def join_words(parts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def incidents_text(incidents: Iterable) -> str:
    """The numbers of the incidents, with the confidential ones only counted.

    ``incidents`` are Incident objects (or anything with ``number`` and ``confidential``):
    ``INC-000001, INC-000004 and 1 confidential incident``.
    """
    incidents = list(incidents)
    named = [incident.number for incident in incidents if not incident.confidential]
    hidden = len(incidents) - len(named)
    if hidden:
        named.append(f"{hidden} confidential incident{'s' if hidden != 1 else ''}")
    return join_words(named)


def incident_label(incident) -> str:
    """``INC-000123``, or ``a confidential incident``."""
    return "a confidential incident" if incident.confidential else incident.number
