"""Delivery API: message records and the outbox of the embedded default."""

import django_filters
from rest_framework import serializers, viewsets

from accounts.permissions import IsStaffMember
from config.filters import FilterSet
from delivery.models import Channel, Message, MessageStatus, OutboxMessage
from delivery.selectors import outbox_list


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "notification",
            "customer",
            "channel",
            "to_address",
            "status",
            "attempts",
            "last_error",
            "next_attempt_at",
            "sent_at",
            "provider_id",
            "segments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MessageFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=MessageStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    customer = django_filters.NumberFilter(field_name="customer_id")

    class Meta:
        model = Message
        fields = ["status", "channel", "customer"]


class OutboxMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboxMessage
        fields = ["id", "channel", "to", "subject", "body", "html", "created_at", "message"]
        read_only_fields = fields


class OutboxFilter(FilterSet):
    to = django_filters.CharFilter(lookup_expr="icontains")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)

    class Meta:
        model = OutboxMessage
        fields = ["to", "channel"]


class OutboxViewSet(viewsets.ReadOnlyModelViewSet):
    """What the embedded default captured instead of sending, newest first."""

    serializer_class = OutboxMessageSerializer
    permission_classes = [IsStaffMember]
    filterset_class = OutboxFilter
    search_fields = ["to", "subject", "body"]
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return outbox_list()
