"""Delivery API: message records and the outbox of the embedded default."""

import hmac

import django_filters
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsStaffMember
from config.exceptions import Conflict
from config.filters import FilterSet
from customers.validation import FieldError, clean_phone
from delivery import selectors, suppression, webhooks
from delivery.models import (
    Channel,
    Message,
    MessageStatus,
    OutboxMessage,
    Suppression,
    SuppressionReason,
)
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
            "delivered_at",
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
    headers = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="Every header, by name."
    )

    class Meta:
        model = OutboxMessage
        fields = [
            "id",
            "channel",
            "to",
            "subject",
            "body",
            "html",
            "headers",
            "created_at",
            "message",
        ]
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


# --- suppression list, inbound SMS, SMS receipts -----------------------------


class DeliveryErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


ERRORS = {
    401: DeliveryErrorSerializer,
    403: DeliveryErrorSerializer,
}


class SuppressionSerializer(serializers.ModelSerializer):
    reason = serializers.ChoiceField(
        choices=SuppressionReason.choices,
        default=SuppressionReason.MANUAL,
        error_messages={
            "invalid_choice": '"{input}" is not a reason; use hard_bounce, complaint, '
            "unsubscribed, sms_stop or manual."
        },
    )
    detail = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    class Meta:
        model = Suppression
        fields = ["id", "channel", "address", "reason", "detail", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []  # the unique pair answers 409 in create(), not 400

    def validate(self, attrs):
        channel, address = attrs["channel"], attrs["address"]
        if channel == Channel.EMAIL:
            try:
                validate_email(address.strip())
            except DjangoValidationError:
                raise serializers.ValidationError(
                    {"address": ["Give a valid email address, e.g. ann@example.com."]}
                ) from None
        else:
            try:
                phone, _ = clean_phone(address)
            except FieldError as exc:
                raise serializers.ValidationError({"address": [str(exc)]}) from None
            if not phone:
                raise serializers.ValidationError({"address": ["Give a phone number."]})
            attrs["address"] = phone
        return attrs

    def create(self, validated_data):
        entry, created = suppression.suppression_add(**validated_data)
        if not created:
            raise Conflict(
                f"{entry.address} is already on the {entry.channel} suppression list "
                f"(reason: {entry.reason}).",
                code="already_suppressed",
            )
        return entry


class SuppressionFilter(django_filters.FilterSet):
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    reason = django_filters.MultipleChoiceFilter(choices=SuppressionReason.choices)
    address = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Suppression
        fields = ["channel", "reason", "address"]


class IsStaffDeleteAdmin(IsStaffMember):
    message = "Only administrators may remove an address from the suppression list."

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            self.message = IsStaffMember.message
            return False
        return request.method != "DELETE" or request.user.is_admin


@extend_schema_view(
    list=extend_schema(responses={200: SuppressionSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(
        responses={200: SuppressionSerializer, 404: DeliveryErrorSerializer, **ERRORS}
    ),
    create=extend_schema(
        responses={
            201: SuppressionSerializer,
            400: OpenApiResponse(description="Invalid channel, address or reason"),
            409: DeliveryErrorSerializer,
            **ERRORS,
        }
    ),
    destroy=extend_schema(responses={204: None, 404: DeliveryErrorSerializer, **ERRORS}),
)
class SuppressionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Addresses nothing more is sent to. Staff read and add; admins remove."""

    serializer_class = SuppressionSerializer
    permission_classes = [IsStaffDeleteAdmin]
    filterset_class = SuppressionFilter
    search_fields = ["address", "detail"]
    ordering_fields = ["created_at", "address"]

    def get_queryset(self):
        return selectors.suppression_list()

    def perform_destroy(self, instance):
        suppression.suppression_delete(suppression=instance)


class GatewayTokenAuthentication(BaseAuthentication):
    """The SMS gateway's calls: `Authorization: Bearer SMS_INBOUND_TOKEN`."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        token = settings.SMS_INBOUND_TOKEN
        if not header.startswith("Bearer "):
            return None
        if not token or not hmac.compare_digest(header[7:].encode(), token.encode()):
            raise exceptions.AuthenticationFailed("The gateway token is wrong.")
        return (AnonymousUser(), "sms-gateway")

    def authenticate_header(self, request):
        return 'Bearer realm="sms-gateway"'


class GatewayTokenScheme(OpenApiAuthenticationExtension):
    target_class = "delivery.api.GatewayTokenAuthentication"
    name = "smsGatewayBearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "SMS_INBOUND_TOKEN, shared with the SMS gateway.",
        }


class IsSmsGateway(BasePermission):
    message = "Only the SMS gateway may call this, with its bearer token."

    def has_permission(self, request, view):
        return request.auth == "sms-gateway"


class InboundSmsSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
    text = serializers.CharField(allow_blank=True, max_length=2000)

    def validate_phone(self, value):
        try:
            phone, _ = clean_phone(value)
        except FieldError as exc:
            raise serializers.ValidationError(str(exc)) from None
        if not phone:
            raise serializers.ValidationError("Give the sender's phone number.")
        return phone


class InboundSmsResultSerializer(serializers.Serializer):
    phone = serializers.CharField()
    action = serializers.ChoiceField(choices=["suppressed", "lifted", "ignored"])


class SmsReceiptSerializer(serializers.Serializer):
    id = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="The gateway's message id."
    )
    message_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="Our id, as sent to the gateway in `id`."
    )
    status = serializers.ChoiceField(choices=["delivered", "undelivered", "failed"])
    delivered_at = serializers.DateTimeField(required=False, allow_null=True)
    error = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    def validate(self, attrs):
        if not attrs.get("id") and attrs.get("message_id") is None:
            raise serializers.ValidationError(
                {"id": ["Give the gateway's message id (id) or ours (message_id)."]}
            )
        return attrs


class _GatewayView(APIView):
    authentication_classes = [GatewayTokenAuthentication]
    permission_classes = [IsSmsGateway]


class InboundSmsView(_GatewayView):
    @extend_schema(
        request=InboundSmsSerializer,
        responses={
            200: InboundSmsResultSerializer,
            400: OpenApiResponse(description="bad phone"),
            **ERRORS,
        },
    )
    def post(self, request):
        """An SMS a customer sent: STOP (and synonyms) suppresses the phone, START lifts it."""
        serializer = InboundSmsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        phone = serializer.validated_data["phone"]
        action = webhooks.sms_inbound_handle(phone=phone, text=serializer.validated_data["text"])
        return Response({"phone": phone, "action": action})


class SmsReceiptView(_GatewayView):
    @extend_schema(
        request=SmsReceiptSerializer,
        responses={
            200: MessageSerializer,
            400: OpenApiResponse(description="no id given"),
            404: DeliveryErrorSerializer,
            **ERRORS,
        },
    )
    def post(self, request):
        """A delivery receipt: delivered sets the message's delivered_at."""
        serializer = SmsReceiptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = webhooks.sms_receipt_record(
            gateway_id=data.get("id", ""),
            message_id=data.get("message_id"),
            delivered=data["status"] == "delivered",
            at=data.get("delivered_at"),
            error=data.get("error", ""),
        )
        if message is None:
            raise exceptions.NotFound("No SMS with that id was sent.")
        return Response(MessageSerializer(message).data)
