"""``manage.py issue_token <username> [--days N] [--name CLIENT]``: a new API token, printed once."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken


class Command(BaseCommand):
    help = (
        "Issue an API token (django-rest-knox) for a user and print its key once. "
        "Only a hash is stored: the key cannot be shown again. Revoke it in the admin "
        "(Knox › Auth tokens: delete)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Days until the token expires (default: API_TOKEN_TTL_DAYS, 90).",
        )
        parser.add_argument(
            "--name",
            default="",
            help="The client this token is for (shown in the output, to label the key you hand out).",
        )

    def handle(self, *args, username: str, days: int | None, name: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; activate it before issuing a token.")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        ttl = timedelta(days=days) if days is not None else settings.REST_KNOX["TOKEN_TTL"]
        instance, key = AuthToken.objects.create(user=user, expiry=ttl)
        label = f" for {name}" if name else ""
        self.stdout.write(
            f"Token{label} (user {user.username}, expires {instance.expiry:%Y-%m-%d %H:%M} UTC, "
            f"id {instance.token_key}):"
        )
        self.stdout.write(key)
        self.stderr.write(
            "Store it now: it is shown only once. Use it as the header 'Authorization: Token <key>'."
        )
