"""Serializers of the kernel's models, and the list serializer of large pages."""

from collections.abc import Callable
from datetime import datetime
from functools import partial
from operator import attrgetter

from django.db.models.manager import BaseManager
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject, RelatedField
from rest_framework.settings import api_settings

from opsdesk.models import Service, Team


class PageSerializer(serializers.ListSerializer):
    """A list endpoint's page in one pass: first the child's ``prepare_page(rows)`` computes what
    rows would otherwise each work out alone (SLA states, available transitions) into the
    shared context; then every row is rendered as ``Serializer.to_representation`` renders it,
    with each field's reader and renderer chosen once for the page: a model column is read as a
    plain attribute (a foreign key shown by its id, as its id) instead of DRF's generic lookup,
    a bool stays itself and an instant is put in the response's time zone looked up once. Only
    fields whose class keeps DRF's own method get a shortcut; a test compares the result with
    each row serialized alone."""

    def to_representation(self, data):
        rows = list(data.all() if isinstance(data, BaseManager) else data)
        prepare = getattr(self.child, "prepare_page", None)
        if prepare is not None:
            prepare(rows)
        readers = self._readers()
        return [_render(row, readers) for row in rows]

    def _readers(self) -> list[tuple[str, Callable, Callable]]:
        """Per readable field: its name, how to read its value off a row, how to render it."""
        model = getattr(getattr(self.child, "Meta", None), "model", None)
        columns = {f.name: f for f in model._meta.concrete_fields} if model is not None else {}
        readers = []
        for field in self.child._readable_fields:
            read, render = field.get_attribute, field.to_representation
            column = columns.get(field.source) if len(field.source_attrs) == 1 else None
            if column is not None:
                if isinstance(field, RelatedField) and field.use_pk_only_optimization():
                    if _renders_pk(field):  # its id as itself: no PKOnlyObject to wrap and unwrap
                        read, render = attrgetter(column.attname), _same
                    else:
                        read = partial(_related_id, column.attname)
                elif type(field).get_attribute is serializers.Field.get_attribute and not column.is_relation:
                    read = attrgetter(column.attname)
            method = type(field).to_representation
            if method is serializers.IntegerField.to_representation:
                render = int  # what DRF's method returns, without its frame
            elif method is serializers.CharField.to_representation:
                render = str
            elif method is serializers.BooleanField.to_representation:
                render = partial(_boolean, render)
            elif method is serializers.DateTimeField.to_representation and _iso(field):
                # The time zone of the response, looked up once for the page rather than per value.
                zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
                if zone is not None:
                    render = partial(_iso_datetime, zone, field.to_representation)
            readers.append((field.field_name, read, render))
        return readers


def _renders_pk(field: RelatedField) -> bool:
    """``PrimaryKeyRelatedField.to_representation`` of a PKOnlyObject is its pk, unchanged."""
    return (
        type(field).to_representation is serializers.PrimaryKeyRelatedField.to_representation
        and field.pk_field is None
    )


def _same(value):
    return value


def _related_id(attname: str, row) -> PKOnlyObject:
    return PKOnlyObject(pk=getattr(row, attname))


def _boolean(fallback: Callable, value):
    """``BooleanField.to_representation``: a bool is itself (DRF looks it up in its sets of truths)."""
    return value if value is True or value is False else fallback(value)


def _iso(field: serializers.DateTimeField) -> bool:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return isinstance(output_format, str) and output_format.lower() == ISO_8601


def _iso_datetime(zone, fallback: Callable, value):
    """``DateTimeField.to_representation`` of an aware datetime in ISO 8601 (UTC as ``Z``)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        return fallback(value)
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _render(row, readers) -> dict:
    data = {}
    for name, read, render in readers:
        try:
            value = read(row)
        except SkipField:
            continue
        if value is None or (isinstance(value, PKOnlyObject) and value.pk is None):
            data[name] = None
        else:
            data[name] = render(value)
    return data


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "members", "lead", "email", "webhook_url", "active"]


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug", "description", "owner_team", "criticality", "stakeholder_emails", "active"]
