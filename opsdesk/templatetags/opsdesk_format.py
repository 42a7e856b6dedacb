"""The one date and name format of every page (a template builtin: no ``{% load %}`` needed).

``{{ moment|when }}`` → ``1 Dec 2026 19:17`` in the desk's time zone; ``{{ day|day }}`` →
``1 Dec 2026``; ``{{ user|person }}`` → the full name (the username only when there is none).
The admin shows the same formats (``opsdesk/formats``)."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import dateformat, timezone
from django.utils.dates import MONTHS_3

register = template.Library()

DATETIME = "j M Y H:i"
DATE = "j M Y"


def _datetime_text(value: datetime, months=MONTHS_3) -> str:
    """``dateformat.format(value, DATETIME)`` written out: the formatter is built anew per call, and a
    list page formats a moment per row."""
    return f"{value.day} {months[value.month].title()} {value.year:04d} {value.hour:02d}:{value.minute:02d}"


def format_when(value) -> str:
    """A moment as every page shows it; naive or aware, in the current time zone."""
    if value in (None, ""):
        return ""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return _datetime_text(value)
    if isinstance(value, date):
        return dateformat.format(value, DATE)
    return str(value)


def when_formatter():
    """``format_when`` for the many moments of one page: the current time zone and the month
    names (in the active language) read once, not per moment."""
    zone = timezone.get_current_timezone()
    months = {number: str(name) for number, name in MONTHS_3.items()}

    def when(value) -> str:
        if isinstance(value, datetime) and timezone.is_aware(value):
            return _datetime_text(value.astimezone(zone), months)
        return format_when(value)

    return when


def format_person(user) -> str:
    """A person as every page names them: full name, else username; empty for nobody."""
    if user is None or user == "":
        return ""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or (user.get_username() if hasattr(user, "get_username") else str(user))


@register.filter
def when(value) -> str:
    return format_when(value)


@register.filter
def day(value) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return dateformat.format(value, DATE) if value else ""


@register.filter
def person(user) -> str:
    return format_person(user)
