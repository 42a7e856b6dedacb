from django.urls import reverse
from rest_framework import serializers

from ..choices import ListKey
from ..models import Attachment, SavedFilter


class SavedFilterSerializer(serializers.ModelSerializer):
    """A saved filter of a list; ``url`` opens the list with it applied."""

    list = serializers.ChoiceField(choices=ListKey.choices)
    url = serializers.SerializerMethodField()

    class Meta:
        model = SavedFilter
        fields = ["id", "list", "name", "query", "url", "created_at"]
        read_only_fields = ["id", "url", "created_at"]

    def get_url(self, obj) -> str:
        from ..records import LISTS

        base = reverse(LISTS[obj.list].list_url)
        return f"{base}?{obj.query}" if obj.query else base


class AttachmentSerializer(serializers.ModelSerializer):
    """A file attached to an incident or a change; ``download_url`` serves it to those who may see the record."""

    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "filename", "mime_type", "size", "uploaded_by", "uploaded_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        return reverse("api-attachment-download", args=[obj.pk])


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
