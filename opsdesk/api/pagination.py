"""The one pagination of every API list: ``?page=``, ``?page_size=`` (at most 200), ``?cursor=``.

Built on ``opsdesk.pagination``: ``count`` is exact up to ``COUNT_CAP`` rows and the planner's
estimate beyond (``count_estimated`` says which); ``?page=N`` reads the page's ids by themselves
first (no walk of the rows before it); ``next`` / ``previous`` carry a keyset ``cursor`` when the
list's ordering ends with a unique non-null column (the default orderings do), otherwise a
``page`` number.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

from opsdesk.pagination import COUNT_CAP, Keyset, cheap_count, page_of


class Pagination(BasePagination):
    """``?page=`` and ``?page_size=`` (at most 200), ``?cursor=`` from a ``next`` / ``previous`` link."""

    page_query_param = "page"
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        default = api_settings.PAGE_SIZE
        try:
            size = int(request.query_params.get(self.page_size_query_param, default))
        except (TypeError, ValueError):
            return default
        return default if size <= 0 else min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self.get_page_size(request)
        keyset = Keyset.of(queryset) if isinstance(queryset, QuerySet) else None
        if isinstance(queryset, QuerySet):
            self.count, self.count_estimated = cheap_count(queryset)
        else:
            self.count, self.count_estimated = len(queryset), False
        self.keyset, self.number = keyset, None
        token = request.query_params.get(self.cursor_query_param)
        if token:
            if keyset is None:
                raise ValidationError({self.cursor_query_param: ["This ordering pages by number: use page."]})
            try:
                values, backwards = keyset.decode(token)
            except ValueError as exc:
                raise ValidationError({self.cursor_query_param: [str(exc)]}) from exc
            rows = list(keyset.after(queryset, values, backwards=backwards)[: size + 1])
            more = len(rows) > size
            rows = rows[:size]
            if backwards:
                rows.reverse()
                self.has_next, self.has_previous = True, more
            else:
                self.has_next, self.has_previous = more, True
        else:
            raw = request.query_params.get(self.page_query_param, "1")
            try:
                number = int(raw)
                if number < 1:
                    raise ValueError
            except (TypeError, ValueError) as exc:
                raise NotFound("Invalid page.") from exc
            offset = (number - 1) * size
            if isinstance(queryset, QuerySet):
                rows = page_of(queryset, offset, size + 1)
            else:
                rows = list(queryset[offset : offset + size + 1])
            more = len(rows) > size
            rows = rows[:size]
            if not rows and number > 1:
                raise NotFound("Invalid page.")
            self.number = number
            self.has_next, self.has_previous = more, number > 1
        self.rows = rows
        return rows

    def _link(self, *, forward: bool) -> str | None:
        if not (self.has_next if forward else self.has_previous) or not self.rows:
            return None
        url = self.request.build_absolute_uri()
        if self.keyset is not None:
            row = self.rows[-1] if forward else self.rows[0]
            url = remove_query_param(url, self.page_query_param)
            return replace_query_param(url, self.cursor_query_param, self.keyset.cursor(row, backwards=not forward))
        number = self.number + (1 if forward else -1)
        url = remove_query_param(url, self.cursor_query_param)
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_next_link(self) -> str | None:
        return self._link(forward=True)

    def get_previous_link(self) -> str | None:
        return self._link(forward=False)

    def get_paginated_response(self, data):
        return Response({
            "count": self.count,
            "count_estimated": self.count_estimated,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "count_estimated", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "example": 123,
                    "description": f"Exact up to {COUNT_CAP} rows; beyond, on PostgreSQL, the planner's "
                    f"estimate of the filtered rows, never below {COUNT_CAP + 1} (see count_estimated).",
                },
                "count_estimated": {
                    "type": "boolean",
                    "description": f"True when count is the database's estimate (more than {COUNT_CAP} rows "
                    "match); false when it is exact.",
                },
                "next": {
                    "type": "string", "nullable": True, "format": "uri",
                    "description": "The next page (a cursor link when the ordering allows one, else a page "
                    "number); null on the last.",
                    "example": "https://opsdesk.example/api/v1/incidents/?cursor=eyJvIjpbIi1kZXRlY3RlZF9hdCJdfQ",
                },
                "previous": {
                    "type": "string", "nullable": True, "format": "uri",
                    "description": "The previous page; null on the first.",
                    "example": "https://opsdesk.example/api/v1/incidents/?page=3",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param, "required": False, "in": "query",
                "description": "A page number (1 is the first).", "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param, "required": False, "in": "query",
                "description": f"Rows per page (default {api_settings.PAGE_SIZE}, at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.cursor_query_param, "required": False, "in": "query",
                "description": "An opaque position taken from a next or previous link (it replaces page).",
                "schema": {"type": "string"},
            },
        ]
