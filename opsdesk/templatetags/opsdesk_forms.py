"""``{{ form.field|as_field }}``: the field as ``as_crispy_field`` renders it (``opsdesk.fields``)."""

from django import template

from opsdesk.fields import field_html

register = template.Library()


@register.filter
def as_field(field):
    return field_html(field)
