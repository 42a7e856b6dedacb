"""The ingest endpoint's own authentication and rate limit (not the API's user tokens).

Monitoring systems send ``Authorization: Bearer <source token>`` (Alertmanager's
``http_config.authorization``, Grafana's webhook authorization header); the
API's knox tokens use ``Token``, and a source token is no user. So the ingest view
authenticates the *source* and nothing else: ``request.auth`` is the source,
``request.user`` stays anonymous.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.throttling import BaseThrottle

from . import services

SCHEME = b"bearer"


class SourceTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` of the source named in the URL; 401 for anything else."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != SCHEME:
            raise NotAuthenticated("Send the source's token as \"Authorization: Bearer <token>\".")
        if len(header) == 1:
            raise NotAuthenticated("The token is missing after \"Bearer\".")
        if len(header) != 2:
            raise AuthenticationFailed("Malformed Authorization header: \"Bearer <token>\", one token, no spaces.")
        try:
            token = header[1].decode()
        except UnicodeDecodeError:
            raise AuthenticationFailed("The token is not valid text.") from None
        slug = request.parser_context["kwargs"].get("source_slug", "")
        source = services.authenticate_source(slug=slug, token=token)
        if source is None:
            raise AuthenticationFailed("Unknown source or wrong token.")
        if not source.enabled:
            raise AuthenticationFailed(f"The alert source {source.slug!r} is disabled.")
        return AnonymousUser(), source

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="opsdesk-alerts"'


class SourceRateThrottle(BaseThrottle):
    """The source's ``rate_limit_per_minute``, counted in the database (see ``services.claim_delivery``)."""

    def allow_request(self, request, view) -> bool:
        self.retry_after = services.claim_delivery(request.auth)
        return self.retry_after is None

    def wait(self) -> float | None:
        return self.retry_after
