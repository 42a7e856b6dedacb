"""Admin of the desk tools, for superusers only: saved filters and attachments can name
confidential incidents' files, and the record pages already apply who may see what."""

from django.contrib import admin

from .models import Attachment, SavedFilter


class SuperuserOnly:
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SavedFilter)
class SavedFilterAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = ["name", "list", "user", "query", "created_at"]
    list_filter = ["list"]
    search_fields = ["name", "user__username"]

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)


@admin.register(Attachment)
class AttachmentAdmin(SuperuserOnly, admin.ModelAdmin):
    """Read-only: files are removed on their record's page, which also deletes the stored file and logs it."""

    list_display = ["filename", "content_type", "object_id", "mime_type", "size", "uploaded_by", "uploaded_at"]
    list_filter = ["content_type", "mime_type"]
    search_fields = ["filename"]
    list_select_related = ["content_type", "uploaded_by"]

    def has_delete_permission(self, request, obj=None):
        return False
