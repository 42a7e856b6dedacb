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


class MetricsCSVRenderer(BaseRenderer):
    """``?format=csv``: ``metric,value`` for the summary, ``bucket,value`` for a time series."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        rows = timeseries_rows(data) if isinstance(data, list) else summary_rows(data)
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue().encode(self.charset)
