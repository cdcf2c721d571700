"""What the ticket API reads and writes."""

from datetime import UTC, datetime

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import IDENTITY_FIELDS, User
from customers.models import Customer, ServiceType
from incidents.models import Incident
from tickets.models import (
    ACTIVE_STATUSES,
    Attachment,
    Comment,
    Interaction,
    Priority,
    Status,
    Ticket,
    TicketEvent,
)
from tickets.services import allowed_transitions_for


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class ServiceTypeField(serializers.RelatedField):
    """A service type by id, or by its code as in the directory."""

    default_error_messages = {
        "unknown": "There is no service type {value!r}; use an id or code of a service type.",
    }

    def get_queryset(self):
        return ServiceType.objects.all()

    def to_internal_value(self, data):
        text = str(data).strip()
        lookup = {"pk": int(text)} if text.isdigit() else {"code": text}
        found = ServiceType.objects.filter(**lookup).first()
        if found is None:
            self.fail("unknown", value=data)
        return found

    def to_representation(self, value):
        return value.pk


def _iso(value: datetime | None) -> str | None:
    """DRF's rendering of an aware datetime in UTC."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class TicketSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    service_type = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    is_overdue = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()
    follows = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The ticket this one follows up (a customer's reply to a ticket resolved "
        "too long ago opens a new ticket that follows it), or null.",
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "title",
            "description",
            "customer",
            "service_type",
            "priority",
            "status",
            "assignee",
            "accepted_at",
            "resolved_at",
            "resolution",
            "due_at",
            "is_overdue",
            "escalation_level",
            "incident",
            "follows",
            "allowed_transitions",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, ticket: Ticket) -> dict:
        # Written out by hand because lists render hundreds of tickets: the
        # same output as the field-by-field path (a test compares them), in a
        # fraction of the time.
        return {
            "id": ticket.pk,
            "number": ticket.number,
            "title": ticket.title,
            "description": ticket.description,
            "customer": ticket.customer_id,
            "service_type": ticket.service_type_id,
            "priority": ticket.priority,
            "status": ticket.status,
            "assignee": ticket.assignee_id,
            "accepted_at": _iso(ticket.accepted_at),
            "resolved_at": _iso(ticket.resolved_at),
            "resolution": ticket.resolution,
            "due_at": _iso(ticket.due_at),
            "is_overdue": self.get_is_overdue(ticket),
            "escalation_level": ticket.escalation_level,
            "incident": ticket.incident_id,
            "follows": ticket.follows_id,
            "allowed_transitions": self.get_allowed_transitions(ticket),
            "created_by": ticket.created_by_id,
            "created_at": _iso(ticket.created_at),
            "updated_at": _iso(ticket.updated_at),
        }

    def field_by_field_representation(self, ticket: Ticket) -> dict:
        return super().to_representation(ticket)

    def get_is_overdue(self, ticket: Ticket) -> bool:
        return ticket.status in ACTIVE_STATUSES and ticket.due_at < timezone.now()

    def get_allowed_transitions(self, ticket: Ticket) -> list[str]:
        request = self.context.get("request")
        if request is None:
            return []
        return allowed_transitions_for(ticket=ticket, user=request.user)


class TicketCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    service_type = ServiceTypeField(required=False, allow_null=True, default=None)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.MEDIUM)
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(),
        required=False,
        help_text="Staff: the customer the ticket is for. Customers: omit (always themselves).",
        error_messages={"does_not_exist": "There is no customer with id {pk_value}."},
    )
    attachments = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        help_text="Multipart only: files stored with the new ticket (repeat the field for "
        "several, at most 10), each checked like POST /api/tickets/{id}/attachments/; "
        "one rejected file stores nothing.",
    )


class TicketUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    service_type = ServiceTypeField(required=False, allow_null=True)
    incident = serializers.PrimaryKeyRelatedField(
        queryset=Incident.objects.all(),
        required=False,
        allow_null=True,
        help_text="Staff: link the ticket to an incident (it waits on it) or unlink it (null).",
        error_messages={"does_not_exist": "There is no incident with id {pk_value}."},
    )


class AssignSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        error_messages={"does_not_exist": "There is no user with id {pk_value}."},
    )


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=10000)


class CommentSerializer(serializers.ModelSerializer):
    author_username = serializers.CharField(
        source="author.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Comment
        fields = ["id", "ticket", "author", "author_username", "body", "internal", "created_at"]
        read_only_fields = ["id", "ticket", "author", "author_username", "created_at"]


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "ticket",
            "name",
            "content_type",
            "size",
            "uploaded_by",
            "created_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, attachment: Attachment) -> str:
        return reverse(
            "ticket-attachment-download",
            kwargs={"pk": attachment.ticket_id, "attachment_id": attachment.pk},
        )


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,
        help_text="PNG, JPEG, GIF, PDF, plain text (UTF-8) or CSV; the size limit is "
        "TICKET_ATTACHMENT_MAX_BYTES (10 MB by default).",
    )


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.CharField(source="old_value", allow_null=True)
    new = serializers.CharField(source="new_value", allow_null=True)


class TicketEventSerializer(serializers.ModelSerializer):
    actor_username = serializers.CharField(
        source="actor.username", read_only=True, default=None, allow_null=True
    )
    changes = FieldChangeSerializer(many=True, read_only=True)

    class Meta:
        model = TicketEvent
        fields = [
            "id",
            "ticket",
            "kind",
            "actor",
            "actor_username",
            "note",
            "changes",
            "created_at",
        ]
        read_only_fields = fields


class InteractionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interaction
        fields = [
            "id",
            "ticket",
            "customer",
            "kind",
            "duration_seconds",
            "notes",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "created_by", "created_at"]
        extra_kwargs = {"customer": {"required": False}}


class EngineerSerializer(serializers.ModelSerializer):
    open_tickets = serializers.IntegerField(read_only=True)
    available = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            *IDENTITY_FIELDS,
            "is_active",
            "is_available",
            "max_open_tickets",
            "open_tickets",
            "available",
            "last_assigned_at",
        ]
        read_only_fields = fields

    def get_available(self, user: User) -> bool:
        return bool(
            user.is_active and user.is_available and user.open_tickets < user.max_open_tickets
        )


class EngineerUpdateSerializer(serializers.Serializer):
    is_available = serializers.BooleanField(required=False)
    max_open_tickets = serializers.IntegerField(required=False, min_value=0, max_value=10000)


class StatsBucketSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    total_duration_seconds = serializers.IntegerField()
    average_duration_seconds = serializers.FloatField()


class EngineerStatsSerializer(StatsBucketSerializer):
    engineer = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_null=True)


class InteractionStatsSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField(allow_null=True)
    total = StatsBucketSerializer()
    by_kind = serializers.DictField(child=StatsBucketSerializer())
    by_engineer = EngineerStatsSerializer(many=True)
