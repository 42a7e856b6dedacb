"""The one way any incident, change or release changes state.

``apply_transition`` locks the row, checks permission (django-fsm-2 does not
check ``permission=`` when a transition is called), checks the state and the
gate, runs the ``@transition`` method, saves, and writes the transition log,
in one database transaction. Web views, the admin, the API and Celery tasks
all come through here.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import connections, models, router, transaction
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from django.utils import timezone
from django_fsm import ConcurrentTransition, ConcurrentTransitionMixin, FSMField, FSMFieldDescriptor, FSMFieldMixin

from . import events
from .exceptions import ConcurrentUpdate, TransitionNotAllowed
from .models import TransitionLog

User = AbstractBaseUser | AnonymousUser | None


class StateDescriptor(FSMFieldDescriptor):
    """django-fsm's descriptor of a state field, reading a loaded state straight from the
    instance: django-fsm makes a ``DeferredAttribute`` at every read, and a list page reads each
    row's state several times (its SLA state, its transitions, its cell)."""

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        try:
            return instance.__dict__[self.field.attname]
        except KeyError:  # deferred: loaded as django-fsm loads it
            return self.field.get_state(instance)


class StateField(FSMField):
    """django-fsm's ``FSMField`` with ``StateDescriptor``. Migrations see a plain ``FSMField``:
    the column and its behaviour are the same."""

    descriptor_class = StateDescriptor

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django_fsm.FSMField", args, kwargs


