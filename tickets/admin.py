from django.contrib import admin

from tickets.models import (
    Attachment,
    Comment,
    Interaction,
    Ticket,
    TicketEvent,
    TicketFieldChange,
)
from tickets.selectors import ticket_search


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    fields = ["author", "internal", "body", "created_at"]
    readonly_fields = ["author", "created_at"]


class _ReadOnlyInline(admin.TabularInline):
    """Rows shown to read: none is added, changed or deleted here."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class AttachmentInline(_ReadOnlyInline):
    model = Attachment
    fields = ["original_name", "content_type", "size", "uploaded_by", "created_at"]


class EventInline(_ReadOnlyInline):
    """The audit trail: who changed what, with old and new values."""

    model = TicketEvent
    fields = ["created_at", "kind", "actor", "note", "changed"]

    @admin.display(description="changes")
    def changed(self, event):
        return "; ".join(
            f"{c.field}: {c.old_value or '—'} → {c.new_value or '—'}" for c in event.changes.all()
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor").prefetch_related("changes")


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "customer", "priority", "status", "assignee", "due_at"]
    list_filter = ["status", "priority", "service_type"]
    list_select_related = ["customer", "assignee"]
    raw_id_fields = ["customer", "assignee", "created_by"]
    search_fields = ["title"]
    readonly_fields = ["number", "created_by", "created_at", "updated_at", "escalation_level"]
    inlines = [CommentInline, AttachmentInline, EventInline]

    def get_search_results(self, request, queryset, search_term):
        return ticket_search(queryset, term=search_term), False


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "ticket", "kind", "actor", "note"]
    list_filter = ["kind"]
    raw_id_fields = ["ticket", "actor"]

    class ChangeInline(admin.TabularInline):
        model = TicketFieldChange
        extra = 0
        readonly_fields = ["field", "old_value", "new_value"]

    inlines = [ChangeInline]


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "customer", "ticket", "duration_seconds", "created_by"]
    list_filter = ["kind"]
    raw_id_fields = ["customer", "ticket", "created_by"]
