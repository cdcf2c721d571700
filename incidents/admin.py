from django.contrib import admin

from incidents.models import Incident, IncidentUpdate


class IncidentUpdateInline(admin.TabularInline):
    model = IncidentUpdate
    extra = 0
    fields = ["created_at", "kind", "status", "body", "notification"]
    readonly_fields = fields
    can_delete = False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Read-mostly: incidents change through the API and the website, whose
    services send the notices; the admin is for looking."""

    list_display = ["id", "title", "kind", "status", "impact", "created_at"]
    list_filter = ["kind", "status", "impact"]
    search_fields = ["title"]
    inlines = [IncidentUpdateInline]
    readonly_fields = [
        field.name for field in Incident._meta.fields if field.name not in ("title", "public")
    ]

    def has_add_permission(self, request) -> bool:
        return False
