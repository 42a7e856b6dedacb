"""CSV for the metrics endpoints: the same values as the JSON, one row per metric or bucket."""

from __future__ import annotations

import csv
import io

from rest_framework.renderers import BaseRenderer

from ..definitions import flatten


def csv_value(value) -> str:
    """A JSON value as CSV text: null is empty, true/false stay JSON-like, numbers as in JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def summary_rows(data: dict) -> list[list[str]]:
    return [["metric", "value"], *([key, csv_value(value)] for key, value in flatten(data).items())]


def timeseries_rows(data: list[dict]) -> list[list[str]]:
    return [["bucket", "value"], *([row["bucket"], csv_value(row["value"])] for row in data)]


def table_rows(data: list[dict], headers: list[str]) -> list[list[str]]:
    """A list of objects (services, insights): one column per key; a nested ``scope`` becomes two columns."""
    rows = []
    for item in data:
        flat = {}
        for key, value in item.items():
            if isinstance(value, dict):
                ((kind, scope_id),) = value.items()
                flat.update({f"{key}_type": kind, f"{key}_id": scope_id})
            else:
                flat[key] = value
        rows.append(flat)
    return [headers, *([csv_value(row.get(h)) for h in headers] for row in rows)]


class MetricsCSVRenderer(BaseRenderer):
    """``?format=csv``: ``metric,value`` for the summary, ``bucket,value`` for a time series."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        headers = getattr((renderer_context or {}).get("view"), "csv_headers", None)
        if headers and isinstance(data, list):
            rows = table_rows(data, headers)
        elif isinstance(data, list):
            rows = timeseries_rows(data)
        else:
            rows = summary_rows(data)
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue().encode(self.charset)
