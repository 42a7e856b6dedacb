"""``{% automation_panel obj %}``: what automation did to an incident, change or release.

Process pages load this tag instead of importing the automation app, which sits
at the top of the import graph.
"""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from ..choices import RunObjectAction
from ..selectors import runs_about

register = template.Library()


@register.filter
def inline_code(text: str) -> str:
    """A rule summary with its `param` names set as code (the text itself is escaped)."""
    return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text)))  # noqa: S308 - escaped above


@register.inclusion_tag("automation/partials/panel.html", takes_context=True)
def automation_panel(context, obj):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("automation.view_automationrun"):
        return {"runs": [], "created_by_rule": getattr(obj, "created_by_rule", None)}
    related = obj.deployments.all() if hasattr(obj, "deployments") else None
    runs = runs_about(obj, user=user, related=related)
    creating = next(
        (
            run for run in runs for record in run.records.all()
            if record.action == RunObjectAction.CREATED and record.object_id == obj.pk
            and record.content_type.model_class() is type(obj)
        ),
        None,
    )
    return {"runs": runs, "created_by_rule": getattr(obj, "created_by_rule", None), "creating_run": creating}
