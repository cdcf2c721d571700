from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Editable while a draft or scheduled, as in the API. Once it is sending
    or done it is history: changing it would rewrite what customers were
    sent, and deleting it would take its messages and statistics along."""

    list_display = ["id", "title", "kind", "status", "start_at", "end_at", "created_by"]
    list_filter = ["status", "kind"]
    search_fields = ["title", "body"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["status", "started_at", "materialized_at", "finished_at", "created_at"]

    @staticmethod
    def _is_history(obj) -> bool:
        return obj is not None and obj.status not in Notification.EDITABLE_STATUSES

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._is_history(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self._is_history(obj)

    def delete_queryset(self, request, queryset):
        """The list's bulk delete removes only drafts and scheduled ones."""
        super().delete_queryset(request, queryset.filter(status__in=Notification.EDITABLE_STATUSES))
