"""Admin for the kernel: services, teams, the read-only transition log, the outbox."""

from django.contrib import admin, messages
from django.utils import timezone

from . import notifications, services
from .choices import NotificationStatus
from .confidentiality import ConfidentialAdminMixin
from .models import AuditEvent, Notification, Service, Team, TransitionLog

admin.site.site_header = "OpsDesk administration"
admin.site.site_title = "OpsDesk"
admin.site.index_title = "Operations desk"


class ArchiveAdmin(admin.ModelAdmin):
    """Teams and services are archived, never deleted (§6): untick *Active*, or the action."""

    actions = ["archive"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Archive (keeps their history; they leave every choice list)", permissions=["change"])
    def archive(self, request, queryset):
        archive = services.team_archive if self.model is Team else services.service_archive
        for obj in queryset:
            archive(**{self.model._meta.model_name: obj, "by": request.user})  # needs the delete permission
        messages.success(request, f"{queryset.count()} archived.")


@admin.register(Team)
class TeamAdmin(ArchiveAdmin):
    list_display = ["name", "lead", "email", "active"]
    list_filter = ["active"]
    search_fields = ["name", "email"]
    filter_horizontal = ["members"]
    autocomplete_fields = ["lead"]


@admin.register(Service)
class ServiceAdmin(ArchiveAdmin):
    list_display = ["name", "slug", "owner_team", "criticality", "active"]
    list_filter = ["active", "criticality", "owner_team"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["owner_team"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody, not even a superuser, adds, edits or deletes these rows here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TransitionLog)
class TransitionLogAdmin(ConfidentialAdminMixin, ReadOnlyAdmin):
    """The transition log; entries (and comments) of confidential incidents only for who may see them."""

    confidential_generic = True
    list_display = ["timestamp", "object_number", "transition", "from_state", "to_state", "user"]
    list_filter = ["content_type", "transition", "to_state"]
    search_fields = ["object_number", "comment", "user__username"]
    date_hierarchy = "timestamp"
    list_select_related = ["user", "content_type"]


@admin.register(Notification)
class NotificationAdmin(ConfidentialAdminMixin, admin.ModelAdmin):
    """The outbox; notifications about confidential incidents only for who may see them."""

    confidential_generic = True
    list_display = ["created_at", "channel", "recipient", "subject", "status", "attempts", "sent_at"]
    list_filter = ["status", "channel", "queue"]
    search_fields = ["recipient", "subject"]
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry delivery now")
    def retry_now(self, request, queryset):
        rows = queryset.exclude(status__in=[NotificationStatus.SENT, NotificationStatus.SENDING])
        count = rows.update(next_attempt_at=timezone.now(), attempts=0)
        queued = notifications.publish(rows.values_list("pk", "queue"))
        if queued < count:
            messages.warning(request, f"{count - queued} notification(s) stay pending: the broker is unreachable "
                                      "(the retry sweep delivers them when it is back).")
        messages.success(request, f"{queued} notification(s) queued for delivery.")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log (§6): read-only, and only for superusers."""

    list_display = ["time", "kind", "username", "ip_address", "method", "path", "object_repr"]
    list_filter = ["kind"]
    search_fields = ["username", "path", "object_repr", "detail", "ip_address"]
    date_hierarchy = "time"
    list_select_related = ["user"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser
