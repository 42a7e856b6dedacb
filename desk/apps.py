from django.apps import AppConfig


class DeskConfig(AppConfig):
    """Tools across the records: global search, saved filters, attachments on incidents and changes."""

    name = "desk"
    verbose_name = "Desk tools"
