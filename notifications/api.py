"""Notifications API: thin views over notifications.services and selectors."""

import django_filters
from django.conf import settings
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import IsStaffMember
from config.fields import IdField
from config.filters import FilterSet
from config.schema import responds_with
from customers.api import AudienceSerializer
from customers.models import Customer
from customers.validation import FieldError, clean_phone
from delivery.api import DeliveryErrorSerializer, MessageFilter, MessageSerializer
from delivery.channels.sms import sms_size
from delivery.models import Channel
from notifications import selectors, services, templating
from notifications.models import TITLE_MAX_CHARS, Notification


class TotalsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())


class SmsPreviewSerializer(serializers.Serializer):
    text = serializers.CharField()
    encoding = serializers.CharField()
    characters = serializers.IntegerField()
    segments = serializers.IntegerField()


# What the service records as a notification goes along; never written by a client.
RECORDED_FIELDS = [
    "status",
    "created_by",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "approved_by",
    "approved_at",
]


class ChannelsField(serializers.ListField):
    """The channels a notice goes out on: email unless said, at least one, each once."""

    child = serializers.ChoiceField(
        choices=Channel.choices,
        error_messages={"invalid_choice": '"{input}" is not a channel; use email or sms.'},
    )
    default_error_messages = {"empty": "Choose at least one channel: email, sms."}

    def __init__(self, **kwargs):
        super().__init__(allow_empty=False, default=lambda: [Channel.EMAIL.value], **kwargs)

    def to_internal_value(self, data) -> list[str]:
        return list(dict.fromkeys(super().to_internal_value(data)))


class NotificationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(
        choices=Notification.Kind.choices,
        default=Notification.Kind.GENERAL,
        error_messages={
            "invalid_choice": '"{input}" is not a kind; use general, outage, maintenance or rca.'
        },
    )
    channels = ChannelsField()
    audience = AudienceSerializer(required=False)
    category = serializers.ChoiceField(
        choices=Notification.Category.choices,
        default=Notification.Category.SERVICE,
        help_text="service (outages, maintenance, RCA, tickets) or marketing (opted-in only).",
        error_messages={"invalid_choice": '"{input}" is not a category; use service or marketing.'},
    )
    fallback_channel = serializers.ChoiceField(
        choices=Channel.choices,
        allow_null=True,
        required=False,
        default=None,
        help_text="One message on this channel for a customer unreachable on the others.",
        error_messages={"invalid_choice": '"{input}" is not a channel; use email, sms or null.'},
    )
    totals = serializers.SerializerMethodField()
    sms_preview = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            *services.CONTENT_FIELDS,
            "incident",
            *services.TIMING_FIELDS,
            *RECORDED_FIELDS,
            "totals",
            "sms_preview",
        ]
        read_only_fields = ["id", "incident", *RECORDED_FIELDS]
        extra_kwargs = {
            "title": {"max_length": TITLE_MAX_CHARS},
            "body": {"max_length": settings.NOTIFICATION_BODY_MAX_CHARS},
            "body_html": {"max_length": settings.NOTIFICATION_BODY_HTML_MAX_CHARS},
        }

    def validate(self, attrs):
        instance = self.instance
        start_at = attrs.get("start_at", getattr(instance, "start_at", None))
        end_at = attrs.get("end_at", getattr(instance, "end_at", None))
        services.notification_times_check(
            start_at=start_at, end_at=end_at, end_changed="end_at" in attrs
        )
        incident = getattr(instance, "incident", None)
        services.notification_validate_templates(
            title=attrs.get("title", getattr(instance, "title", "")),
            body=attrs.get("body", getattr(instance, "body", "")),
            body_html=attrs.get("body_html", getattr(instance, "body_html", "")),
            sms_body=attrs.get("sms_body", getattr(instance, "sms_body", "")),
            end_at=end_at,
            incident=templating.incident_values(incident) if incident else None,
        )
        if "audience" in attrs:
            attrs["audience"] = {
                key: list(value) if isinstance(value, list | tuple) else value
                for key, value in attrs["audience"].items()
            }
        return attrs

    @extend_schema_field(TotalsSerializer)
    def get_totals(self, obj) -> dict:
        totals = self.context.get("totals")
        if totals is None or obj.pk not in totals:
            totals = selectors.notification_totals(notification_ids=[obj.pk])
        return totals[obj.pk]

    @extend_schema_field(SmsPreviewSerializer(allow_null=True))
    def get_sms_preview(self, obj) -> dict | None:
        if Channel.SMS not in (obj.channels or []):
            return None
        try:
            text = templating.notification_render(
                notification=obj, customer=templating.SAMPLE_CUSTOMER, channel=Channel.SMS
            ).text
        except templating.TemplateInvalid:
            return None
        size = sms_size(text)
        return {
            "text": text,
            "encoding": size.encoding,
            "characters": size.characters,
            "segments": size.segments,
        }


class NotificationFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Notification.Status.choices)
    kind = django_filters.MultipleChoiceFilter(choices=Notification.Kind.choices)
    category = django_filters.ChoiceFilter(choices=Notification.Category.choices)

    class Meta:
        model = Notification
        fields = ["status", "kind", "category", "created_by", "incident"]


class SendToCustomersSerializer(serializers.Serializer):
    notification = serializers.PrimaryKeyRelatedField(queryset=Notification.objects.all())
    customers = serializers.ListField(
        child=IdField(),
        allow_empty=False,
        max_length=100_000,
        error_messages={"empty": "List at least one customer id."},
    )


class TestSendSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(), required=False, allow_null=True
    )

    def validate_phone(self, value):
        if not value:
            return ""
        try:
            return clean_phone(value)[0]
        except FieldError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class SendResponseSerializer(serializers.Serializer):
    notification = serializers.IntegerField()
    queued = serializers.IntegerField()
    status = serializers.CharField()


class NoticeTotalsSerializer(serializers.Serializer):
    """A notification's title, kind and status with its message totals (also
    each notice of an incident's statistics)."""

    title = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())


class GeneralStatsSerializer(NoticeTotalsSerializer):
    id = serializers.IntegerField()


class DetailedStatsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_channel = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField())
    )
    first_sent_at = serializers.DateTimeField(allow_null=True)
    last_sent_at = serializers.DateTimeField(allow_null=True)


