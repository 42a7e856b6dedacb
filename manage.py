#!/usr/bin/env python
"""Django's command-line utility for OpsDesk."""

import os
import sys


def main() -> None:
    env = os.environ.get("OPSDESK_ENV", "local")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"opsdesk.settings.{env}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
