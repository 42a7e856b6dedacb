"""Streamed CSV exports: constant memory however many rows, cells safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db.models import Aggregate, CharField
from django.http import StreamingHttpResponse
from django.utils import timezone

CHUNK_SIZE = 2000
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


class _Echo:
    """A file-like object whose write returns the line, for ``csv.writer`` in a generator."""

    def write(self, value: str) -> str:
        return value


def cell(value, tz=None) -> str:
    """One value as CSV text: times in ISO 8601 in the site's zone, booleans as true/false,
    None empty, and text that a spreadsheet would run as a formula quoted with a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(tz or timezone.get_current_timezone()).isoformat(timespec="seconds")
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_rows(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    tz = timezone.get_current_timezone()  # once: a lookup per cell costs more than the cell
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value, tz) for value in row])


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A streamed ``text/csv`` download; ``rows`` should be a lazy iterator (``iterator(chunk_size)``)."""
    response = StreamingHttpResponse(csv_rows(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class JoinedNames(Aggregate):
    """The values of a group joined with ", " (``string_agg`` on PostgreSQL, ``group_concat``
    elsewhere): a many-to-many column of an export in the row's own query."""

    function = "GROUP_CONCAT"
    output_field = CharField()

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="%(function)s(%(expressions)s, ', ')", **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, function="STRING_AGG", template="%(function)s((%(expressions)s)::text, ', ')",
            **extra_context,
        )
