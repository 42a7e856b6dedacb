"""Store the warning instants and the working time to resolve of existing incidents.

Every policy counted around the clock before calendars existed, so both follow
from the stored deadlines with plain arithmetic (one UPDATE per severity and clock):
response warning = detected_at + threshold × response window; resolution warning =
resolution_due − (1 − threshold) × resolution window (the deadline already holds the
time on hold); working time to resolve = resolved_at − detected_at.
"""

from django.db import migrations
from django.db.models import DurationField, ExpressionWrapper, F


def backfill(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    SLAPolicy = apps.get_model("incidents", "SLAPolicy")
    for policy in SLAPolicy.objects.all():
        threshold = float(policy.warning_threshold)
        rows = Incident.objects.filter(severity=policy.severity)
        rows.filter(response_due__isnull=False).update(
            response_warning_due=F("detected_at") + policy.response_time * threshold
        )
        rows.filter(resolution_due__isnull=False).update(
            resolution_warning_due=F("resolution_due") - policy.resolution_time * (1 - threshold)
        )
    Incident.objects.filter(resolved_at__isnull=False).update(
        working_time_to_resolve=ExpressionWrapper(F("resolved_at") - F("detected_at"), output_field=DurationField())
    )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_business_calendars")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
