"""Alert intake API: sources (token shown once) and the ingest endpoint monitoring systems post to."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.exceptions import DomainValidationError

from .. import services
from ..auth import SourceRateThrottle, SourceTokenAuthentication
from ..filtersets import AlertFilterSet
from ..models import AlertSource
from ..parsers import PayloadError, load_json
from ..selectors import alert_list, source_list
from .serializers import AlertSerializer, AlertSourceCreatedSerializer, AlertSourceSerializer, IngestAnswerSerializer


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class AlertSourceViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Monitoring sources (§9). Creating one (superusers and Incident Managers) answers its ``token``
    once; ``rotate-token`` replaces it. Sources are never deleted: set ``enabled`` false."""

    serializer_class = AlertSourceSerializer
    queryset = AlertSource.objects.none()
    http_method_names = ["get", "post", "patch", "head", "options"]
    ordering_fields = ["name", "last_alert_at"]
    filterset_fields = ["kind", "enabled"]

    def get_queryset(self):
        return source_list().order_by("name")

    def _answer(self, source: AlertSource, token: str, code: int) -> Response:
        source = self.get_queryset().get(pk=source.pk)
        source.token = token
        return Response(AlertSourceCreatedSerializer(source, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=AlertSourceSerializer, responses={201: AlertSourceCreatedSerializer})
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        source, token = services.alert_source_create(by=request.user, **body.validated_data)
        return self._answer(source, token, status.HTTP_201_CREATED)

    @extend_schema(request=AlertSourceSerializer, responses={200: AlertSourceSerializer})
    def partial_update(self, request, *args, **kwargs):
        source = self.get_object()
        body = self.get_serializer(source, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.alert_source_update(source=source, by=request.user, **body.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=source.pk)).data)

    @extend_schema(request=None, responses={200: AlertSourceCreatedSerializer}, summary="Replace the token")
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request, pk=None):
        source = self.get_object()
        token = services.alert_source_rotate_token(source=source, by=request.user)
        return self._answer(source, token, status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: AlertSerializer(many=True)}, summary="The source's alerts")
    @action(detail=True, methods=["get"], filter_backends=[])
    def alerts(self, request, pk=None):
        """The source's alerts, newest first (``?status=``, ``?fingerprint=``, ``?current=``, ``?last_seen_after=``);
        those of confidential incidents only for who may see them."""
        source = self.get_object()
        if not request.user.has_perm("alerts.view_alert"):
            raise PermissionDenied("You may not read alerts.")
        filters = AlertFilterSet(request.query_params, queryset=alert_list(user=request.user, source=source))
        if not filters.is_valid():
            raise ValidationError(filters.errors)
        alerts = filters.qs
        page = self.paginate_queryset(alerts)
        return self.get_paginated_response(AlertSerializer(page, many=True).data)


class AlertIngestView(APIView):
    """``POST /api/v1/alerts/{source_slug}/`` with ``Authorization: Bearer <source token>``.

    The body is the source's format: Alertmanager's webhook (version 4), Grafana's webhook contact point,
    or the generic ``{"alerts": [...]}``. 202 ``{"incidents", "alerts"}`` (and ``rejected`` when some alerts
    could not be read); 401 missing/wrong token or disabled source; 400 naming the bad part; 413 too large;
    429 with ``Retry-After`` past the source's rate limit. A refused request stores nothing.
    """

    authentication_classes = [SourceTokenAuthentication]
    permission_classes: list = []
    throttle_classes = [SourceRateThrottle]
    parser_classes: list = []  # the body is read (bounded) and parsed here

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            202: IngestAnswerSerializer,
            400: OpenApiResponse(description="Malformed body: the bad parts named, e.g. alerts[3].startsAt."),
            401: OpenApiResponse(description="Missing or wrong token, or the source is disabled."),
            413: OpenApiResponse(description="Body over OPSDESK_ALERT_MAX_BODY_BYTES."),
            429: OpenApiResponse(description="Past the source's rate_limit_per_minute; see Retry-After."),
        },
        auth=[],
        summary="Receive alerts from a monitoring source",
    )
    def post(self, request, source_slug: str):
        source = request.auth
        limit = settings.OPSDESK_ALERT_MAX_BODY_BYTES
        too_large = PayloadTooLarge(f"The body is larger than {limit} bytes: send fewer alerts per request.")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise too_large
        body = request._request.read(limit + 1)
        if len(body) > limit:
            raise too_large
        try:
            payload = load_json(body)
        except PayloadError as exc:
            raise DomainValidationError(exc.errors) from None
        result = services.alert_ingest(source=source, payload=payload)
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)
