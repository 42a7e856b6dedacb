"""OpsDesk: the project package and its shared kernel app."""

from .celery import app as celery_app

__all__ = ("celery_app",)
