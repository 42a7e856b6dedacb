"""API of the desk tools: saved filters (the user's own) and attachments of incidents and changes."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services, views
from ..choices import RecordKind
from ..models import SavedFilter
from ..records import visible_record
from .serializers import AttachmentSerializer, AttachmentUploadSerializer, SavedFilterSerializer


class SavedFilterViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                         mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The requesting user's saved filters (``?list=incidents|changes|releases``); nobody sees another's.
    Saving a name that exists on that list replaces its query."""

    serializer_class = SavedFilterSerializer
    permission_classes = [IsAuthenticated]
    queryset = SavedFilter.objects.none()
    filterset_fields = ["list"]

    def get_queryset(self):
        return selectors.saved_filters_of(self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.saved_filter_save(
            user=self.request.user, list_key=data["list"], name=data["name"], query=data.get("query", "")
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(self.get_serializer(serializer.instance).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.saved_filter_delete(saved_filter=instance, by=self.request.user)


class RecordAttachmentsView(APIView):
    """``GET``: the attachments of an incident or change; ``POST`` (multipart, ``file``): attach one."""

    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]
    kind: str = ""

    def _record(self, request, pk: int):
        record = visible_record(request.user, self.kind, pk)
        if record is None:
            raise NotFound("No such record.")
        return record

    @extend_schema(responses=AttachmentSerializer(many=True))
    def get(self, request, pk: int):
        attachments = selectors.attachments_of(self._record(request, pk))
        return Response(AttachmentSerializer(attachments, many=True).data)

    @extend_schema(request={"multipart/form-data": AttachmentUploadSerializer}, responses={201: AttachmentSerializer})
    def post(self, request, pk: int):
        record = self._record(request, pk)
        attachment = services.attachment_add(record=record, upload=request.FILES.get("file"), by=request.user)
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentView(APIView):
    """``GET``: one attachment's details; ``DELETE``: remove it (the uploader or a manager)."""

    permission_classes = [IsAuthenticated]

    def _find(self, request, pk: int):
        found = selectors.visible_attachment(request.user, pk)
        if found is None:
            raise NotFound("No such attachment.")
        return found

    @extend_schema(responses=AttachmentSerializer)
    def get(self, request, pk: int):
        attachment, _, _ = self._find(request, pk)
        return Response(AttachmentSerializer(attachment).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        attachment, _, record = self._find(request, pk)
        services.attachment_delete(attachment=attachment, record=record, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentDownloadView(APIView):
    """The file itself (``Content-Disposition: attachment``, ``nosniff``), to those who may see the record."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk: int):
        try:
            return views.serve_attachment(request, pk)
        except Http404 as exc:
            raise NotFound("No such attachment.") from exc


incident_attachments = RecordAttachmentsView.as_view(kind=RecordKind.INCIDENT)
change_attachments = RecordAttachmentsView.as_view(kind=RecordKind.CHANGE)
