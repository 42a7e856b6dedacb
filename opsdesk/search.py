"""Word search, shared by every list's FilterSet (``q``) and the global search.

Every word must match, in any order, case-insensitively, somewhere in the record's
fields (or in a related text such as an incident's work notes). On PostgreSQL this is
full-text search (``django.contrib.postgres.search``: English stemming, ranked with
``ts_rank``, served by a GIN expression index created by a PostgreSQL-only migration);
elsewhere (the embedded SQLite set-up) a portable fallback of ``icontains`` per word,
ranked by how many words the title holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.migrations.operations import AddIndex
from django.db.models import Case, FloatField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from .migration_operations import OnPostgreSQLOnly

CONFIG = "english"
MAX_WORDS = 12
RECORD_NUMBER = re.compile(r"^\s*(INC|CHG|REL)-?0*(\d{1,12})\s*$", re.IGNORECASE)


def search_vector(*fields: str) -> SearchVector:
    """The document of a record: its fields in the English configuration. The GIN index and
    the query build it with this one function, so the planner sees the same expression."""
    return SearchVector(*fields, config=CONFIG)


def search_index(*fields: str, name: str) -> GinIndex:
    """A GIN index over ``search_vector(*fields)`` (declared in the model's ``Meta.indexes``,
    created by ``AddIndexOnPostgres`` in a migration)."""
    return GinIndex(search_vector(*fields), name=name)


class AddIndexOnPostgres(OnPostgreSQLOnly, AddIndex):
    """``AddIndex`` that creates the index only on PostgreSQL (full-text GIN indexes mean
    nothing to SQLite); the migration state carries it everywhere, so ``makemigrations``
    sees the model and the migrations agree."""

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        return "opsdesk.search.AddIndexOnPostgres", args, kwargs


def words(value: str | None) -> list[str]:
    """The words of a search box: split on white space, at most ``MAX_WORDS``."""
    return (value or "").split()[:MAX_WORDS]


def parse_record_number(value: str | None) -> tuple[str, int] | None:
    """``("INC", 123)`` for ``INC-000123``, ``inc-123`` or ``INC123``; None for anything else."""
    match = RECORD_NUMBER.match(value or "")
    if not match:
        return None
    return match.group(1).upper(), int(match.group(2))


def format_record_number(prefix: str, number: int) -> str:
    """The stored form of a record number (``WorkflowModel`` numbers are the zero-padded id)."""
    return f"{prefix}-{number:06d}"


@dataclass(frozen=True)
class Related:
    """Text of related rows that also finds the record, e.g. an incident's notes:
    ``Related(IncidentNote.objects.all(), "incident_id", ("body",))``."""

    queryset: QuerySet
    key: str
    fields: tuple[str, ...] = field(default_factory=tuple)


def _is_postgres(queryset: QuerySet) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def text_search(queryset: QuerySet, value: str | None, *, fields: tuple[str, ...],
                title_field: str = "title", related: tuple[Related, ...] = (), number_prefix: str = "") -> QuerySet:
    """The rows of ``queryset`` matching every word of ``value``, annotated with
    ``search_rank`` (higher is better). An exact record number (``number_prefix``, e.g.
    ``INC``: ``inc-42`` finds ``INC-000042``) matches too, ranked first. Empty: unchanged.
    Without PostgreSQL the rank counts the words found in ``title_field``."""
    terms = words(value)
    if not terms:
        return queryset
    exact = Q()
    parsed = parse_record_number(value) if number_prefix else None
    if parsed and parsed[0] == number_prefix:
        exact = Q(number=format_record_number(*parsed))
    if _is_postgres(queryset):
        query = SearchQuery(" ".join(terms), search_type="websearch", config=CONFIG)
        matches = queryset
        own = queryset.model._default_manager.annotate(search_document=search_vector(*fields))
        hits = own.filter(search_document=query).order_by().values("pk")
        for rel in related:
            # A union of two GIN index scans: an OR of the two conditions would scan the table.
            rel_hits = rel.queryset.annotate(search_document=search_vector(*rel.fields)).filter(search_document=query)
            hits = hits.union(rel_hits.order_by().values(rel.key))
        found = Q(pk__in=hits)
        rank = SearchRank(search_vector(*fields), query)
    else:
        matches = queryset
        found = Q()
        for term in terms:
            term_q = Q()
            for name in fields:
                term_q |= Q(**{f"{name}__icontains": term})
            for rel in related:
                rel_q = Q()
                for name in rel.fields:
                    rel_q |= Q(**{f"{name}__icontains": term})
                term_q |= Q(pk__in=rel.queryset.filter(rel_q).values(rel.key))
            found &= term_q
        rank = sum(
            (Case(When(**{f"{title_field}__icontains": term}, then=Value(1.0)), default=Value(0.0),
                  output_field=FloatField()) for term in terms),
            Value(0.0),
        )
    if exact:
        found |= exact
        rank = Case(When(exact, then=Value(1000.0)), default=Coalesce(rank, Value(0.0)), output_field=FloatField())
    return matches.filter(found).annotate(search_rank=rank)
