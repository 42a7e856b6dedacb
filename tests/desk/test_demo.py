"""The desk tools' demo data: attachments on open incidents and a submitted change, saved filters."""

from __future__ import annotations

import pytest

from desk import demo
from desk.models import Attachment, SavedFilter
from opsdesk.choices import Role
from opsdesk.demo import seed_kernel
from opsdesk.notifications import muted

pytestmark = pytest.mark.django_db


def test_the_demo_attaches_logs_and_screenshots_and_saves_filters(submitted_change):
    from tests.factories import IncidentFactory

    ctx, _ = seed_kernel()
    for service in ctx.services[:4]:
        IncidentFactory(service=service, team=service.owner_team, reporter=ctx.user(Role.SERVICE_DESK))
    secret = IncidentFactory(confidential=True, title="Not attached to")
    submitted_change()
    with muted():
        summary = demo.seed(ctx)
    assert summary == "5 attachments, 2 saved filters"
    kinds = set(Attachment.objects.values_list("content_type__model", flat=True))
    assert kinds == {"incident", "changerequest"}
    assert Attachment.objects.filter(mime_type="text/plain").count() == 3
    assert not Attachment.objects.filter(content_type__model="incident", object_id=secret.pk).exists()
    for attachment in Attachment.objects.all():
        assert attachment.file.storage.exists(attachment.file.name)
    assert SavedFilter.objects.filter(user__username="desk", list="incidents").count() == 2
