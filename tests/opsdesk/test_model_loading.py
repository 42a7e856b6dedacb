"""Incidents, changes and releases read from the database are the instances Django's
``Model.from_db`` makes (``WorkflowModel.from_db`` fills their ``__dict__`` at once)."""

from __future__ import annotations

import pytest
from django.db import models, transaction
from django.db.models.signals import post_init, pre_init
from django_fsm import ConcurrentTransition

from changes.models import ChangeRequest
from desk.models import Attachment
from incidents.models import Incident
from opsdesk.workflow import _plain_columns
from releases.models import Release
from tests.factories import ChangeRequestFactory, IncidentFactory, ReleaseFactory

pytestmark = pytest.mark.django_db

FACTORIES = {Incident: IncidentFactory, ChangeRequest: ChangeRequestFactory, Release: ReleaseFactory}


def djangos(model, queryset) -> list:
    """The rows of ``queryset`` as ``Model.from_db`` (and ``Model.__init__``) make them."""
    model.from_db = classmethod(models.Model.from_db.__func__)
    try:
        return list(queryset.all())
    finally:
        del model.from_db


def seen(instance) -> tuple:
    """All an instance holds, in order, with its database state (but the row as read, which
    ``WorkflowModel.from_db`` keeps for ``loaded_values``)."""
    attributes = {k: v for k, v in instance.__dict__.items() if k != "_loaded_row"}
    state = attributes.pop("_state")
    deferred = instance.get_deferred_fields()
    return list(attributes), list(attributes.items()), state.adding, state.db, state.fields_cache, deferred


@pytest.mark.parametrize("model", [Incident, ChangeRequest, Release])
@pytest.mark.parametrize("columns", ["all", "only", "defer the state"])
def test_a_row_is_the_instance_djangos_from_db_makes(model, columns):
    assert _plain_columns(model) is not None  # the quick way is the one taken
    FACTORIES[model].create_batch(3)
    queryset = model.objects.order_by("id")
    if columns == "only":
        queryset = queryset.only("id", "number")
    elif columns == "defer the state":
        queryset = queryset.defer("state")
    rows, expected = list(queryset), djangos(model, queryset)
    assert len(rows) == 3
    assert [seen(row) for row in rows] == [seen(row) for row in expected]
    # The row as read: every column read, by attribute name, nothing else.
    read = {"all": {f.attname for f in model._meta.concrete_fields}, "only": {"id", "number"}}.get(
        columns, {f.attname for f in model._meta.concrete_fields} - {"state"}
    )
    assert rows[0].loaded_values() == {name: getattr(expected[0], name) for name in read}
    assert model().loaded_values() == {}  # made in Python, not read
    assert rows[0].state == expected[0].state  # a deferred state loads, as Django loads it


def test_post_init_sees_the_instance_as_djangos_init_leaves_it():
    IncidentFactory()
    calls = []

    def look(sender, instance, **kwargs):
        calls.append((instance._state.adding, instance._state.db, instance.__dict__.get("title")))

    post_init.connect(look, sender=Incident)
    try:
        list(Incident.objects.all())
        djangos(Incident, Incident.objects.all())
    finally:
        post_init.disconnect(look, sender=Incident)
    assert len(calls) == 2 and calls[0] == calls[1]
    assert calls[0][:2] == (True, None)


def test_a_listener_of_pre_init_gets_djangos_own_way():
    incident = IncidentFactory()
    calls = []

    def look(sender, args, kwargs, **extra):
        calls.append(args[0])

    pre_init.connect(look, sender=Incident)
    try:
        Incident.objects.get(pk=incident.pk)
    finally:
        pre_init.disconnect(look, sender=Incident)
    assert calls == [incident.pk]


def test_a_column_whose_descriptor_does_more_is_left_to_django():
    assert _plain_columns(Attachment) is None  # a file: its descriptor wraps the value


def test_a_stale_row_still_may_not_overwrite_a_state_that_moved_on():
    incident = IncidentFactory()
    stale = Incident.objects.get(pk=incident.pk)
    Incident.objects.filter(pk=incident.pk).update(state="responding")
    stale.title = "Stale"
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.save()
    assert Incident.objects.get(pk=incident.pk).state == "responding"
