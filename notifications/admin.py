from django import forms
from django.contrib import admin
from rest_framework.exceptions import ValidationError

from notifications.models import Notification
from notifications.services import notification_times_check


class NotificationAdminForm(forms.ModelForm):
    """The admin keeps the rules of a notification's end as the API and the website do."""

    class Meta:
        model = Notification
        # The admin builds the form with its own list of fields.
        fields = ["start_at", "end_at"]

    def clean(self):
        data = super().clean()
        try:
            notification_times_check(
                start_at=data.get("start_at"),
                end_at=data.get("end_at"),
                end_changed="end_at" in self.changed_data,
            )
        except ValidationError as exc:
            for sentence in exc.detail["end_at"]:
                self.add_error("end_at", str(sentence))
        return data


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Editable while a draft or scheduled, as in the API. Once it is sending
    or done it is history: changing it would rewrite what customers were
    sent, and deleting it would take its messages and statistics along."""

    form = NotificationAdminForm
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
