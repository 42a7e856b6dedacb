"""Form fields as crispy-forms' bootstrap5 ``field.html`` writes them, written in Python for the
plain cases a filter form has: a text-like input, a select, a list of checkboxes; not required,
no errors, no help text. Anything else is crispy's own rendering (``as_crispy_field``).

The markup, whitespace included, is crispy's (tests/opsdesk/test_fields.py renders both and
compares); a page of a dozen fields spares a dozen template renders and their includes.
"""

from __future__ import annotations

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django import forms
from django.forms.widgets import Input
from django.utils.safestring import SafeString, mark_safe

from .markup import conditional_escape, escape
from .widgets import _attrs

# crispy's bootstrap5 field.html around a labelled field; "{}" are the id, the label's ``for``,
# the label, and the widget.
_LABELLED = ('\n\n\n    \n    <div id="div_{}" class="mb-3">\n        \n            \n            <label\n'
             '                for="{}" class="form-label">\n                {}\n            </label>\n        \n\n'
             '        \n\n        \n            \n                \n                    \n')
_FIELD_END = ('\n                    \n                    \n                        \n\n\n    \n\n\n\n\n    \n\n\n\n'
              '                    \n                \n            \n        \n        \n    </div>\n    \n\n')
_INPUT = "                        {}" + _FIELD_END
_SELECT = "                        \n                            {}\n                        " + _FIELD_END
# ... around a list of checkboxes (a fieldset), each choice its own group as Django's ``optgroups`` makes them.
_CHECKBOXES_START = ('\n\n\n    \n    <div id="div_{}" class="mb-3">\n        \n            <fieldset>\n'
                     '            <legend\n                 class="form-label fs-6">\n                {}\n'
                     '            </legend>\n        \n\n        \n            \n\n\n<div >\n\n    ')
_CHECKBOX = ('\n    \n    \n      <div class="form-check">\n        <input type="{}" class="form-check-input"  '
             'name="{}" value="{}" {}>\n        <label for="{}" class="form-check-label">\n            {}\n'
             '        </label>\n        \n     </div>\n    \n    ')
_CHECKBOXES_END = ('\n\n</div>\n\n\n\n\n        \n\n        \n        </fieldset>\n    </div>\n    \n\n')


def is_plain(field) -> bool:
    """Whether ``field`` (a bound field) is one of the cases written here."""
    widget, form = field.field.widget, field.form
    return not (
        field.errors or field.help_text or field.field.required or field.field.localize
        or field.field.show_hidden_initial or field.is_hidden or not field.label or not field.auto_id
        or field.css_classes() or getattr(form, "helper", None) is not None or field.field.disabled
        or "id" in widget.attrs
    )


def _css_class(widget, extra: str) -> str:
    """The ``class`` crispy gives the widget: its own, the widget's class name, then ``extra``."""
    name = type(widget).__name__.lower()
    css = widget.attrs.get("class", "")
    css = (css if name in css else f"{css} {name}") if css else name
    tokens = css.split()
    for token in extra.split():
        if token not in tokens:
            css += f" {token}"
            tokens.append(token)
    return css


def _input(field, widget) -> str:
    """Django's ``input.html`` of ``widget`` with crispy's ``form-control``."""
    attrs = field.build_widget_attrs({"class": _css_class(widget, "form-control")}, widget)
    attrs["id"] = field.auto_id
    context = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    value = context["value"]
    value = "" if value is None else f' value="{escape(value)}"'
    return (f'<input type="{conditional_escape(context["type"])}" name="{conditional_escape(context["name"])}"'
            f'{value}{_attrs(context["attrs"])}>')


def _checkboxes(field, widget) -> str:
    attrs = field.build_widget_attrs({"id": field.auto_id})
    groups = widget.optgroups(field.html_name, widget.format_value(field.value()), attrs)
    out = [_CHECKBOXES_START.format(field.auto_id, conditional_escape(field.label))]
    for group, options, _index in groups:
        if group:
            return ""  # named groups: crispy's
        for option in options:
            out.append(_CHECKBOX.format(
                conditional_escape(option["type"]), conditional_escape(field.html_name),
                conditional_escape(option["value"]), _attrs(option["attrs"]),
                conditional_escape(option["attrs"].get("id", "")), conditional_escape(option["label"]),
            ))
    out.append(_CHECKBOXES_END)
    return "".join(out)


def field_html(field) -> SafeString:
    """``field`` (a bound field) as ``as_crispy_field`` renders it with the bootstrap5 pack."""
    if is_plain(field):
        widget = field.field.widget
        kind = type(widget)
        html = ""
        if kind is forms.CheckboxSelectMultiple:
            html = _checkboxes(field, widget)
        elif isinstance(widget, forms.Select) and not widget.use_fieldset:
            attrs = field.build_widget_attrs({"class": _css_class(widget, "form-select")}, widget)
            attrs["id"] = field.auto_id
            html = _LABELLED.format(field.auto_id, field.id_for_label, conditional_escape(field.label)) + \
                _SELECT.format(widget.render(field.html_name, field.value(), attrs, field.form.renderer))
        elif isinstance(widget, Input) and not isinstance(widget, forms.FileInput | forms.CheckboxInput) \
                and not widget.use_fieldset:
            html = _LABELLED.format(field.auto_id, field.id_for_label, conditional_escape(field.label)) + \
                _INPUT.format(_input(field, widget))
        if html:
            return mark_safe(html)  # noqa: S308 - labels, values and attributes are escaped above
    return as_crispy_field(field)
