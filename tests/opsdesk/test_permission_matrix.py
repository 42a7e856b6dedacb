"""Who may do what (§6), as one table: every role, anonymous and a user with no group, against
every web view, every admin page, every API endpoint and every transition.

The rows are generated (URL resolver, the admin registry, the API's URL patterns, the workflow
models' transitions), so a new page or endpoint is in the matrix by itself; its expected outcome
comes from the permission it needs (``WEB_VIEWS`` for pages, the model permission for the
admin and the API, the transition's permission) and what each role holds (``roles.ROLE_PERMISSIONS``,
the table of §6). One request per cell; each cell runs in a rolled-back savepoint, so a permitted
transition does not change the next cell's object.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from changes.models import ChangeRequest
from incidents.models import Incident
from opsdesk.choices import Role
from opsdesk.models import AuditEvent
from opsdesk.roles import ROLE_PERMISSIONS
from releases.models import Release
from tests.factories import ChangeRequestFactory, ReleaseFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

ANONYMOUS, NO_GROUP = "anonymous", "no group"
COLUMNS = [ANONYMOUS, NO_GROUP, *Role.values]
LOGIN = "login"  # any logged-in user
PUBLIC = "public"

# Web pages: URL name → (the permission a GET needs, or LOGIN/PUBLIC); POST-only views are None
# (a GET is 405 for everyone logged in; their permissions are the services', tested per app).
WEB_VIEWS: dict[str, str | None] = {
    "home": LOGIN,
    "healthz": PUBLIC,
    "favicon": PUBLIC,
    "login": PUBLIC,
    "logout": None,
    "incidents:list": "incidents.view_incident",
    "incidents:create": "incidents.add_incident",
    "incidents:detail": "incidents.view_incident",
    "incidents:edit": "incidents.change_incident",
    "incidents:live": "incidents.view_incident",
    "changes:list": "changes.view_changerequest",
    "changes:create": "changes.add_changerequest",
    "changes:calendar": "changes.view_changerequest",
    "changes:detail": "changes.view_changerequest",
    "changes:edit": "changes.change_changerequest",
    "changes:calendar-feed": PUBLIC,  # its own token, not a session
    "releases:list": "releases.view_release",
    "releases:create": "releases.add_release",
    "releases:calendar": "releases.view_release",
    "releases:detail": "releases.view_release",
    "releases:edit": "releases.change_release",
    "releases:deployment_update": None,
    "metrics:dashboard": "metrics.view_metricsnapshot",
    "metrics:services": "metrics.view_metricsnapshot",
    "metrics:service": "metrics.view_metricsnapshot",
    "survey": PUBLIC,  # its own signed token, not a session
    "automation:index": "automation.view_automationrun",
    "automation:run": "automation.view_automationrun",
    "desk:search": LOGIN,  # finds only what the user may see (tests/desk)
    "desk:export": "incidents.view_incident",  # the incident list's export
}
# 404 for a record the user may not see, whatever the role (tests/desk/test_attachments.py).
OWN_CHECKS = {"desk:attachment-download"}
POST_ONLY = re.compile(
    r"^(incidents:(transition|note|severity|escalate|step-.*|review|action-item-.*|status-update-add|declare-major|bulk|assign-to-me)"
    r"|changes:(transition|approve|reject|feed-token-.*)|releases:(transition|deliverable_add|deployment_add|"
    r"check_record)|automation:raise-change|desk:(saved-filter-.*|attachment-upload|attachment-delete))$"
)

# API: viewset basename → model permission prefix (app.model) for its routes.
API_MODELS = {
    "incident": "incidents.incident", "calendar": "incidents.businesscalendar", "sla-policy": "incidents.slapolicy",
    "changerequest": "changes.changerequest", "release": "releases.release",
    "automation-run": "automation.automationrun",
    "automation-rule": "automation.automationrule", "alert-source": "alerts.alertsource", "service": "opsdesk.service",
    "team": "opsdesk.team",
}
# API routes whose reads need more than the model's view permission, or other checks.
API_SPECIAL = {
    "metrics-summary": "metrics.view_metricsnapshot",
    "metrics-timeseries": "metrics.view_metricsnapshot",
    "metrics-services": "metrics.view_metricsnapshot",
    "metrics-insights": "metrics.view_metricsnapshot",
}
# own auth or public; the availability series needs a service (tested in tests/metrics)
API_SKIPPED = {"api-root", "alerts-ingest", "change-calendar-feed", "schema", "api-docs", "metrics-service-timeseries"}
API_NESTED = {"release-deployment"}  # custom actions named like routes; tested per app
API_NESTED |= {"saved-filter"}  # each user's own rows, no model permission (tests/desk)


SUPERUSER_ONLY = {AuditEvent}  # the audit log (§6)


def _request_as(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def holds(column: str, perm: str | None) -> bool:
    if perm == PUBLIC:
        return True
    if column == ANONYMOUS:
        return False
    if perm == LOGIN:
        return True
    return column not in (NO_GROUP,) and perm in ROLE_PERMISSIONS[column]


def _patterns(resolver=None, prefix="", namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _patterns(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), f"{namespace}{pattern.name}", pattern


@pytest.fixture
def world(db):
    """One object of each kind the URLs name, and one user per column (all staff: the admin's
    own model permissions decide)."""
    from incidents.services import incident_create

    service = ServiceFactory()
    # Logged through the service, so that automation has a run to show.
    incident = incident_create(by=None, title="Matrix", service=service, severity="low")
    change = ChangeRequestFactory(services=[service])
    release = ReleaseFactory(services=[service])
    users = {ANONYMOUS: None, NO_GROUP: UserFactory(username="nogroup", is_staff=True)}
    for role in Role.values:
        users[role] = UserFactory(username=re.sub(r"\W", "", role.lower()), roles=[role], is_staff=True)
    return {"incident": incident, "change": change, "release": release, "service": service, "users": users}


def _clients(world) -> dict[str, Client]:
    clients = {}
    for column, user in world["users"].items():
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        clients[column] = client
    return clients


def _call(client, method: str, url: str, data=None):
    with transaction.atomic():
        response = getattr(client, method)(url, data or {}, content_type="application/json") \
            if method != "get" else client.get(url)
        transaction.set_rollback(True)
    return response


def _check(failures: list, label: str, column: str, response, allowed: bool, refused_status: int,
           allowed_status: int | None = None):
    status = response.status_code
    if status >= 500:
        failures.append(f"{label} as {column}: {status}")
    elif allowed and (status in (401, 403) or (allowed_status and status != allowed_status)):
        failures.append(f"{label} as {column}: {status}, expected {allowed_status or 'allowed'}")
    elif not allowed and status != refused_status:
        failures.append(f"{label} as {column}: {status}, expected {refused_status}")


def test_web_views(world):
    from automation.models import AutomationRun

    objects = {"incidents": world["incident"], "changes": world["change"], "releases": world["release"],
               "automation": AutomationRun.objects.order_by("id").first(), "metrics": world["service"]}
    clients = _clients(world)
    failures, rows = [], 0
    for route, name, _pattern in _patterns():
        if route.startswith(("admin/", "api/")):
            continue
        if name in OWN_CHECKS:
            continue
        assert name in WEB_VIEWS or POST_ONLY.match(name), f"{name} ({route}) is not in the permission table"
        namespace = name.split(":")[0]
        kwargs = {}
        for arg in re.findall(r"<(?:\w+:)?(\w+)>", route):
            kwargs[arg] = {"pk": getattr(objects.get(namespace), "pk", 1), "name": "acknowledge",
                           "list_key": "incidents", "kind": "incident"}.get(arg, 1)
        url = reverse(name, kwargs=kwargs)
        perm = WEB_VIEWS.get(name)
        rows += 1
        for column, client in clients.items():
            response = _call(client, "get", url)
            if perm is None:  # POST only
                expected = 302 if column == ANONYMOUS and name != "logout" else 405
                if response.status_code != expected:
                    failures.append(f"GET {url} as {column}: {response.status_code}, expected {expected}")
                continue
            if perm == PUBLIC:
                if response.status_code >= 500:
                    failures.append(f"GET {url} as {column}: {response.status_code}")
                continue
            allowed = holds(column, perm)
            refused = 302 if column == ANONYMOUS else 403
            _check(failures, f"GET {url}", column, response, allowed, refused, 200)
    assert rows >= 40
    assert not failures, "\n".join(failures)


def test_admin_pages(world):
    clients = _clients(world)
    failures = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        label = f"{opts.app_label}.{opts.model_name}"
        superuser_only = model in SUPERUSER_ONLY
        # Whether the admin lets anyone add here at all (read-only logs let nobody, §1, §6).
        offers_add = model_admin.has_add_permission(_request_as(UserFactory(is_staff=True, is_superuser=True)))
        for page, perms in (("changelist", (f"{opts.app_label}.view_{opts.model_name}",
                                            f"{opts.app_label}.change_{opts.model_name}")),
                            ("add", (f"{opts.app_label}.add_{opts.model_name}",))):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}")
            for column, client in clients.items():
                response = _call(client, "get", url)
                if column == ANONYMOUS:
                    if response.status_code != 302:
                        failures.append(f"{url} as anonymous: {response.status_code}")
                    continue
                allowed = not superuser_only and any(holds(column, p) for p in perms) and (
                    page != "add" or offers_add)
                _check(failures, f"{label} {page}", column, response, allowed, 403)
    assert not failures, "\n".join(failures)


def test_api_endpoints(world):
    objects = {"incident": world["incident"], "changerequest": world["change"], "release": world["release"],
               "service": world["service"], "team": world["service"].owner_team}
    clients = _clients(world)
    failures, rows = [], 0
    for route, name, pattern in _patterns():
        if not route.startswith("api/") or name in API_SKIPPED or "format" in route or "\\.(" in route:
            continue
        basename = name.rsplit("-", 1)[0] if name.endswith(("-list", "-detail")) else None
        if basename in API_NESTED:
            continue
        assert basename is None or basename in API_MODELS, f"{name}: add its model to API_MODELS"
        actions = getattr(pattern.callback, "actions", None) or {"get": None}
        if basename is None:
            if name in API_SPECIAL:
                perm = API_SPECIAL[name]
                methods = {"get": perm}
            else:
                continue  # a custom action: transitions are below, the others are tested per app
        else:
            model = API_MODELS[basename]
            app, model_name = model.split(".")
            methods = {}
            for method in actions:
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue  # HEAD and OPTIONS follow GET
                verb = {"get": "view", "post": "add", "put": "change", "patch": "change", "delete": "delete"}[method]
                methods[method] = f"{app}.{verb}_{model_name}"
        obj = objects.get(basename)
        path = route.replace("^", "").replace("$", "")
        path = re.sub(r"\(\?P<pk>[^)]*\)", str(obj.pk if obj else 1), path)
        path = re.sub(r"\(\?P<severity>[^)]*\)", "medium", path)
        path = re.sub(r"\(\?P<key>[^)]*\)", "auto_assign", path)
        query = "?from=2026-01-01&to=2026-02-01&metric=incidents.count&interval=day" if name in API_SPECIAL else ""
        url = "/" + path + query
        for method, perm in methods.items():
            if method == "put":
                continue  # the same permission as PATCH
            rows += 1
            for column, client in clients.items():
                response = _call(client, method, url)
                if column == ANONYMOUS:
                    if response.status_code != 401:
                        failures.append(f"{method.upper()} {url} as anonymous: {response.status_code}")
                    continue
                # A list (and any read of an existing object) is 200; a detail of a kind the world
                # has none of is a 404 for whoever may read it.
                full = method == "get" and (name.endswith("-list") or obj is not None or name in API_SPECIAL)
                _check(failures, f"{method.upper()} {url}", column, response, holds(column, perm), 403,
                       200 if full else None)
    assert rows >= 30
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("model", "resource", "key"), [
    (Incident, "incidents", "incident"), (ChangeRequest, "changes", "change"), (Release, "releases", "release"),
])
def test_transitions(world, model, resource, key):
    """Every transition of every workflow model over the API: refused (403) without the
    transition's permission, never refused for lack of it with it (409 from the wrong state is fine)."""
    obj = world[key]
    clients = _clients(world)
    failures = []
    field = model._meta.get_field("state")
    seen = {}
    for transition in field.get_all_transitions(model):
        seen.setdefault(transition.name, transition.permission)
    assert seen
    for name, perm in seen.items():
        url = f"/api/v1/{resource}/{obj.pk}/{name}/"
        for column, client in clients.items():
            response = _call(client, "post", url, {"comment": "matrix", "reason": "duplicate"})
            if column == ANONYMOUS:
                if response.status_code != 401:
                    failures.append(f"POST {url} as anonymous: {response.status_code}")
                continue
            allowed = perm is None or holds(column, perm if isinstance(perm, str) else "")
            _check(failures, f"POST {url}", column, response, allowed, 403)
    assert not failures, "\n".join(failures)


def test_the_matrix_covers_every_role_of_the_spec():
    assert set(COLUMNS) == {ANONYMOUS, NO_GROUP, *ROLE_PERMISSIONS}
