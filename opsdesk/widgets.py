"""Widgets that render their options in Python: the HTML of Django's ``select.html`` without a
template include, a context dict or an attribute copy per option (a filter form's service or
assignee list has hundreds)."""

from __future__ import annotations

from django import forms
from django.utils.safestring import mark_safe

from .markup import conditional_escape


def _attrs(attrs: dict) -> str:
    """Django's ``attrs.html``: `` name="value"`` per attribute, a bare name for True, none for False."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {conditional_escape(name)}" if value is True
                     else f' {conditional_escape(name)}="{conditional_escape(value)}"')
    return "".join(parts)


class Select(forms.Select):
    """``forms.Select`` with the same markup, its options written straight from ``choices``
    (Django's ``optgroups`` rules: ``None`` is ``""``, one option selected unless multiple)."""

    def render(self, name, value, attrs=None, renderer=None):
        select_attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            select_attrs["multiple"] = True
        values = set(self.format_value(value))
        has_selected = False
        out = [f'<select name="{conditional_escape(name)}"', _attrs(select_attrs), ">"]
        for option_value, option_label in self.choices:
            group = isinstance(option_label, list | tuple)
            if group:
                out.append(f'\n  <optgroup label="{conditional_escape("" if option_value is None else option_value)}">')
            for subvalue, sublabel in option_label if group else ((option_value, option_label),):
                subvalue = "" if subvalue is None and not group else subvalue
                selected = (not has_selected or self.allow_multiple_selected) and str(subvalue) in values
                has_selected |= selected
                out.append(f'\n  <option value="{conditional_escape(subvalue)}"{" selected" if selected else ""}>'
                           f"{conditional_escape(sublabel)}</option>")
            if group:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))  # noqa: S308 - every part is escaped above


def options(choices) -> str:
    """``<option value="…">label</option>`` for each ``(value, label)``, none selected: a
    hand-written ``<select>``'s options (the queue's bulk assignee list)."""
    return mark_safe("".join(  # noqa: S308 - values and labels are escaped
        f'<option value="{conditional_escape(value)}">{conditional_escape(label)}</option>' for value, label in choices
    ))
