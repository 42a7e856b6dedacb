"""Serializers of the kernel's models, and the list serializer of large pages."""

import copy
import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial
from operator import attrgetter

from django.conf import settings
from django.db.models.manager import BaseManager
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField, empty
from rest_framework.relations import PKOnlyObject, RelatedField
from rest_framework.settings import api_settings

from opsdesk.models import Service, Team

Reader = tuple[str, Callable, Callable]


class PageSerializer(serializers.ListSerializer):
    """A list endpoint's page in one pass: first the child's ``prepare_page(rows)`` computes what
    rows would otherwise each work out alone (SLA states, available transitions) into the
    shared context; then every row is rendered as ``Serializer.to_representation`` renders it,
    with each field's reader and renderer chosen once: a model column is read as a plain
    attribute (a foreign key shown by its id, as its id) instead of DRF's generic lookup, a bool
    stays itself and an instant is put in the response's time zone looked up once per page.
    Only fields whose class keeps DRF's own method get a shortcut; a test compares the result
    with each row serialized alone.

    The child's fields are built once per process and serializer class (``FieldPlan``), not per
    request: DRF's ``ModelSerializer.get_fields`` copies and builds every field each time. A
    field whose methods may read the serializer's context (its request: a method field, a
    hyperlink, a file's URL, a nested serializer, any field class with a method of its own) is
    copied from the plan and bound to the request's serializer each time."""

    def to_representation(self, data):
        rows = list(data.all() if isinstance(data, BaseManager) else data)
        prepare = getattr(self.child, "prepare_page", None)
        if prepare is not None:
            prepare(rows)
        readers = self._readers()
        return [_render(row, readers) for row in rows]

    def _readers(self) -> list[Reader]:
        """Per readable field: its name, how to read its value off a row, how to render it."""
        plan = FieldPlan.of(self.child)
        if plan is not None:
            return plan.readers(self.child)
        # Fields this serializer instance builds itself (or already built): read them as they are.
        columns = _columns(self.child)
        zone = _page_zone()
        return [_reader(field, columns, zone) for field in self.child._readable_fields]


class FieldPlan:
    """The readable fields of a serializer class, built and bound once (to a serializer of the
    class with no context) and shared by every page the class renders, in every thread. The
    readers of the fields that may read the context are made per request from copies of the
    plan's fields bound to that request's serializer."""

    _plans: "dict[type, FieldPlan | None]" = {}  # per class, for the process (the classes are made at import)
    _lock = threading.Lock()

    def __init__(self, serializer_class: type[serializers.Serializer]):
        self.prototype = serializer_class()  # context {}: what the shared fields are bound to
        self.columns = _columns(self.prototype)
        self.fields = list(self.prototype._readable_fields)
        self.per_request = [(i, f) for i, f in enumerate(self.fields) if not context_free(f)]
        self._shared: dict[tuple, list[Reader | None]] = {}  # per (time zone, DRF's datetime format)

    @classmethod
    def of(cls, serializer: serializers.Serializer) -> "FieldPlan | None":
        """The plan of ``serializer``'s class; None when its fields are its own: a class that
        builds them in its own ``get_fields``, or an instance whose fields were already built."""
        if "fields" in serializer.__dict__ or type(serializer).get_fields not in _DRF_GET_FIELDS:
            return None
        serializer_class = type(serializer)
        if serializer_class in cls._plans:  # plans are never removed: no lock needed to read one
            return cls._plans[serializer_class]
        with cls._lock:  # one build per class, whichever thread asks first
            if serializer_class not in cls._plans:
                try:
                    plan = cls(serializer_class)
                except TypeError:  # a class that cannot be made without arguments
                    plan = None
                cls._plans[serializer_class] = plan
            return cls._plans[serializer_class]

    def readers(self, serializer: serializers.Serializer) -> list[Reader]:
        zone = _page_zone()
        key = (zone, api_settings.DATETIME_FORMAT)
        shared = self._shared.get(key)
        if shared is None:  # built the same by any thread: the last one stored wins
            per_request = {i for i, _ in self.per_request}
            shared = [None if i in per_request else _reader(f, self.columns, zone) for i, f in enumerate(self.fields)]
            self._shared[key] = shared
        readers = list(shared)
        for i, field in self.per_request:
            bound = copy.deepcopy(field)  # unbound, as DRF's get_fields copies it
            bound.bind(field.field_name, serializer)
            readers[i] = _reader(bound, self.columns, zone)
        return readers


_DRF_GET_FIELDS = {serializers.Serializer.get_fields, serializers.ModelSerializer.get_fields}

# DRF's field classes whose to_representation reads no context (no request, no parent serializer).
_CONTEXT_FREE_METHODS = {
    cls.to_representation
    for cls in (
        serializers.BooleanField, serializers.CharField, serializers.EmailField, serializers.RegexField,
        serializers.SlugField, serializers.URLField, serializers.UUIDField, serializers.IPAddressField,
        serializers.IntegerField, serializers.FloatField, serializers.DecimalField, serializers.DateTimeField,
        serializers.DateField, serializers.TimeField, serializers.DurationField, serializers.ChoiceField,
        serializers.MultipleChoiceField, serializers.JSONField, serializers.ReadOnlyField,
        serializers.ModelField, serializers.PrimaryKeyRelatedField, serializers.SlugRelatedField,
        serializers.StringRelatedField,
    )
}
_CONTEXT_FREE_READS = {serializers.Field.get_attribute, RelatedField.get_attribute}


def context_free(field: serializers.Field) -> bool:
    """Whether the field renders the same whatever serializer (context, request) it is bound to:
    DRF's own reading and rendering of plain values, and no default to fall back on (a default
    may need the context)."""
    return (
        not isinstance(field, serializers.BaseSerializer)
        and type(field).to_representation in _CONTEXT_FREE_METHODS
        and type(field).get_attribute in _CONTEXT_FREE_READS
        and field.default is empty
    )


def _columns(serializer) -> dict:
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    return {f.name: f for f in model._meta.concrete_fields} if model is not None else {}


def _page_zone():
    """The time zone DRF's ``DateTimeField.default_timezone`` gives, once for the page."""
    return timezone.get_current_timezone() if settings.USE_TZ else None


def _reader(field: serializers.Field, columns: dict, zone) -> Reader:
    """How to read the field's value off a row and render it, as DRF does."""
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
    elif field.source == "*" and type(field).get_attribute is serializers.Field.get_attribute:
        read = _same  # DRF's lookup of no attributes: the row itself
    method = type(field).to_representation
    if method is serializers.IntegerField.to_representation:
        render = int  # what DRF's method returns, without its frame
    elif method is serializers.CharField.to_representation:
        render = str
    elif method is serializers.BooleanField.to_representation:
        render = partial(_boolean, render)
    elif method is serializers.SerializerMethodField.to_representation:
        render = getattr(field.parent, field.method_name)  # the method of the request's serializer
    elif method is serializers.DateTimeField.to_representation and _iso(field):
        # The time zone of the response, looked up once for the page rather than per value.
        field_zone = field.timezone if hasattr(field, "timezone") else zone
        if field_zone is not None:
            render = partial(_iso_datetime, field_zone, field.to_representation)
    return field.field_name, read, render


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
