"""Demo data of the desk tools: a few attachments on open incidents and a change, saved filters."""

from __future__ import annotations

import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile

from changes.choices import ChangeState
from changes.models import ChangeRequest
from incidents.choices import OPEN_STATES
from incidents.models import Incident
from opsdesk.choices import Role

from . import services


def _png(width: int = 160, height: int = 90) -> bytes:
    """A small grey PNG, standing in for a screenshot."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes([200, 200, 200]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _log(incident: Incident) -> bytes:
    lines = [f"{incident.detected_at:%Y-%m-%dT%H:%M}:{second:02d}Z ERROR {incident.service.slug} "
             f"upstream request failed (attempt {second % 3 + 1})" for second in range(0, 60, 7)]
    return ("\n".join(lines) + "\n").encode()


def seed(ctx) -> str:
    desk = ctx.user(Role.SERVICE_DESK)
    open_incidents = list(
        Incident.objects.filter(state__in=OPEN_STATES, confidential=False).select_related("service")
        .order_by("-detected_at")[:3]
    )
    count = 0
    for incident in open_incidents:
        name = f"{incident.service.slug}-errors.log"
        services.attachment_add(record=incident, upload=SimpleUploadedFile(name, _log(incident)), by=desk)
        count += 1
    if open_incidents:
        services.attachment_add(record=open_incidents[0], by=desk,
                                upload=SimpleUploadedFile("dashboard.png", _png(), content_type="image/png"))
        count += 1
    change = ChangeRequest.objects.filter(state=ChangeState.SUBMITTED).order_by("-submitted_at").first()
    if change is not None:
        manager = ctx.user(Role.CHANGE_MANAGERS)
        services.attachment_add(record=change, by=manager,
                                upload=SimpleUploadedFile("rollout-plan.png", _png(), content_type="image/png"))
        count += 1
    services.saved_filter_save(user=desk, list_key="incidents", name="Open criticals and highs",
                               query="state=detected&state=responding&state=on_hold&severity=critical")
    services.saved_filter_save(user=desk, list_key="incidents", name="Breached",
                               query="breached=true&state=detected&state=responding&state=on_hold")
    return f"{count} attachments, 2 saved filters"
