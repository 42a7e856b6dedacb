"""One FilterSet for the run log: the API (``?rule=&outcome=&event=``) and the web page."""

import django_filters

from opsdesk import events
from opsdesk.datetimes import OffsetDateTimeFilter

from .choices import RuleKey, RunOutcome
from .models import AutomationRun


class AutomationRunFilterSet(django_filters.FilterSet):
    rule = django_filters.ChoiceFilter(field_name="rule__key", choices=RuleKey.choices, label="Rule")
    outcome = django_filters.ChoiceFilter(choices=RunOutcome.choices)
    event = django_filters.ChoiceFilter(choices=[(name, name) for name in events.EVENT_TYPES], label="Event")
    subject = django_filters.CharFilter(
        field_name="subject_number", lookup_expr="iexact", label="Subject number", help_text="e.g. INC-000123"
    )
    created_after = OffsetDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = OffsetDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AutomationRun
        fields = ["rule", "outcome", "event", "subject", "created_after", "created_before"]
