from django.contrib import admin

from delivery.models import Message, OutboxMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    """Delivery records are written by the pipeline only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "notification", "customer", "channel", "to_address", "status"]
    list_filter = ["status", "channel"]
    search_fields = ["to_address", "customer__name", "customer__account_number"]
    raw_id_fields = ["notification", "customer"]
    list_select_related = ["notification", "customer"]
    show_full_result_count = False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "channel", "to", "subject", "created_at"]
    list_filter = ["channel"]
    search_fields = ["to", "subject"]
    raw_id_fields = ["message"]
