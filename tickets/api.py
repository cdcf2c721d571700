"""The ticket API: thin views that check the role, validate with a
serializer and call one service."""

from datetime import UTC, timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts.permissions import (
    IsAdmin,
    IsCustomerReading,
    IsEngineer,
    IsStaffMember,
    signed_in,
)
from accounts.services import engineer_availability_set
from config.parsers import JSONParser
from config.schema import responds_with
from tickets import selectors, services
from tickets.filters import InteractionFilter, TicketFilter
from tickets.models import Attachment, Ticket
from tickets.pagination import TicketPagination
from tickets.serializers import (
    AssignSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CommentSerializer,
    EngineerSerializer,
    EngineerUpdateSerializer,
    InteractionSerializer,
    InteractionStatsSerializer,
    ResolveSerializer,
    StatusSerializer,
    TicketCreateSerializer,
    TicketEventSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from tickets.throttles import TicketCreateThrottle, ticket_create_throttled
from tickets.uploads import AttachmentUploadParser, attachment_response

# Changed only through their own actions, never by PATCH.
_ACTION_FIELDS = {
    "status": "Change the status with POST /api/tickets/{id}/status/.",
    "assignee": "Assign with POST /api/tickets/{id}/assign/ (administrators).",
    "resolution": "Resolve with POST /api/tickets/{id}/resolve/.",
}


def _action_field_errors(ticket: Ticket, data) -> dict:
    """PATCH may echo these back unchanged, but not change them."""
    current = {
        "status": ticket.status,
        "assignee": ticket.assignee_id,
        "resolution": ticket.resolution,
    }
    return {
        field: [hint]
        for field, hint in _ACTION_FIELDS.items()
        if field in data and str(data[field]) != str(current[field])
    }


class IsTicketUser(BasePermission):
    """Approved staff, or a customer."""

    message = "Your account may not use tickets."

    def has_permission(self, request, view):
        if not signed_in(request):
            return False
        user = request.user
        return user.is_staff_member or (user.is_customer and user.is_approved)


@extend_schema_view(
    list=extend_schema(summary="List tickets the caller may see"),
    create=extend_schema(
        request={
            "application/json": TicketCreateSerializer,
            "multipart/form-data": TicketCreateSerializer,
        },
        responses={201: TicketSerializer},
        summary="Raise a ticket; it is assigned automatically",
    ),
    partial_update=extend_schema(request=TicketUpdateSerializer, responses=TicketSerializer),
)
class TicketViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    api_errors = {"partial_update": {409}}
    serializer_class = TicketSerializer
    permission_classes = [IsTicketUser]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = TicketFilter
    ordering_fields = ["id", "created_at", "updated_at", "due_at", "status", "priority"]
    ordering = ["-id"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    pagination_class = TicketPagination
    # Multipart through the name-checking parser: a ticket may be raised with files.
    parser_classes = [JSONParser, AttachmentUploadParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Ticket.objects.none()
        return selectors.ticket_visible(user=self.request.user)

    def list(self, request, *args, **kwargs):
        tickets = self.filter_queryset(self.get_queryset())
        scope = request.query_params.get("scope", "")
        parts = selectors.ticket_list_partitions(user=request.user, scope=scope)
        if parts:
            # Engineers by default: theirs plus unassigned, counted part by part.
            partitions = [tickets.filter(part) for part in parts]
            tickets = tickets.filter(parts[0] | parts[1])
            tickets.count_partitions = partitions
        if request.query_params.get("search"):
            ordered = bool(request.query_params.get("ordering"))
            tickets = selectors.ticket_search_order(tickets, newest_first=not ordered)
        page = self.paginate_queryset(tickets)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.action == "create":
            throttles.append(TicketCreateThrottle())
        return throttles

    def throttled(self, request, wait):
        if self.action == "create":
            raise ticket_create_throttled(wait)
        super().throttled(request, wait)

    def create(self, request, *args, **kwargs):
        serializer = TicketCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        customer = data.pop("customer", None)
        data["uploads"] = data.pop("attachments", [])
        ticket = services.ticket_create(actor=request.user, customer=customer, **data)
        return Response(self._out(ticket), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        ticket = self.get_object()
        errors = _action_field_errors(ticket, request.data)
        if errors and request.user.is_customer:
            raise PermissionDenied(
                f"Customers may change only the title and description, not {', '.join(errors)}; "
                "a ticket is cancelled with POST /api/tickets/{id}/status/."
            )
        if errors:
            raise ValidationError(errors)
        serializer = TicketUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_update(
            ticket=ticket, actor=request.user, data=serializer.validated_data
        )
        return Response(self._out(ticket))

    def _out(self, ticket: Ticket) -> dict:
        return TicketSerializer(ticket, context=self.get_serializer_context()).data

    @extend_schema(request=None, responses=TicketSerializer, summary="Start work (engineers)")
    @action(detail=True, methods=["post"], permission_classes=[IsEngineer])
    @responds_with(409)
    def accept(self, request, pk=None):
        ticket = services.ticket_accept(ticket=self.get_object(), actor=request.user)
        return Response(self._out(ticket))

    @extend_schema(request=AssignSerializer, responses=TicketSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAdmin])
    @responds_with(409)
    def assign(self, request, pk=None):
        ticket = self.get_object()
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_assign(
            ticket=ticket, actor=request.user, assignee=serializer.validated_data["assignee"]
        )
        return Response(self._out(ticket))

    @extend_schema(
        request=StatusSerializer,
        responses=TicketSerializer,
        summary="Change status (staff; customers may cancel their ticket before work starts)",
    )
    @action(detail=True, methods=["post"], url_path="status")
    @responds_with(409)
    def change_status(self, request, pk=None):
        ticket = self.get_object()
        serializer = StatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_status_change(
            ticket=ticket, actor=request.user, **serializer.validated_data
        )
        return Response(self._out(ticket))

    @extend_schema(request=ResolveSerializer, responses=TicketSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsStaffMember])
    @responds_with(409)
    def resolve(self, request, pk=None):
        ticket = self.get_object()
        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_resolve(
            ticket=ticket, actor=request.user, resolution=serializer.validated_data["resolution"]
        )
        return Response(self._out(ticket))

    def _paginated(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(methods=["GET"], responses=CommentSerializer(many=True), filters=False)
    @extend_schema(methods=["POST"], request=CommentSerializer, responses={201: CommentSerializer})
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    @responds_with(409)
    def comments(self, request, pk=None):
        ticket = self.get_object()
        if request.method == "GET":
            comments = selectors.ticket_comments(ticket=ticket, user=request.user)
            return self._paginated(comments, CommentSerializer)
        serializer = CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = services.comment_create(
            ticket=ticket,
            author=request.user,
            body=serializer.validated_data["body"],
            internal=serializer.validated_data.get("internal", False),
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=AttachmentSerializer(many=True), filters=False)
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filter_backends=[],
        parser_classes=[AttachmentUploadParser, JSONParser],
    )
    @responds_with(409)
    def attachments(self, request, pk=None):
        ticket = self.get_object()
        if request.method == "GET":
            return self._paginated(
                selectors.ticket_attachments(ticket=ticket), AttachmentSerializer
            )
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = services.attachment_create(
            ticket=ticket, uploaded_by=request.user, upload=serializer.validated_data["file"]
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        url_path=r"attachments/(?P<attachment_id>[0-9]+)/download",
        url_name="attachment-download",
    )
    def download(self, request, pk=None, attachment_id=None):
        ticket = self.get_object()
        attachment = get_object_or_404(Attachment, pk=attachment_id, ticket=ticket)
        return attachment_response(attachment=attachment)

    @extend_schema(responses=TicketEventSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request, pk=None):
        ticket = self.get_object()
        events = selectors.ticket_events(ticket=ticket, user=request.user)
        return self._paginated(events, TicketEventSerializer)


def _since(request, *, default_days: int):
    raw = request.query_params.get("since")
    if not raw:
        return timezone.now() - timedelta(days=default_days)
    value = parse_datetime(raw)
    if value is None and parse_date(raw) is not None:
        value = parse_datetime(f"{raw}T00:00:00+00:00")
    if value is None:
        raise ValidationError({"since": ["Give a date (2026-11-01) or an ISO 8601 time."]})
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


_SINCE = OpenApiParameter(
    "since", OpenApiTypes.DATETIME, description="Start of the period (default: 30 days ago)"
)


class InteractionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Staff record and read every interaction; a customer reads their own."""

    serializer_class = InteractionSerializer
    permission_classes = [IsStaffMember | IsCustomerReading]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = InteractionFilter
    ordering_fields = ["created_at", "duration_seconds"]

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return super().get_permissions()
        return [IsStaffMember()]

    def get_queryset(self):
        return selectors.interaction_visible(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.interaction_create(
            actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("days", OpenApiTypes.INT, description="How far back (default 7 days)")
        ],
        responses=InteractionSerializer(many=True),
        filters=True,
    )
    @action(detail=False, methods=["get"])
    def recent(self, request):
        try:
            days = max(1, min(int(request.query_params.get("days", 7)), 366))
        except ValueError as exc:
            raise ValidationError({"days": ["Give a whole number of days."]}) from exc
        since = timezone.now() - timedelta(days=days)
        recent = self.filter_queryset(self.get_queryset()).filter(created_at__gte=since)
        page = self.paginate_queryset(recent)
        return self.get_paginated_response(InteractionSerializer(page, many=True).data)

    @extend_schema(parameters=[_SINCE], responses=InteractionStatsSerializer, filters=False)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request):
        stats = selectors.interaction_stats(since=_since(request, default_days=30))
        return Response(InteractionStatsSerializer(stats).data)


class EngineerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Approved engineers with their load of open tickets. Administrators set
    anyone's availability and limit; engineers set their own availability."""

    serializer_class = EngineerSerializer
    permission_classes = [IsStaffMember]
    filter_backends = []
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.engineer_list()

    @extend_schema(request=EngineerUpdateSerializer, responses=EngineerSerializer)
    def partial_update(self, request, *args, **kwargs):
        engineer = self.get_object()
        serializer = EngineerUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        engineer_availability_set(
            actor=request.user,
            engineer=engineer,
            available=data.get("is_available"),
            limit=data.get("max_open_tickets"),
        )
        return Response(EngineerSerializer(self.get_queryset().get(pk=engineer.pk)).data)

    @extend_schema(responses=EngineerSerializer(many=True))
    @action(detail=False, methods=["get"])
    def available(self, request):
        page = self.paginate_queryset(selectors.engineer_available_list())
        return self.get_paginated_response(EngineerSerializer(page, many=True).data)
