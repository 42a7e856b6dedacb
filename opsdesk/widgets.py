"""Widgets that render their options in Python: the HTML of Django's ``select.html`` without a
template include per option (a filter form's service or assignee list has hundreds)."""

from __future__ import annotations

from django import forms
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe


def _attrs(attrs: dict) -> str:
    """Django's ``attrs.html``: `` name="value"`` per attribute, a bare name for True, none for False."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {conditional_escape(name)}" if value is True
                     else f' {conditional_escape(name)}="{conditional_escape(str(value))}"')
    return "".join(parts)


class Select(forms.Select):
    """``forms.Select`` with the same markup, rendered without per-option templates."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        out = [format_html('<select name="{}"', widget["name"]), _attrs(widget["attrs"]), ">"]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                out.append(format_html('\n  <optgroup label="{}">', group_name))
            for option in options:
                out.append(format_html('\n  <option value="{}"', str(option["value"])))
                out.append(_attrs(option["attrs"]))
                out.append(format_html(">{}</option>", option["label"]))
            if group_name:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))  # noqa: S308 - every part is escaped above
