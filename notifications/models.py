from django.conf import settings
from django.db import models
from django.utils import timezone

# The subject line of an email (a column of this width).
TITLE_MAX_CHARS = 200


class Notification(models.Model):
    """What to tell whom and when. The audience is resolved into Message rows
    (delivery.Message) when the notification starts; after that the rows, not
    the audience, say who is told."""

    class Kind(models.TextChoices):
        GENERAL = "general", "General"
        OUTAGE = "outage", "Outage"
        MAINTENANCE = "maintenance", "Planned maintenance"
        RCA = "rca", "Root cause analysis"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"

    class Category(models.TextChoices):
        SERVICE = "service", "Service"
        MARKETING = "marketing", "Marketing"

    EDITABLE_STATUSES = (Status.DRAFT, Status.SCHEDULED, Status.AWAITING_APPROVAL)

    title = models.CharField(max_length=TITLE_MAX_CHARS)
    body = models.TextField()
    body_html = models.TextField(
        blank=True, help_text="Optional HTML template; generated from the text body when empty."
    )
    sms_body = models.TextField(
        blank=True, help_text="Optional short template for SMS; the text body is used when empty."
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.GENERAL)
    channels = models.JSONField(default=list)
    category = models.CharField(
        max_length=16, choices=Category.choices, default=Category.SERVICE, db_index=True
    )
    # The channel a customer unreachable on `channels` gets one message on instead.
    fallback_channel = models.CharField(max_length=8, blank=True, null=True, default=None)
    audience = models.JSONField(default=dict, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    respect_contact_window = models.BooleanField(default=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
        db_index=True,
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approved_notifications",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    materialized_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "start_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"
