"""Automation pages: the rules and the run log, and one run — for everyone who may read them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from incidents.models import ActionItem
from incidents.selectors import incidents_visible_to
from opsdesk.pagination import EstimatedPaginator
from opsdesk.web import run_action

from . import incident_changes
from .filtersets import AutomationRunFilterSet
from .models import AutomationRun
from .selectors import rule_list, run_list, with_links
from .tables import AutomationRunTable

VIEW_RUNS = "automation.view_automationrun"
CHANGE_RULE = "automation.change_automationrule"


def _require_view(user) -> None:
    if not user.has_perm(VIEW_RUNS):
        raise PermissionDenied("Your role does not include reading the automation log.")


class AutomationView(LoginRequiredMixin, SingleTableMixin, FilterView):
    """The rules (what triggers each, what it does, on or off, params) and the filterable run log."""

    filterset_class = AutomationRunFilterSet
    table_class = AutomationRunTable
    template_name = "automation/automation.html"
    # The run log grows with every event: no exact COUNT(*) of it per page view (bench/NOTES.md).
    table_pagination = {"per_page": 25, "paginator_class": EstimatedPaginator}
    strict = False

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            _require_view(request.user)
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return run_list(user=self.request.user)

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        with_links(row.record for row in table.page.object_list)  # the page's rows only
        return table

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["rules"] = rule_list()
        context["can_edit_rules"] = user.is_staff and user.has_perm(CHANGE_RULE)
        return context


@login_required
def run_detail(request, pk: int):
    """One run: its rule, the event, the subject, the outcome and what it created or changed."""
    _require_view(request.user)
    try:
        run = run_list(user=request.user).get(pk=pk)
    except AutomationRun.DoesNotExist as exc:
        raise Http404("No such automation run.") from exc
    with_links([run])
    return render(request, "automation/run_detail.html", {"run": run})


@login_required
@require_POST
def action_item_raise_change(request, item_id: int):
    """"Raise a change" on the incident page: a draft normal change for the action item, then back."""
    item = ActionItem.objects.filter(
        pk=item_id, incident__in=incidents_visible_to(request.user).values("pk")
    ).select_related("incident").first()
    if item is None:
        raise Http404("No such action item.")
    raised: list = []
    if run_action(
        request, lambda: raised.append(incident_changes.action_item_raise_change(item=item, by=request.user))
    ):
        change = raised[0]
        messages.success(request, f"{change.number} raised as a draft normal change for “{item.title}”.")
    return redirect(reverse("incidents:detail", kwargs={"pk": item.incident_id}) + "#action-items")
