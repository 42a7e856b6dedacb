"""Pages of long lists without a COUNT(*) of the whole table or an offset walk of its rows.

Every large list (the API's list endpoints through ``opsdesk.api.pagination.Pagination``, the
web tables through ``EstimatedPaginator``) pages with three helpers:

* ``cheap_count``: the exact number of rows when there are at most ``COUNT_CAP`` (a count over a
  LIMITed subquery stops there), else PostgreSQL's planner estimate of the filtered query
  (flagged as an estimate); other databases count exactly.
* ``page_of``: one page at an offset as a single query whose subquery reads the page's ids alone
  (on PostgreSQL an index-only scan when an index covers the ordering), then the full rows of
  those ids: a deep ``?page=`` no longer reads and throws away every row before it.
* ``Keyset``: for an ordering by plain non-null columns ending with a unique one, a cursor of the
  boundary row's values; the next (or previous) page is a range condition on those columns.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from math import ceil

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django_tables2.rows import BoundRows

# Up to this many rows a list's count is exact; beyond it, an estimate.
COUNT_CAP = 1000


def cheap_count(queryset: QuerySet, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """``(count, estimated)``: on PostgreSQL exact up to ``cap`` rows (one query reading at most
    ``cap + 1`` ids), beyond, the planner's row estimate (never below ``cap + 1``; two queries);
    elsewhere an exact count (one query)."""
    ids = queryset.order_by().values("pk")
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return ids.count(), False  # exact at any size: one query, the capped one would only precede it
    counted = ids[: cap + 1].count()
    if counted <= cap:
        return counted, False
    sql, params = ids.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return max(int(plan[0]["Plan"]["Plan Rows"]), cap + 1), True


def page_of(queryset: QuerySet, offset: int, limit: int, *, ids_first: bool = False) -> list:
    """Rows ``offset``..``offset + limit`` of ``queryset`` in its order, in one query: the
    subquery picks the ids (the ordering's columns alone), the outer query reads those rows.

    The first page is read directly unless ``ids_first``: an ordering by computed values (the
    queue's urgency) sorts every matching row, and sorting the ids alone (an index-only scan
    of a covering index) then reading the page's rows is cheaper than sorting full joined rows."""
    if offset == 0 and not ids_first:
        return list(queryset[:limit])
    ids = queryset.values("pk")[offset : offset + limit]
    return list(queryset.filter(pk__in=ids))


# --- keyset cursors ------------------------------------------------------------------


def _encode(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True)
class Keyset:
    """An ordering a cursor can follow: ``terms`` are ``(field, descending)``, the last unique."""

    model: type
    terms: tuple[tuple[str, bool], ...]

    @classmethod
    def of(cls, queryset: QuerySet) -> Keyset | None:
        """The keyset of ``queryset``'s ordering, or None when a cursor cannot follow it
        (an expression, a related or nullable column, no unique column last)."""
        query = queryset.query
        ordering = list(query.order_by) or (list(queryset.model._meta.ordering) if query.default_ordering else [])
        if not ordering or query.extra_order_by:
            return None
        meta = queryset.model._meta
        terms = []
        for term in ordering:
            if not isinstance(term, str) or term == "?" or "__" in term:
                return None
            descending = term.startswith("-")
            name = term.lstrip("-+")
            if name in query.annotations:
                return None
            try:
                field = meta.pk if name == "pk" else meta.get_field(name)
            except FieldDoesNotExist:
                return None
            if not field.concrete or field.null or field.is_relation:
                return None
            terms.append((field.name, descending))
        last = meta.get_field(terms[-1][0])
        if not (last.primary_key or last.unique):
            return None
        return cls(queryset.model, tuple(terms))

    def cursor(self, row, *, backwards: bool) -> str:
        """The cursor of the page after ``row`` (before it when ``backwards``)."""
        values = [_encode(getattr(row, name)) for name, _ in self.terms]
        data = {"o": [("-" if desc else "") + name for name, desc in self.terms], "v": values, "b": backwards}
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    def decode(self, token: str) -> tuple[list, bool]:
        """``(values, backwards)`` of a cursor; ``ValueError`` when it is not one of this ordering."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            ordering = [("-" if desc else "") + name for name, desc in self.terms]
            if data["o"] != ordering or len(data["v"]) != len(self.terms):
                raise ValueError("The cursor belongs to another ordering.")
            meta = self.model._meta
            values = [meta.get_field(name).to_python(v) for (name, _), v in zip(self.terms, data["v"], strict=True)]
            if any(v is None for v in values):
                raise ValueError("The cursor has an empty value.")
            return values, bool(data["b"])
        except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            raise ValueError("Not a cursor of this list.") from exc

    def after(self, queryset: QuerySet, values: list, *, backwards: bool) -> QuerySet:
        """The rows after the boundary ``values`` in this ordering (before it when ``backwards``,
        then in the reverse order). The first column is also bounded alone, for an index range."""
        condition = Q(pk__in=[])
        equal = Q()
        for (name, descending), value in zip(self.terms, values, strict=True):
            forward_lookup = "lt" if descending != backwards else "gt"
            condition |= equal & Q(**{f"{name}__{forward_lookup}": value})
            equal &= Q(**{name: value})
        first, descending = self.terms[0]
        bound = Q(**{f"{first}__{'lte' if descending != backwards else 'gte'}": values[0]})
        rows = queryset.filter(bound & condition)
        if backwards:
            rows = rows.order_by(*[("" if desc else "-") + name for name, desc in self.terms])
        return rows


# --- web tables ------------------------------------------------------------------------


class EstimatedPage(Page):
    """A page of an ``EstimatedPaginator``: whether a next page exists is known from the rows
    read (one more than the page), not from an estimated count."""

    def __init__(self, object_list, number, paginator, *, more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more


class EstimatedPaginator(Paginator):
    """A Django paginator for large tables (django-tables2 ``paginator_class``, or given a queryset):
    ``count`` is ``cheap_count``'s, exact up to ``count_cap`` rows (``count_estimated`` says whether
    it is an estimate), and a page at any offset, the first included, is ``page_of``'s single
    ids-first query (or, with ``rows``, the page's ids then ``rows(ids)``). A django-tables2 table
    hands over its rows (``BoundRows``), not the queryset: the queryset under them is the one
    counted and paged.

    The planner's estimate may be short of the truth or beyond it, so pages never trust it:
    any page from 1 may be asked for, each reads one row more than it shows to know whether
    another follows, a page that proves more rows raises the count to what it proved, and a
    page past the real end turns the count exact (one ``COUNT``, only then) and is
    ``EmptyPage``, as Django's paginator says of a page past the last."""

    def __init__(self, object_list, per_page, *args, count_cap: int = COUNT_CAP, rows=None, **kwargs) -> None:
        super().__init__(object_list, per_page, *args, **kwargs)
        self.count_cap = count_cap
        self.rows = rows

    @cached_property
    def _queryset(self) -> QuerySet | None:
        rows = self.object_list
        if isinstance(rows, BoundRows):
            rows = getattr(rows.data, "data", None)  # TableQuerysetData → the table's ordered queryset
        return rows if isinstance(rows, QuerySet) else None

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        if self._queryset is not None:
            return cheap_count(self._queryset, cap=self.count_cap)
        return len(self.object_list), False

    @property
    def count(self) -> int:
        return self._counted[0]

    @property
    def num_pages(self) -> int:  # Django's, not cached: a page may raise the count
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        return ceil(max(1, self.count - self.orphans) / self.per_page)

    @property
    def count_estimated(self) -> bool:
        return self._counted[1]

    def validate_number(self, number) -> int:
        if not self.count_estimated:
            return super().validate_number(number)
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError) as exc:
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from exc
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        queryset = self._queryset
        if queryset is not None and self.rows is not None:
            ids = list(queryset.values_list("pk", flat=True)[bottom : bottom + self.per_page + 1])
            more, rows = len(ids) > self.per_page, self.rows(ids[: self.per_page])
        else:
            if queryset is not None:
                rows = page_of(queryset, bottom, self.per_page + 1, ids_first=True)
            else:
                rows = list(self.object_list[bottom : bottom + self.per_page + 1])
            more, rows = len(rows) > self.per_page, rows[: self.per_page]
        if self.count_estimated:
            if not rows and number > 1:
                self._counted = (queryset.count(), False)  # past the end: count it
                raise EmptyPage(self.error_messages["no_results"])
            self._counted = (max(self.count, bottom + len(rows) + more), True)
        if isinstance(self.object_list, BoundRows):
            rows = BoundRows(data=rows, table=self.object_list.table, pinned_data=self.object_list.pinned_data)
        return EstimatedPage(rows, number, self, more=more)
