"""Tickets: the complaint and service-request lifecycle.

A ticket's every change is a TicketEvent with one TicketFieldChange row per
field (who, when, field, old, new), which is the audit trail.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.numbering import Numbered


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


PRIORITY_ORDER = [Priority.LOW, Priority.MEDIUM, Priority.HIGH, Priority.CRITICAL]


class Status(models.TextChoices):
    OPEN = "open", "Open"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


# A ticket in one of these still needs work; an engineer's load is the
# number of these assigned to them.
ACTIVE_STATUSES = [Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD]
FINISHED_STATUSES = [Status.RESOLVED, Status.CLOSED, Status.CANCELLED]
# Before an engineer has started work the customer may still edit or cancel.
CUSTOMER_EDITABLE_STATUSES = [Status.OPEN, Status.ASSIGNED]

_ACTIVE_Q = Q(status__in=[s.value for s in ACTIVE_STATUSES])


class Ticket(Numbered):
    NUMBER_PREFIX = "T"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # These foreign keys are indexed by the composite (key, -id) indexes in
    # Meta, which serve both lookups and newest-first lists.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    service_type = models.ForeignKey(
        "customers.ServiceType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
        db_index=False,
    )
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_tickets",
        db_index=False,
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    due_at = models.DateTimeField()
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        db_index=True,
    )
    escalation_level = models.PositiveSmallIntegerField(default=0)
    # A customer's reply to a ticket finished too long ago opens a new ticket
    # that follows it.
    follows = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="created_tickets",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # "My tickets" and the engineer's default list (mine + unassigned).
            models.Index(fields=["assignee", "-id"], name="ticket_assignee_recent"),
            models.Index(fields=["customer", "-id"], name="ticket_customer_recent"),
            models.Index(fields=["status", "priority", "-id"], name="ticket_status_priority"),
            models.Index(fields=["service_type", "-id"], name="ticket_service_recent"),
            models.Index(fields=["created_at"], name="ticket_created"),
            # Engineer load, counted on every assignment.
            models.Index(fields=["assignee"], name="ticket_active_load", condition=_ACTIVE_Q),
            # Waiting tickets and the overdue sweep.
            models.Index(fields=["due_at"], name="ticket_active_due", condition=_ACTIVE_Q),
        ]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class _TrailEntry(models.Model):
    """What an event and a comment share: a moment in the ticket's trail,
    in order, that may be internal (hidden from the customer)."""

    # Events about internal notes are hidden from customers like the notes.
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["id"]


class TicketEvent(_TrailEntry):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        ASSIGNED = "assigned", "Assigned"
        ACCEPTED = "accepted", "Accepted"
        STATUS_CHANGED = "status_changed", "Status changed"
        RESOLVED = "resolved", "Resolved"
        COMMENTED = "commented", "Commented"
        ATTACHED = "attached", "File attached"
        ESCALATED = "escalated", "Escalated"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta(_TrailEntry.Meta):
        indexes = [models.Index(fields=["ticket", "id"], name="ticket_event_order")]

    def __str__(self) -> str:
        return f"{self.kind} on ticket {self.ticket_id}"


class TicketFieldChange(models.Model):
    event = models.ForeignKey(TicketEvent, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=64)
    old_value = models.TextField(blank=True, null=True)
    new_value = models.TextField(blank=True, null=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value!r} → {self.new_value!r}"


class TicketEscalation(models.Model):
    """One row per (ticket, level): the guarantee that a level escalates once."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations")
    level = models.CharField(max_length=16, choices=Priority.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "level"], name="ticket_escalation_once")
        ]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id} escalated to {self.level}"


class Comment(_TrailEntry):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()

    class Meta(_TrailEntry.Meta):
        indexes = [models.Index(fields=["ticket", "id"], name="ticket_comment_order")]

    def __str__(self) -> str:
        return f"comment {self.pk} on ticket {self.ticket_id}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The stored file has a random name; the original name is only shown.
    file = models.FileField(upload_to="attachments/", max_length=200)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["ticket", "id"], name="ticket_attachment_order")]

    def __str__(self) -> str:
        return self.original_name


class Interaction(models.Model):
    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        VISIT = "visit", "Visit"
        CHAT = "chat", "Chat"
        SMS = "sms", "SMS"

    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="interactions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    duration_seconds = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="interaction_customer")]

    def __str__(self) -> str:
        return f"{self.kind} with customer {self.customer_id}"


class OutageDeflection(models.Model):
    """A customer who saw "we already know about this outage" and chose not
    to raise a ticket: one row per (incident, customer), so reloading the
    page or asking twice counts once."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="deflections"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="outage_deflections"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "customer"], name="outage_deflection_once")
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id} waited on incident {self.incident_id}"
