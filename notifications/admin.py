from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "kind", "status", "start_at", "end_at", "created_by"]
    list_filter = ["status", "kind"]
    search_fields = ["title", "body"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["status", "started_at", "materialized_at", "finished_at", "created_at"]
