"""The same formats for the en-gb locale (``opsdesk.formats.en`` holds them once)."""

from opsdesk.formats.en.formats import *  # noqa: F403
