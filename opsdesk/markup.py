"""HTML escaping for markup written in Python a row or an option at a time (the queue's cells,
long ``<select>`` lists): the output of Django's ``escape`` and ``conditional_escape`` without
their lazy-string wrappers, which cost more than the escaping itself when called thousands of
times a page."""

from __future__ import annotations

import html


def escape(value) -> str:
    """Django's ``escape``: ``html.escape`` of the text (quotes included)."""
    return html.escape(str(value))


def conditional_escape(value) -> str:
    """Django's ``conditional_escape``: safe strings (``__html__``) as they are, the rest escaped."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))
