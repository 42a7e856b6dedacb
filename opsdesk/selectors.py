"""Reads of the kernel: the desk's front-page figures, and a filter by thousands of ids."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import EmptyResultSet
from django.db.models import Count, F, Lookup, Q, QuerySet
from django.db.models.lookups import In


class _AmongIds(Lookup):
    """``lhs IN ids``; on PostgreSQL ``lhs = ANY(%s)`` with the ids as one array parameter."""

    lookup_name = "among_ids"
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)  # prepared in ``as_sql``, once ``lhs`` is resolved to its column

    def as_sql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet
        if connection.vendor != "postgresql":
            return In(self.lhs, self.rhs).as_sql(compiler, connection)
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        if all(type(value) is int for value in self.rhs):
            # Integers as one array literal, cast by the server: psycopg renders a list element by
            # element (10 ms for 5 000 ids), a string at once.
            literal = "{" + ",".join(map(str, self.rhs)) + "}"
            return f"{lhs_sql} = ANY(%s::{field.cast_db_type(connection)}[])", [*lhs_params, literal]
        return f"{lhs_sql} = ANY(%s)", [*lhs_params, [field.get_db_prep_value(v, connection) for v in self.rhs]]


def many_ids(field: str, ids: Iterable[int]) -> Lookup:
    """The condition "``field`` is one of ``ids``", for ``filter()``, when the ids may be thousands
    (what a set-based sweep claimed): on PostgreSQL one array parameter (``= ANY(%s)``) to send,
    parse and plan, not one placeholder and one constant per id; elsewhere Django's ``IN``.
    ``Incident.objects.filter(many_ids("pk", ids))``."""
    return _AmongIds(F(field), list(ids))


def active_services(keep: Iterable[int] = ()) -> QuerySet:
    """Services to choose from: the active ones, plus ``keep`` (what a record already points at,
    so that editing it never drops an archived service)."""
    from .models import Service

    return Service.objects.filter(Q(active=True) | Q(pk__in=[pk for pk in keep if pk])).order_by("name")


def active_teams(keep: Iterable[int] = ()) -> QuerySet:
    """Teams to choose from: the active ones, plus ``keep`` (see ``active_services``)."""
    from .models import Team

    return Team.objects.filter(Q(active=True) | Q(pk__in=[pk for pk in keep if pk])).order_by("name")


def desk_summary() -> dict[str, int]:
    """Counts for the home page, one aggregate query per process (no rows are named)."""
    from changes.choices import ChangeState
    from changes.models import ChangeRequest
    from incidents.choices import OPEN_STATES
    from incidents.models import Incident
    from releases.choices import ReleaseState
    from releases.models import Release

    incidents = Incident.objects.aggregate(
        open=Count("pk", filter=Q(state__in=OPEN_STATES)),
        breached=Count(
            "pk",
            filter=Q(state__in=OPEN_STATES) & (Q(response_breached=True) | Q(resolution_breached=True)),
        ),
    )
    changes = ChangeRequest.objects.aggregate(
        awaiting_approval=Count("pk", filter=Q(state=ChangeState.SUBMITTED)),
        in_progress=Count("pk", filter=Q(state__in=[ChangeState.IN_PROGRESS, ChangeState.VERIFYING])),
    )
    releases = Release.objects.aggregate(
        active=Count(
            "pk",
            filter=~Q(state__in=[ReleaseState.COMPLETED, ReleaseState.FAILED,
                                 ReleaseState.ROLLED_BACK, ReleaseState.CANCELLED]),
        )
    )
    return {
        "open_incidents": incidents["open"],
        "breached_incidents": incidents["breached"],
        "changes_awaiting_approval": changes["awaiting_approval"],
        "changes_in_progress": changes["in_progress"],
        "active_releases": releases["active"],
    }
