from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import services
from accounts.models import ApiToken, ApprovalStatus, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "role", "approval_status", "is_active", "date_joined"]
    list_filter = ["role", "approval_status", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fieldsets = DjangoUserAdmin.fieldsets + (
        (
            "Proactive",
            {
                "fields": (
                    "role",
                    "approval_status",
                    "approval_note",
                    "is_available",
                    "max_open_tickets",
                )
            },
        ),
    )
    actions = ["approve_selected", "reject_selected"]

    @admin.action(description="Approve selected registrations")
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, approved=True)

    @admin.action(description="Reject selected registrations")
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, approved=False)

    def _decide(self, request, queryset, *, approved: bool):
        count = 0
        for user in queryset.filter(approval_status=ApprovalStatus.PENDING):
            services.user_decide(user=user, approved=approved, decided_by=request.user)
            count += 1
        verb = "approved" if approved else "rejected"
        self.message_user(request, f"{count} registration(s) {verb}.", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "created_at", "expires_at", "last_used_at"]
    readonly_fields = ["prefix", "user", "key_hash", "created_at", "last_used_at"]
    search_fields = ["user__username"]
