"""Incidents: one outage or one planned maintenance, its frozen audience,
every update, and the root-cause report. Each notice an incident sends is an
ordinary notifications.Notification with `incident` set."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.numbering import Numbered, number_format

DEFAULT_REMINDER_BODY = (
    "Reminder: planned maintenance \u201c{{ incident.title }}\u201d starts at "
    "{{ incident.scheduled_start }} and should end by {{ incident.scheduled_end }}."
)
DEFAULT_START_BODY = (
    "Planned maintenance \u201c{{ incident.title }}\u201d has started. "
    "We expect it to end by {{ incident.scheduled_end }}."
)
DEFAULT_END_BODY = (
    "Planned maintenance \u201c{{ incident.title }}\u201d is complete. "
    "Your service should work normally; if it does not, please raise a ticket."
)


def _notice_link(*, related_name: str = "+") -> models.ForeignKey:
    """A link to one of the incident's notices (a notification), kept empty
    if that notification is ever deleted."""
    return models.ForeignKey(
        "notifications.Notification",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name=related_name,
    )


class Incident(Numbered):
    NUMBER_PREFIX = "INC"

    class Kind(models.TextChoices):
        OUTAGE = "outage", "Outage"
        MAINTENANCE = "maintenance", "Planned maintenance"

    class Impact(models.TextChoices):
        MINOR = "minor", "Minor"
        MAJOR = "major", "Major"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    OUTAGE_STATUSES = (
        Status.DRAFT,
        Status.INVESTIGATING,
        Status.IDENTIFIED,
        Status.MONITORING,
        Status.RESOLVED,
    )
    MAINTENANCE_STATUSES = (
        Status.SCHEDULED,
        Status.IN_PROGRESS,
        Status.COMPLETED,
        Status.CANCELLED,
    )
    FINISHED_STATUSES = (Status.RESOLVED, Status.COMPLETED, Status.CANCELLED)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    impact = models.CharField(max_length=16, choices=Impact.choices, default=Impact.MAJOR)
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    # The same shape as a notification audience: {location: [], last_mile_site: [],
    # service_type: [], tag: [], operator_code: [], customer_ids: []}.
    scope = models.JSONField(default=dict)
    channels = models.JSONField(default=list)
    respect_contact_window = models.BooleanField(default=True)
    public = models.BooleanField(default=True)
    eta = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    scheduled_start = models.DateTimeField(null=True, blank=True)
    scheduled_end = models.DateTimeField(null=True, blank=True)
    reminder_minutes_before = models.PositiveIntegerField(null=True, blank=True, default=1440)
    reminder_body = models.TextField(default=DEFAULT_REMINDER_BODY)
    start_body = models.TextField(default=DEFAULT_START_BODY)
    end_body = models.TextField(default=DEFAULT_END_BODY)
    rca_title = models.CharField(max_length=200, blank=True)
    rca_body = models.TextField(blank=True)
    rca_published_at = models.DateTimeField(null=True, blank=True)
    rca_notification = _notice_link()
    # Maintenance: the automatic notices, scheduled as notifications at
    # creation (so a restart of beat or a worker loses none) and moved with
    # the window.
    reminder_notification = _notice_link()
    start_notification = _notice_link()
    end_notification = _notice_link()
    # When the scope's customers were written into IncidentCustomer: at once
    # for small scopes, by the first notice's task for large ones (so the
    # declaring request stays fast); null until then.
    audience_frozen_at = models.DateTimeField(null=True, blank=True)
    # Customers who saw "we already know about this outage" and did not raise a ticket.
    deflected_count = models.PositiveIntegerField(default=0)
    # Alarms: the Alertmanager group that opened this draft, and what it sent
    # (alerts whose site is unknown are kept here too).
    alert_group_key = models.CharField(max_length=500, blank=True, db_index=True)
    alerts = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "status"], name="incident_kind_status"),
            models.Index(fields=["status", "scheduled_start"], name="incident_status_start"),
        ]

    @property
    def is_active(self) -> bool:
        return self.status not in self.FINISHED_STATUSES


def format_number(pk: int | None) -> str:
    return number_format("INC", pk)


class IncidentCustomer(models.Model):
    """The frozen audience: one row per affected customer, written set-based
    (INSERT … SELECT) when the incident is declared or its scope widened.

    No database-level foreign keys, as for delivery.Message: 100,000 rows
    are written by one statement that takes the ids from the tables
    themselves, and re-checking each row's references costs more than the
    insert."""

    incident = models.ForeignKey(
        Incident,
        on_delete=models.CASCADE,
        related_name="audience_links",
        db_index=False,  # the unique constraint's index leads with it
        db_constraint=False,
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="incident_links",
        db_index=False,  # indexed by (customer, incident) below
        db_constraint=False,
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "customer"], name="incident_customer_once"),
        ]
        indexes = [
            models.Index(fields=["customer", "incident"], name="incident_customer_by_customer"),
        ]

    def __str__(self) -> str:
        return f"incident {self.incident_id} customer {self.customer_id}"


class IncidentUpdate(models.Model):
    """One step of the timeline: a status change and its text, and the
    notice it sent (none for a suggestion from monitoring not yet posted,
    or an update posted with notify=false)."""

    class Kind(models.TextChoices):
        DECLARATION = "declaration", "Declaration"
        UPDATE = "update", "Update"
        RESOLUTION = "resolution", "Resolution"
        ANNOUNCEMENT = "announcement", "Announcement"
        REMINDER = "reminder", "Reminder"
        START = "start", "Start"
        END = "end", "End"
        RESCHEDULE = "reschedule", "Reschedule"
        CANCELLATION = "cancellation", "Cancellation"
        WIDENING = "widening", "Scope widened"
        SUGGESTION = "suggestion", "Suggested by monitoring"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.UPDATE)
    status = models.CharField(max_length=16, choices=Incident.Status.choices)
    body = models.TextField()
    sms_body = models.TextField(blank=True)
    eta = models.DateTimeField(null=True, blank=True)
    notification = _notice_link(related_name="incident_updates")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incident_updates",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["incident", "-created_at"], name="incident_update_latest")]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.status}"