class WorkflowModel(ConcurrentTransitionMixin, models.Model):
    """Base of the numbered, state-machine models (incidents, changes, releases).

    Subclasses define ``state = StateField(protected=True, ...)``, the
    ``@transition`` methods and ``NUMBER_PREFIX``.
    """

    NUMBER_PREFIX = ""
    # Published by ``apply_transition`` after every transition (e.g. ``events.IncidentTransitioned``).
    TRANSITIONED_EVENT: ClassVar[type[events.Transitioned] | None] = None

    # Null until the row has its id: an empty string would make concurrent creates wait on the unique index.
    number = models.CharField(max_length=20, unique=True, editable=False, null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.number or f"new {type(self).__name__}"

    def save(self, *args, **kwargs) -> None:
        adding = self._state.adding
        super().save(*args, **kwargs)
        if adding and not self.number:
            self.number = f"{self.NUMBER_PREFIX}-{self.pk:06d}"
            type(self)._default_manager.filter(pk=self.pk).update(number=self.number)

    @classmethod
    def from_db(cls, db, field_names, values):
        """A row read from the database, as ``Model.from_db`` makes it, without the walk of
        ``Model.__init__`` through every field's descriptor: when each column's descriptor only
        stores the value in the instance's ``__dict__`` (``_plain_columns``) and nothing listens
        to ``pre_init``, the row's values go into the ``__dict__`` at once. ``post_init`` is sent
        and django-fsm's initial states are taken as ``__init__`` would (list pages read tens of
        rows of 49 columns). The row is kept as read, for ``loaded_values``."""
        attnames = _plain_columns(cls)
        if attnames is None or pre_init.has_listeners(cls):
            new = super().from_db(db, field_names, values)
            new._loaded_row = (field_names, values)
            return new
        new = cls.__new__(cls)
        new._state = state = ModelState()  # adding and no database, as post_init's receivers see it in __init__
        if len(values) == len(attnames):
            new.__dict__.update(zip(attnames, values, strict=True))
        else:  # deferred columns are left out, as __init__ leaves them
            new.__dict__.update(zip([name for name in attnames if name in field_names], values, strict=True))
        post_init.send(sender=cls, instance=new)
        new._update_initial_state()
        state.adding = False
        state.db = db
        new._loaded_row = (field_names, values)
        return new

    def loaded_values(self) -> dict[str, Any]:
        """The columns (by attribute name) as this instance read them from the database; empty
        for an instance made in Python. What a write changed is what differs from them (the
        metrics' rollups mark the days of both)."""
        loaded = self.__dict__.get("_loaded_row")
        return dict(zip(*loaded, strict=True)) if loaded is not None else {}

    @property
    def state_fields(self) -> tuple:
        # django-fsm filters every field of the model at each instance (each row of a list): once per model.
        return _state_fields(type(self))

    def transition_blockers(self, transition: str) -> list[str]:
        """What is missing before ``transition`` may run (gate checks); empty when nothing is."""
        return []

    def blocker_labels(self, missing: list[str]) -> list[str]:
        """``transition_blockers`` in words for messages (codes stay in ``missing``)."""
        return missing

    def transition_names(self) -> list[str]:
        """Every transition this model knows, in declaration order."""
        return list(dict.fromkeys(t.name for t in self.get_all_state_transitions()))

    def available_transitions_for(self, user: User, page: dict | None = None) -> list[str]:
        """The transitions ``user`` may take now: right state, right permission, gate met.

        ``page`` (one dict shared by the rows of a list response) keeps what depends only on
        the model, the state and the user — the transitions out of this state the user's
        permissions allow — so each further row of that state checks only its own gates.
        """
        if page is None:
            return [name for name in self.transition_names() if transition_refusal(self, name, user) is None]
        key = (type(self), self.state)
        allowed = page.get(key)
        if allowed is None:
            allowed = []
            for name in self.transition_names():
                per_row = _row_permission(self, name)
                if _transition_meta(self, name).has_transition(self.state) and (per_row or user_may(self, name, user)):
                    allowed.append((name, per_row))
            page[key] = allowed
        return [
            name for name, per_row in allowed
            if (not per_row or user_may(self, name, user)) and not self.transition_blockers(name)
        ]


@cache
def _state_fields(model: type[models.Model]) -> tuple:
    return tuple(field for field in model._meta.fields if isinstance(field, FSMFieldMixin))


@cache
def _plain_columns(model: type[models.Model]) -> tuple[str, ...] | None:
    """The attribute names of ``model``'s columns, when setting each in ``__init__`` only stores
    it in the instance's ``__dict__`` (Django's plain and foreign-key columns, django-fsm's
    state fields without proxy classes); None when a descriptor does more."""
    attnames = []
    for field in model._meta.concrete_fields:
        descriptor = next((klass.__dict__[field.attname] for klass in model.__mro__ if field.attname in klass.__dict__),
                          None)
        # django-fsm's descriptor refuses a second assignment (protected) and may change the class
        # (a proxy): neither applies to a state field without proxies.
        plain = type(descriptor) in (DeferredAttribute, ForeignKeyDeferredAttribute) or (
            type(descriptor) in (FSMFieldDescriptor, StateDescriptor)
            and not field.state_proxy and field.name == field.attname
        )
        if not plain:
            return None
        attnames.append(field.attname)
    return tuple(attnames)


def available_transitions_page(rows, user: User) -> dict[int, list[str]]:
    """``available_transitions_for`` of every row of a page, by id, in one pass: what depends only
    on the model, the state and the user (the permission checks) is worked out once per state."""
    page: dict = {}
    return {row.pk: row.available_transitions_for(user, page) for row in rows}


def _row_permission(instance: WorkflowModel, name: str) -> bool:
    """Whether the permission of transition ``name`` depends on the row (a callable)."""
    return any(callable(tr.permission) for tr in _transition_meta(instance, name).transitions.values())


def _transition_meta(instance: WorkflowModel, name: str):
    method = getattr(instance, name, None)
    meta = getattr(method, "_django_fsm", None)
    if meta is None:
        raise TransitionNotAllowed(f"{name!r} is not a transition of {type(instance).__name__}.")
    return meta


def user_may(instance: WorkflowModel, name: str, user: User) -> bool:
    """Whether ``user`` holds the permission of transition ``name``, whatever the state."""
    if user is None:  # the system itself (sweeps, integrations)
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    meta = _transition_meta(instance, name)
    for tr in meta.transitions.values():
        perm = tr.permission
        if perm is None:
            continue
        if callable(perm):
            if not perm(instance, user):
                return False
        elif not user.has_perm(perm):
            return False
    return True


def transition_refusal(instance: WorkflowModel, name: str, user: User) -> Exception | None:
    """The error that ``apply_transition`` would raise before running, or None."""
    meta = _transition_meta(instance, name)
    if not user_may(instance, name, user):
        return PermissionDenied(f"You may not {name} this {instance._meta.verbose_name}.")
    state = instance.state
    if not meta.has_transition(state):
        return TransitionNotAllowed(
            f"Cannot {name} {instance.number}: it is {instance.get_state_display().lower()}."
        )
    missing = instance.transition_blockers(name)
    if missing:
        return TransitionNotAllowed(
            f"Cannot {name} {instance.number} yet: missing {', '.join(instance.blocker_labels(missing))}.",
            missing=missing,
        )
    return None


def apply_transition(
    *,
    instance: WorkflowModel,
    name: str,
    by: User,
    comment: str = "",
    expected_state: str | None = None,
    at=None,
    **kwargs: Any,
) -> WorkflowModel:
    """Run transition ``name`` on ``instance`` for user ``by`` (None = the system).

    ``expected_state`` is the state the user saw; if someone else has moved the
    object since, this raises ``ConcurrentUpdate`` instead of acting on a state the
    user never saw. ``kwargs`` go to the transition method (fields it needs).
    Publishes the model's ``TRANSITIONED_EVENT`` inside the transaction.
    Returns the saved, locked instance. Callers queue side effects with
    ``transaction.on_commit`` inside their own atomic block.
    """
    model = type(instance)
    with transaction.atomic():
        locked = model._default_manager.select_for_update().get(pk=instance.pk)
        if expected_state is not None and locked.state != expected_state:
            raise ConcurrentUpdate(
                f"{locked.number} was changed by someone else: it is now "
                f"{locked.get_state_display().lower()}. Reload and try again."
            )
        refusal = transition_refusal(locked, name, by)
        if refusal is not None:
            raise refusal
        from_state = locked.state
        getattr(locked, name)(by=by, at=at or timezone.now(), **kwargs)
        try:
            locked.save()
        except ConcurrentTransition as exc:
            raise ConcurrentUpdate(
                f"{locked.number} was changed by someone else. Reload and try again."
            ) from exc
        entry = log_transition(
            obj=locked, name=name, from_state=from_state, to_state=locked.state, by=by,
            comment=comment, at=at,
        )
        if model.TRANSITIONED_EVENT is not None:
            events.publish(
                model.TRANSITIONED_EVENT(
                    object_id=locked.pk, transition=name, from_state=from_state, to_state=locked.state,
                    log_id=entry.pk, by_id=actor_id(by), at=entry.timestamp,
                )
            )
    return locked


def actor_id(by: User) -> int | None:
    """The id of a signed-in user, None for the system (and anonymous users)."""
    return by.pk if by is not None and by.is_authenticated else None


def log_transition(
    *, obj: WorkflowModel, name: str, from_state: str, to_state: str, by: User,
    comment: str = "", at=None,
) -> TransitionLog:
    """Append one entry to the transition log (also used for logged non-state events)."""
    return TransitionLog.objects.create(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=True),
        object_id=obj.pk,
        object_number=obj.number,
        transition=name,
        from_state=from_state,
        to_state=to_state,
        user=by if actor_id(by) is not None else None,
        comment=comment,
        timestamp=at or timezone.now(),
    )