class NotificationViewSet(viewsets.ModelViewSet):
    api_errors = {
        "update": {409},
        "partial_update": {409},
        "destroy": {409},
    }
    serializer_class = NotificationSerializer
    permission_classes = [IsStaffMember]
    filterset_class = NotificationFilter
    search_fields = ["title", "body"]
    ordering_fields = ["created_at", "start_at", "status", "title"]

    def get_queryset(self):
        return selectors.notification_list()

    def _with_totals(self, notifications) -> dict:
        ids = [n.pk for n in notifications]
        return {
            **self.get_serializer_context(),
            "totals": selectors.notification_totals(notification_ids=ids),
        }

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        serializer = NotificationSerializer(page, many=True, context=self._with_totals(page))
        return self.get_paginated_response(serializer.data)

    def perform_create(self, serializer):
        serializer.instance = services.notification_create(
            created_by=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.notification_update(
            notification=serializer.instance, **serializer.validated_data
        )

    def update(self, request, *args, **kwargs):
        # A notification that is already out answers 409 whatever the payload.
        services.notification_require_editable(notification=self.get_object(), action="edited")
        return super().update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.notification_delete(notification=instance)

    @extend_schema(
        request=None,
        # 401, 403 and 404 are documented for every operation on one notification.
        responses={
            202: SendResponseSerializer,
            400: OpenApiResponse(description="The audience names no one"),
            409: DeliveryErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    @responds_with(409)
    def send(self, request, pk=None):
        """Send to the notification's own audience: at start_at if in the future, else now.
        A general or marketing send to everyone or to more than LARGE_SEND_THRESHOLD
        customers answers status awaiting_approval and waits for a second staff member."""
        result = services.notification_send(notification=self.get_object())
        return Response(
            {
                "notification": result.notification.pk,
                "queued": result.queued,
                "status": result.notification.status,
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        operation_id="notifications_send_to_customers",
        request=SendToCustomersSerializer,
        responses={
            202: inline_serializer(
                "SendToCustomersResponse",
                {"notification": serializers.IntegerField(), "queued": serializers.IntegerField()},
            )
        },
    )
    @action(detail=False, methods=["post"], url_path="send")
    @responds_with(409)
    def send_to_customers(self, request):
        """Send a notification to exactly the listed customers, now."""
        serializer = SendToCustomersSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.notification_send_to_customers(
            notification=serializer.validated_data["notification"],
            customer_ids=serializer.validated_data["customers"],
        )
        return Response(
            {"notification": result.notification.pk, "queued": result.queued},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=None,
        responses={
            202: SendResponseSerializer,
            401: DeliveryErrorSerializer,
            403: DeliveryErrorSerializer,
            404: DeliveryErrorSerializer,
            409: DeliveryErrorSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """A second staff member approves a held send; it then starts (or is scheduled)."""
        result = services.notification_approve(
            notification=self.get_object(), approver=request.user
        )
        return Response(
            {
                "notification": result.notification.pk,
                "queued": result.queued,
                "status": result.notification.status,
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    @responds_with(409)
    def cancel(self, request, pk=None):
        """Stop the notification; undelivered messages become cancelled."""
        notification = services.notification_cancel(notification=self.get_object())
        context = self._with_totals([notification])
        return Response(NotificationSerializer(notification, context=context).data)

    @extend_schema(
        request=TestSendSerializer,
        responses={
            200: inline_serializer("TestSendResponse", {"messages": MessageSerializer(many=True)})
        },
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send one rendered copy to the caller (or the given address), outside the statistics."""
        notification = self.get_object()
        serializer = TestSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        email = data.get("email") or request.user.email
        phone = data.get("phone", "")
        if not any(
            (channel == Channel.EMAIL and email) or (channel == Channel.SMS and phone)
            for channel in notification.channels
        ):
            raise serializers.ValidationError(
                {"phone": ["Give a phone number to test this SMS notification."]}
            )
        messages = services.notification_test_send(
            notification=notification, email=email, phone=phone, customer=data.get("customer")
        )
        return Response({"messages": MessageSerializer(messages, many=True).data})

    @extend_schema(responses={200: GeneralStatsSerializer(many=True)})
    @action(detail=False, methods=["get"], url_path="stats")
    def general_stats(self, request):
        """Every notification with its message counts by status."""
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        totals = selectors.notification_totals(notification_ids=[n.pk for n in page])
        rows = [
            {
                "id": n.pk,
                "title": n.title,
                "kind": n.kind,
                "status": n.status,
                **totals[n.pk],
            }
            for n in page
        ]
        return self.get_paginated_response(rows)

    @extend_schema(responses={200: DetailedStatsSerializer})
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        """Counts by status and by channel, first and last send time."""
        return Response(selectors.notification_stats(notification=self.get_object()))

    @extend_schema(
        responses={200: MessageSerializer(many=True)},
        parameters=[
            OpenApiParameter("status", str, description="Message status; several allowed"),
            OpenApiParameter("channel", str, enum=[c.value for c in Channel]),
            OpenApiParameter("customer", int, description="Customer id"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def messages(self, request, pk=None):
        """The notification's messages, one per customer and channel."""
        queryset = selectors.notification_messages(notification=self.get_object())
        filterset = MessageFilter(request.query_params, queryset=queryset, request=request)
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)
