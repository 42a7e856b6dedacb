"""Web-view helpers shared by the apps: domain errors as form errors and messages."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied

from .exceptions import ConcurrentUpdate, DomainValidationError, TransitionNotAllowed


def add_domain_errors(form, exc: DomainValidationError) -> None:
    """Put a service's field errors on the form (unknown fields become non-field errors)."""
    for field, errors in exc.errors.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def run_action(request, action, *, success: str | None = None) -> bool:
    """Call ``action()``; report refusals as messages. Returns True when it ran.

    ``PermissionDenied`` is re-raised (the 403 page); a refused transition or a
    concurrent update becomes an error message; bad input too, when no form shows it.
    """
    try:
        action()
    except PermissionDenied:
        raise
    except (TransitionNotAllowed, ConcurrentUpdate) as exc:
        messages.error(request, exc.message)
        return False
    except DomainValidationError as exc:
        messages.error(request, " ".join(" ".join(v) for v in exc.errors.values()))
        return False
    if success:
        messages.success(request, success)
    return True


def style_list_filters(form, *, multiple=("state",)) -> None:
    """The filter bar of every list in the queue's style: several-choice filters (state) as
    checkboxes, "Any …" instead of "---------", yes/no filters as Any / Yes / No, and people
    by full name. The filtersets stay as they are (the API shares them)."""
    for name, field in form.fields.items():
        label = str(field.label or name.replace("_", " ")).lower()
        if name in multiple and hasattr(field, "choices"):
            field.widget = forms.CheckboxSelectMultiple(choices=field.choices)
        elif isinstance(field.widget, forms.NullBooleanSelect):
            field.widget = forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])
        elif hasattr(field, "empty_label"):
            field.empty_label = f"Any {label}"
            if getattr(field, "queryset", None) is not None and field.queryset.model._meta.label == "auth.User":
                field.label_from_instance = lambda obj: obj.get_full_name() or obj.get_username()
        elif isinstance(field, forms.ChoiceField) and field.choices and field.choices[0][0] == "":
            field.choices = [("", f"Any {label}"), *field.choices[1:]]