def log_many(entries: list[TransitionLog]) -> None:
    """Append many entries at once (the SLA sweep's escalations). On PostgreSQL one ``INSERT … SELECT``
    from one JSON array of the rows, typed by the table's own row type (``json_populate_recordset``):
    one parameter however many entries. A multi-row ``VALUES`` takes one parameter per column and
    entry (45 000 for 5 000 entries, each rendered, sent, parsed and planned), and arrays per column
    are rendered element by element by psycopg (~0.12 s for 5 000 entries); the JSON is encoded in C.
    Elsewhere ``bulk_create``. The entries get no ids back (none of their callers reads one)."""
    if not entries:
        return
    connection = connections[router.db_for_write(TransitionLog)]
    if connection.vendor != "postgresql":
        TransitionLog.objects.bulk_create(entries)
        return
    fields = [f for f in TransitionLog._meta.concrete_fields if not f.primary_key]
    rows = [{f.column: _prepared(f, entry, connection) for f in fields} for entry in entries]
    table, names = TransitionLog._meta.db_table, ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} "  # noqa: S608 - table and column names only
                       f"FROM json_populate_recordset(NULL::{table}, %s::json)", [json.dumps(rows, default=_iso)])


_PLAIN = frozenset({int, str, type(None)})  # what a field's preparation for the database leaves as it is


def _prepared(field, entry, connection):
    """``field``'s value of ``entry`` as ``bulk_create`` sends it (``pre_save``, ``get_db_prep_save``),
    without the preparation's calls for the plain values it returns unchanged (45 000 calls, 0.15 s
    for 5 000 entries)."""
    value = field.pre_save(entry, True)
    return value if type(value) in _PLAIN else field.get_db_prep_save(value, connection)


def _iso(value) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def transition_history(obj: models.Model):
    """The transition log of one object, oldest first, with users."""
    return TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).select_related("user")
