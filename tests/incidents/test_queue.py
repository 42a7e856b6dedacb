"""The incident queue's table: its rows rendered in Python, cell by cell, as django-tables2's
template renders them; its pages read ids first; the filtered queue; the filter form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import dateformat, timezone
from django_tables2 import RequestConfig

from incidents import services
from incidents.models import Incident
from incidents.selectors import QUEUE_ROW_FIELDS, incident_list, order_by_urgency, queue_rows
from incidents.tables import IncidentTable, paginate
from opsdesk.choices import Role
from opsdesk.pagination import EstimatedPaginator, page_of
from opsdesk.templatetags.opsdesk_format import DATETIME, format_person
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

NOW = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def ago(**delta) -> datetime:
    return NOW - timedelta(**delta)


@pytest.fixture
def situations(desk, frozen):
    """One incident in each state and SLA situation the queue draws, keyed by a name."""
    team = TeamFactory(name="Payments", members=[desk])
    checkout = ServiceFactory(name="Checkout <main>", owner_team=team)
    other_team = TeamFactory(name="Search")
    search = ServiceFactory(name="Search", owner_team=other_team)
    alice = UserFactory(username="alice", first_name="Alice", last_name="Ng")

    def run(incident, *steps):
        for name, at, extra in steps:
            incident = services.incident_transition(instance=incident, name=name, by=None, at=at, **extra)
        return incident

    made = {
        "fresh": IncidentFactory(severity="critical", service=checkout, title="Card <b>errors</b>",
                                 detected_at=ago(minutes=3)),
        "response breached": IncidentFactory(severity="critical", service=search, detected_at=ago(minutes=40),
                                             response_breached=True),
        "responding": run(IncidentFactory(severity="high", service=checkout, assignee=alice,
                                          detected_at=ago(hours=1)), ("acknowledge", ago(minutes=50), {})),
        "on hold": run(IncidentFactory(severity="medium", service=checkout, detected_at=ago(minutes=65)),
                       ("acknowledge", ago(minutes=50), {}), ("hold", ago(minutes=30), {})),
        "resolved": run(IncidentFactory(severity="low", service=search, detected_at=ago(hours=3)),
                        ("acknowledge", ago(hours=2), {}),
                        ("resolve", ago(hours=1), {"resolution_summary": "fixed"})),
        "closed": run(IncidentFactory(severity="medium", service=search, detected_at=ago(days=3)),
                      ("acknowledge", ago(days=3), {}), ("resolve", ago(days=2), {"resolution_summary": "fixed"}),
                      ("close", ago(days=1), {"root_cause": "r", "lessons_learned": "l"})),
        "cancelled": run(IncidentFactory(severity="low", service=checkout, detected_at=ago(hours=5)),
                         ("cancel", ago(hours=4), {"reason": "duplicate"})),
        "confidential, no team": IncidentFactory(severity="high", service=search, team=None, confidential=True,
                                                 reporter=desk, detected_at=ago(minutes=20)),
    }
    Incident.objects.filter(pk=made["responding"].pk).update(escalation_level=2)
    return made


def queue_table(request, *, stock: bool, per_page: int = 50) -> IncidentTable:
    """The queue's table as the view builds it; ``stock``: rendered and paged the way
    django-tables2 does it on its own (its template, its paginator over bound rows)."""
    kwargs = {"template_name": "django_tables2/bootstrap5.html"} if stock else {}
    table = IncidentTable(order_by_urgency(incident_list(user=request.user)), now=NOW, user=request.user, **kwargs)
    RequestConfig(request, paginate=False).configure(table)
    if stock:
        table.paginate(page=request.GET.get("page", 1), per_page=per_page)
    else:
        paginate(table, request, per_page)
    table.prepare()
    return table


def rendered(table, request, *, raw: bool = False) -> str:
    """The table as ``{% render_table %}`` writes it, the whitespace between tags dropped unless ``raw``."""
    html = Template("{% load django_tables2 %}{% render_table table %}").render(
        Context({"table": table, "request": request}))
    return html if raw else re.sub(r">\s+<", "><", html).strip()


def rows_of(html: str) -> dict[str, list[str]]:
    """Each row's cells (the HTML inside every ``<td>``), keyed by the row's incident id."""
    return {pk: re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for pk, row in re.findall(r'<tr data-state="[a-z_]+" id="incident-(\d+)"[^>]*>(.*?)</tr>', html, re.S)}


def test_rows_are_written_as_django_tables2_writes_them(situations, desk, frozen):
    request = RequestFactory().get("/incidents/", {"sort": "-detected_at"})
    request.user = desk
    ours, stock = rendered(queue_table(request, stock=False), request), rendered(queue_table(request, stock=True),
                                                                                  request)
    assert len(rows_of(ours)) == len(situations)
    assert ours == stock  # header and sort links, rows (even/odd, attributes), every cell


@pytest.mark.parametrize("page", [1, 2, 3])
def test_header_and_pages_are_written_as_django_tables2_writes_them(situations, desk, frozen, page):
    request = RequestFactory().get("/incidents/", {"sort": "-detected_at", "q": "", "page": page, "x": 'a"<b>&c'})
    request.user = desk
    ours = rendered(queue_table(request, stock=False, per_page=3), request, raw=True)
    stock = rendered(queue_table(request, stock=True, per_page=3), request, raw=True)
    assert ours.count('class="page-link"') == 3 + (page > 1) + (page < 3)  # pages 1-3, previous, next
    # Header and pages byte for byte, whitespace included; the rows cell for cell (django-tables2 counts even and odd
    # rows across every row it ever bound, so a page of its own may start with "odd").
    # (The whitespace around the body is the body's template's: not compared.)
    assert ours.split("<tbody")[0].rstrip() == stock.split("<tbody")[0].rstrip()
    assert ours.split("</tbody>")[1].lstrip() == stock.split("</tbody>")[1].lstrip()
    assert rows_of(ours) == rows_of(stock)
    assert len(rows_of(ours)) == (3 if page < 3 else 2)


def test_each_cell_shows_what_the_row_is(situations, desk, frozen):
    request = RequestFactory().get("/incidents/")
    request.user = desk
    rows = rows_of(rendered(queue_table(request, stock=False), request))
    fresh, responding = situations["fresh"], situations["responding"]
    select, number, title, severity, state, assignee, _detected, sla, actions = rows[str(fresh.pk)]
    assert select == (f'<input class="form-check-input bulk-select" type="checkbox" name="incident" '
                      f'value="{fresh.pk}" form="bulk-form" aria-label="Select {fresh.number}">')
    assert number == f'<a class="text-decoration-none" href="/incidents/{fresh.pk}/">{fresh.number}</a>'
    assert title == (f'<a href="/incidents/{fresh.pk}/" class="link-body-emphasis text-decoration-none">'
                     'Card &lt;b&gt;errors&lt;/b&gt;</a>'
                     '<div class="small text-body-secondary">Checkout &lt;main&gt; · Payments</div>')
    assert severity == '<span class="badge text-bg-danger" data-severity="critical">Critical</span>'
    assert state == ('<span class="badge bg-danger-subtle text-danger-emphasis border border-danger-subtle" '
                     'data-state="detected">Detected</span>')
    assert assignee == "Unassigned"
    assert sla == ('<div class="sla-soon" data-sla-status="ok">12 min left</div>'
                   '<div class="small text-body-secondary lh-1">response</div>')
    assert actions == ('<button class="btn btn-outline-primary btn-sm py-0" type="submit" form="bulk-form" '
                       f'formaction="/incidents/{fresh.pk}/assign-to-me/" data-assign-to-me="{fresh.number}">'
                       'Assign to me</button>')

    cells = rows[str(responding.pk)]
    assert cells[4].endswith('<span class="badge bg-danger-subtle text-danger-emphasis border border-danger-subtle" '
                             'title="Escalation level 2">esc 2</span>')
    assert cells[5] == "Alice Ng"
    assert cells[7].startswith('<div class="sla-ok" data-sla-status="ok">')  # the resolution clock, 4 h high
    assert ">resolution</div>" in cells[7]

    sla_of = {name: re.search(r'<div class="([a-z-]+)" data-sla-status="([a-z]*)">([^<]*)</div>',
                              rows[str(incident.pk)][7]).groups() for name, incident in situations.items()}
    assert sla_of["response breached"] == ("sla-breached", "breached", "breached by 25 min")
    assert sla_of["on hold"][0:2] == ("sla-paused", "paused")
    assert 'paused: on hold</span>' in rows[str(situations["on hold"].pk)][7]
    assert sla_of["resolved"] == ("sla-ok", "met", "met")
    assert sla_of["cancelled"] == ("text-body-secondary", "", "—")
    confidential = rows[str(situations["confidential, no team"].pk)]
    assert '<span class="badge text-bg-dark" title="Confidential: visible to Incident Managers, its team and ' \
           'reporter">Confidential</span><div class="small text-body-secondary">Search</div>' in confidential[2]
    # Assign to me: open, not mine, of my team or of none; never for closed or cancelled ones.
    offered = {name for name, incident in situations.items() if "Assign to me" in rows[str(incident.pk)][8]}
    assert offered == {"fresh", "responding", "on hold", "confidential, no team"}


def test_detected_column_uses_the_site_format(situations, desk, frozen):
    request = RequestFactory().get("/incidents/")
    request.user = desk
    rows = rows_of(rendered(queue_table(request, stock=False), request))
    assert rows[str(situations["fresh"].pk)][6] == "14 Mar 2026 09:57"
    for incident in situations.values():
        assert rows[str(incident.pk)][6] == dateformat.format(timezone.localtime(incident.detected_at), DATETIME)


def test_an_empty_queue_says_so(desk, frozen):
    request = RequestFactory().get("/incidents/")
    request.user = desk
    html = rendered(queue_table(request, stock=False), request)
    assert '<tbody ><tr><td colspan="9">No incidents match these filters.</td></tr></tbody>' in html


# --- pages read ids first ---------------------------------------------------------------


def test_a_page_read_ids_first_is_the_same_page(desk, frozen):
    for i in range(23):
        IncidentFactory(severity=("critical", "high", "medium", "low")[i % 4], detected_at=ago(minutes=7 * i))
    queue = order_by_urgency(incident_list(user=desk))
    everything = [incident.pk for incident in queue]
    for offset in (0, 5, 10, 20):
        assert [i.pk for i in page_of(queue, offset, 5, ids_first=True)] == everything[offset:offset + 5]
        assert [i.pk for i in page_of(queue, offset, 5)] == everything[offset:offset + 5]


def test_pages_of_queue_rows_are_the_queue_in_order(desk, frozen):
    for i in range(23):
        IncidentFactory(severity=("critical", "high", "medium", "low")[i % 4], detected_at=ago(minutes=7 * i),
                        assignee=UserFactory(first_name="Ann", last_name="Lee") if i % 3 else None)
    queue = order_by_urgency(incident_list(user=desk))
    everything = list(queue)
    paginator = EstimatedPaginator(queue, 10, rows=queue_rows)
    pages = [paginator.page(number) for number in (1, 2, 3)]
    assert [[row.pk for row in page.object_list] for page in pages] == [
        [i.pk for i in everything[0:10]], [i.pk for i in everything[10:20]], [i.pk for i in everything[20:]]]
    assert [page.has_next() for page in pages] == [True, True, False]
    by_pk = {incident.pk: incident for incident in everything}
    for row in pages[0].object_list:  # what the cells and the SLA clock read, as the incident has it
        incident = by_pk[row.pk]
        for field in QUEUE_ROW_FIELDS:
            if "__" not in field:
                assert getattr(row, field) == getattr(incident, field), field
        assert row.service.name == incident.service.name
        assert (row.team and row.team.name) == (incident.team and incident.team.name)
        assert format_person(row.assignee) == format_person(incident.assignee)


# --- the filtered queue ---------------------------------------------------------------------


def test_the_open_breached_high_queue_holds_exactly_those_most_urgent_first(client, desk, frozen):
    def high(**kwargs):
        return IncidentFactory(severity="high", **kwargs)

    detected = high(detected_at=ago(minutes=50), response_breached=True)
    older = high(detected_at=ago(minutes=90), response_breached=True)
    responding = services.incident_transition(
        instance=high(detected_at=ago(hours=6), resolution_breached=True), name="acknowledge", by=None,
        at=ago(hours=5))
    held = services.incident_transition(
        instance=services.incident_transition(instance=high(detected_at=ago(hours=7), response_breached=True),
                                              name="acknowledge", by=None, at=ago(hours=6)),
        name="hold", by=None, at=ago(hours=1))
    # not in it: not breached, not high, not open
    high(detected_at=ago(minutes=10))
    IncidentFactory(severity="medium", response_breached=True, detected_at=ago(minutes=50))
    services.incident_transition(
        instance=services.incident_transition(instance=high(detected_at=ago(hours=9), response_breached=True),
                                              name="acknowledge", by=None, at=ago(hours=8)),
        name="resolve", by=None, at=ago(hours=2), resolution_summary="fixed")
    client.force_login(desk)
    url = reverse("incidents:list") + "?state=detected&state=responding&state=on_hold&breached=true&severity=high"
    response = client.get(url)
    numbers = re.findall(r'id="incident-(\d+)"', response.content.decode())
    # running clocks first, the most overdue deadline first (the responding one's resolution was due
    # 2 h ago, the detected ones' responses 60 and 20 min ago); then the held one
    assert numbers == [str(i.pk) for i in (responding, older, detected, held)]
    assert "Incidents 1–4 of 4" in response.content.decode()
    # with more of them, pages of 10 continue each other in the same order
    for minutes in range(11):
        high(detected_at=ago(minutes=30 + minutes), response_breached=True)

    def page(query):
        return re.findall(r'id="incident-(\d+)"', client.get(url + query).content.decode())

    whole = page("&per_page=50")
    assert len(whole) == 15
    assert page("&per_page=10") + page("&per_page=10&page=2") == whole


# --- the filter form ------------------------------------------------------------------


def test_the_severity_filter_offers_any_severity_once(client, desk, frozen):
    client.force_login(desk)
    for query in ("", "?severity=high"):
        content = client.get(reverse("incidents:list") + query).content.decode()
        select = re.search(r'<select name="severity" class="select form-select" id="id_severity">(.*?)</select>',
                           content, re.S).group(1)
        options = re.findall(r'<option value="([a-z]*)"( selected)?>([^<]+)</option>', select)
        assert [(value, label) for value, _selected, label in options] == [
            ("", "Any severity"), ("critical", "Critical"), ("high", "High"), ("medium", "Medium"), ("low", "Low")]
        assert [value for value, selected, _label in options if selected] == [query.partition("=")[2]]


def test_the_assignee_lists_offer_the_people_who_work_incidents(client, desk, user_in_role, frozen):
    worker = user_in_role(Role.SERVICE_DESK, username="zed", first_name="Zoe", last_name="Adams")
    UserFactory(username="reader")  # no role: works no incidents
    client.force_login(desk)
    content = client.get(reverse("incidents:list") + f"?assignee={worker.pk}").content.decode()
    filter_select = re.search(r'<select name="assignee" class="select form-select" id="id_assignee">(.*?)</select>',
                              content, re.S).group(1)
    people = sorted([desk, worker], key=lambda user: (user.first_name, user.last_name, user.username))
    assert re.findall(r"<option[^>]*>([^<]+)</option>", filter_select) == [
        "Anyone", *(f"{user.get_full_name()} ({user.username})" for user in people)]
    assert f'<option value="{worker.pk}" selected>Zoe Adams (zed)</option>' in filter_select
    bulk_select = re.search(r'<select name="assignee" id="bulk-assignee"[^>]*>(.*?)</select>', content).group(1)
    assert bulk_select == '<option value="">Assignee…</option>' + "".join(
        f'<option value="{user.pk}">{user.get_full_name()}</option>' for user in people)
