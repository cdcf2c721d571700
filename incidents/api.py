"""Incidents API: thin views over incidents.services and selectors. Staff
see and change everything; a customer lists and reads only the incidents
whose audience includes them, with public fields only."""

import hmac

import django_filters
from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import signed_in
from customers.api import AudienceSerializer
from customers.models import Customer, ServiceType, Site
from customers.selectors import site_subtree_q
from incidents import selectors, services
from incidents.models import Incident, IncidentCustomer, IncidentUpdate
from notifications import templating
from notifications.api import ChannelsField, NoticeTotalsSerializer


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """`{field: ["what to fix", ...]}` for each field in error."""

    field = serializers.ListField(child=serializers.CharField(), required=False)


E400 = OpenApiResponse(ValidationErrorSerializer, description="Invalid input; each field says why")
E401 = OpenApiResponse(ErrorSerializer, description="Not signed in")
E403 = OpenApiResponse(ErrorSerializer, description="Not allowed for this role")
E404 = OpenApiResponse(ErrorSerializer, description="No such incident (or not yours to see)")
E409 = OpenApiResponse(ErrorSerializer, description="The incident's state does not allow this")
STAFF_ERRORS = {401: E401, 403: E403, 404: E404}


class IsStaffOrCustomerReader(BasePermission):
    """Staff: everything. Customers: list and retrieve (their own incidents)."""

    message = "Only engineers and administrators may do this."

    def has_permission(self, request, view):
        if not signed_in(request):
            return False
        user = request.user
        if user.is_staff_member:
            return True
        return user.is_customer and user.is_approved and view.action in ("list", "retrieve")


# --- serializers --------------------------------------------------------------------------------


class ScopeSerializer(AudienceSerializer):
    """The affected customers, picked like a notification audience."""

    customer_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
        max_length=100_000,
    )

    def validate(self, attrs):
        # Not the audience's own check: an incident's empty scope gets the
        # incidents' sentence (services), and "every customer" is no scope.
        if attrs.pop("all", False):
            raise serializers.ValidationError(
                {
                    "all": [
                        "An incident's scope names who is affected (sites, service types, "
                        "locations, tags, operator codes or customers); it cannot be everyone."
                    ]
                }
            )
        errors = {}
        sites = attrs.get("last_mile_site") or []
        if sites:
            known = set(Site.objects.filter(code__in=sites).values_list("code", flat=True))
            missing = [code for code in sites if code not in known]
            if missing:
                errors["last_mile_site"] = [f"Unknown site code: {', '.join(missing)}."]
        services_ = attrs.get("service_type") or []
        if services_:
            known = set(
                ServiceType.objects.filter(code__in=services_).values_list("code", flat=True)
            )
            missing = [code for code in services_ if code not in known]
            if missing:
                errors["service_type"] = [f"Unknown service type code: {', '.join(missing)}."]
        if errors:
            raise serializers.ValidationError(errors)
        return {key: list(value) for key, value in attrs.items()}


class UpdateSerializer(serializers.ModelSerializer):
    sms_segments = serializers.SerializerMethodField()
    suggested = serializers.SerializerMethodField()

    class Meta:
        model = IncidentUpdate
        fields = [
            "id",
            "kind",
            "status",
            "body",
            "sms_body",
            "sms_segments",
            "eta",
            "suggested",
            "created_at",
            "created_by",
            "notification",
        ]

    def get_sms_segments(self, obj) -> int | None:
        if not obj.sms_body:
            return None
        try:
            return services.sms_segments(incident=obj.incident, sms_body=obj.sms_body)
        except templating.TemplateInvalid:
            return None

    def get_suggested(self, obj) -> bool:
        return obj.kind == IncidentUpdate.Kind.SUGGESTION


class RcaSerializer(serializers.Serializer):
    title = serializers.CharField()
    body = serializers.CharField()
    published_at = serializers.DateTimeField()
    notification = serializers.IntegerField(allow_null=True)


# What names an incident and when it happens; staff read these and more, a
# customer of the incident these only (and its public updates).
NAMING_FIELDS = ["id", "number", "kind", "title", "impact", "status"]
TIMING_FIELDS = ["eta", "started_at", "resolved_at", "scheduled_start", "scheduled_end"]
PUBLIC_FIELDS = [*NAMING_FIELDS, *TIMING_FIELDS, "updates"]


class IncidentSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    scope = ScopeSerializer()
    channels = ChannelsField()
    affected_count = serializers.SerializerMethodField()
    notified_count = serializers.SerializerMethodField()
    linked_tickets_count = serializers.SerializerMethodField()
    updates = serializers.SerializerMethodField()
    rca = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            *NAMING_FIELDS,
            "scope",
            "channels",
            "respect_contact_window",
            "public",
            *TIMING_FIELDS,
            "reminder_minutes_before",
            "reminder_body",
            "start_body",
            "end_body",
            "affected_count",
            "notified_count",
            "linked_tickets_count",
            "deflected_count",
            "updates",
            "rca",
            "alerts",
            "created_by",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            # A reminder at most a year ahead (further would be no reminder at all).
            "reminder_minutes_before": {"max_value": 525_600},
        }
        read_only_fields = [
            "id",
            "number",
            "status",
            "resolved_at",
            "deflected_count",
            "alerts",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def _counts(self, obj) -> dict:
        counts = self.context.get("counts") or {}
        if obj.pk not in counts:
            counts = selectors.incident_counts(incident_ids=[obj.pk])
        return counts[obj.pk]

    def get_affected_count(self, obj) -> int:
        return self._counts(obj)["affected"]

    def get_notified_count(self, obj) -> int:
        return self._counts(obj)["notified"]

    def get_linked_tickets_count(self, obj) -> int:
        return self._counts(obj)["linked_tickets"]

    @extend_schema_field(UpdateSerializer(many=True))
    def get_updates(self, obj) -> list[dict]:
        return UpdateSerializer(obj.updates.all(), many=True).data

    @extend_schema_field(RcaSerializer(allow_null=True))
    def get_rca(self, obj) -> dict | None:
        if obj.rca_published_at is None:
            return None
        return {
            "title": obj.rca_title,
            "body": obj.rca_body,
            "published_at": obj.rca_published_at,
            "notification": obj.rca_notification_id,
        }

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        if self.instance is None and kind is None:
            raise serializers.ValidationError(
                {"kind": ["Say whether this is an outage or a maintenance."]}
            )
        return attrs


class IncidentCreateSerializer(IncidentSerializer):
    body = serializers.CharField(
        help_text="The first notice (outage) or the announcement (maintenance): a template."
    )
    sms_body = serializers.CharField(required=False, allow_blank=True, default="")
    notify = serializers.BooleanField(default=True)
    status = serializers.ChoiceField(
        choices=[
            Incident.Status.DRAFT,
            Incident.Status.INVESTIGATING,
            Incident.Status.IDENTIFIED,
            Incident.Status.MONITORING,
        ],
        required=False,
        help_text="An outage's first status (default investigating); a draft sends nothing.",
    )

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "body", "sms_body", "notify"]
        read_only_fields = [f for f in IncidentSerializer.Meta.read_only_fields if f != "status"]


class IncidentPatchSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    impact = serializers.ChoiceField(choices=Incident.Impact.choices, required=False)
    eta = serializers.DateTimeField(required=False, allow_null=True)
    public = serializers.BooleanField(required=False)
    scope = ScopeSerializer(required=False)
    scheduled_start = serializers.DateTimeField(required=False)
    scheduled_end = serializers.DateTimeField(required=False)
    reminder_body = serializers.CharField(required=False)
    start_body = serializers.CharField(required=False)
    end_body = serializers.CharField(required=False)


class PublicUpdateSerializer(serializers.Serializer):
    status = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class PublicIncidentSerializer(serializers.ModelSerializer):
    """What a customer of the incident may read."""

    number = serializers.CharField(read_only=True)
    updates = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = PUBLIC_FIELDS

    @extend_schema_field(PublicUpdateSerializer(many=True))
    def get_updates(self, obj) -> list[dict]:
        customer = self.context.get("customer_values") or templating.SAMPLE_CUSTOMER
        incident = templating.incident_values(obj)
        return [
            {
                "status": update.status,
                "body": templating.text_render(
                    source=update.body, customer=customer, incident=incident
                ),
                "created_at": update.created_at,
            }
            for update in obj.updates.all()
            if update.kind != IncidentUpdate.Kind.SUGGESTION
        ]


def INCIDENT_FOR_ROLE(**kwargs):  # noqa: N802 - reads like the serializers it stands for
    """Staff get the whole incident, customers its public fields."""
    return PolymorphicProxySerializer(
        component_name="IncidentForRole",
        serializers=[IncidentSerializer, PublicIncidentSerializer],
        resource_type_field_name=None,
        **kwargs,
    )


class PostUpdateSerializer(serializers.Serializer):
    body = serializers.CharField()
    sms_body = serializers.CharField(required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(choices=Incident.Status.choices, required=False)
    eta = serializers.DateTimeField(required=False, allow_null=True)
    notify = serializers.BooleanField(default=True)


class IncidentResolveSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="")
    sms_body = serializers.CharField(required=False, allow_blank=True, default="")
    notify = serializers.BooleanField(default=True)


class IncidentCancelSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="")
    sms_body = serializers.CharField(required=False, allow_blank=True, default="")


class RcaRequestSerializer(serializers.Serializer):
    body = serializers.CharField()
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    sms_body = serializers.CharField(required=False, allow_blank=True, default="")


class AudienceCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    account_number = serializers.CharField()
    name = serializers.CharField()
    timezone = serializers.CharField()
    last_mile_site = serializers.CharField(allow_null=True)


class LatestNoticeSerializer(serializers.Serializer):
    notification = serializers.IntegerField()
    kind = serializers.CharField()
    statuses = serializers.DictField(child=serializers.CharField())
    sent_at = serializers.DateTimeField(allow_null=True)


class AudienceRowSerializer(serializers.Serializer):
    customer = AudienceCustomerSerializer()
    added_at = serializers.DateTimeField()
    latest_notice = LatestNoticeSerializer(allow_null=True)


class LinkedTicketSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    customer = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class NoticeStatsSerializer(NoticeTotalsSerializer):
    notification = serializers.IntegerField()


class IncidentStatsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    affected = serializers.IntegerField()
    notified = serializers.IntegerField()
    notices = NoticeStatsSerializer(many=True)
    seconds_to_90_percent_notified = serializers.FloatField(allow_null=True)
    deflected = serializers.IntegerField()
    linked_tickets = serializers.IntegerField()


# --- filters ------------------------------------------------------------------------------------


class IncidentFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Incident.Kind.choices)
    status = django_filters.MultipleChoiceFilter(choices=Incident.Status.choices)
    active = django_filters.BooleanFilter(method="filter_active")
    site = django_filters.CharFilter(method="filter_site")
    search = django_filters.CharFilter(method="filter_search")

    class Meta:
        model = Incident
        fields = ["kind", "status"]

    def filter_active(self, queryset, name, value):
        finished = Q(status__in=Incident.FINISHED_STATUSES)
        return queryset.exclude(finished) if value else queryset.filter(finished)

    def filter_site(self, queryset, name, value):
        codes = [code.strip() for code in value.split(",") if code.strip()]
        in_subtree = IncidentCustomer.objects.filter(
            site_subtree_q(codes, prefix="customer__last_mile_site__"), incident=OuterRef("pk")
        )
        return queryset.filter(Exists(in_subtree))

    def filter_search(self, queryset, name, value):
        value = value.strip()
        match = Q(title__icontains=value)
        digits = value.upper().removeprefix("INC-")
        if digits.isdigit():
            match |= Q(pk=int(digits))
        return queryset.filter(match)


# --- views --------------------------------------------------------------------------------------


def _incident_action(summary: str, request_serializer):
    """A POST action on one incident that answers with the incident: its
    schema (400 only when it takes a body) and its route."""
    errors = {400: E400} if request_serializer is not None else {}
    responses = {200: IncidentSerializer, **errors, 409: E409, **STAFF_ERRORS}

    def decorate(view):
        routed = action(detail=True, methods=["post"])(view)
        return extend_schema(summary=summary, request=request_serializer, responses=responses)(
            routed
        )

    return decorate


def _own_customer(user) -> Customer | None:
    return (
        Customer.objects.filter(user=user).select_related("last_mile_site", "service_type").first()
    )


class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [IsStaffOrCustomerReader]
    filterset_class = IncidentFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Incident.objects.none()
        incidents = selectors.incident_list()
        user = self.request.user
        if user.is_staff_member:
            return incidents
        customer = _own_customer(user)
        if customer is None:
            return incidents.none()
        return selectors.incident_visible_to_customer(queryset=incidents, customer=customer)

    def get_serializer_class(self):
        if self.action == "create":
            return IncidentCreateSerializer
        if not self.request.user.is_staff_member:
            return PublicIncidentSerializer
        return IncidentSerializer

    def _context(self, incidents) -> dict:
        context = self.get_serializer_context()
        if self.request.user.is_staff_member:
            context["counts"] = selectors.incident_counts(incident_ids=[i.pk for i in incidents])
        else:
            customer = _own_customer(self.request.user)
            context["customer_values"] = templating.customer_values(customer) if customer else None
        return context

    def _represent(self, incident: Incident, *, status_code=status.HTTP_200_OK) -> Response:
        incident = selectors.incident_list().get(pk=incident.pk)
        serializer = IncidentSerializer(incident, context=self._context([incident]))
        return Response(serializer.data, status=status_code)

    def _act(self, request, serializer_class, action) -> Response:
        """Validate the body, run the service on this incident, answer with
        the incident as it is now."""
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = self.get_object()
        action(incident=incident, created_by=request.user, **serializer.validated_data)
        return self._represent(incident)

    @extend_schema(
        summary="List incidents (customers: only theirs, public fields)",
        responses={200: INCIDENT_FOR_ROLE(many=True), 400: E400, 401: E401, 403: E403},
    )
    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        serializer = self.get_serializer_class()(page, many=True, context=self._context(page))
        return self.get_paginated_response(serializer.data)

    @extend_schema(
        summary="One incident (customers: only theirs, public fields)",
        responses={200: INCIDENT_FOR_ROLE(), 401: E401, 403: E403, 404: E404},
    )
    def retrieve(self, request, *args, **kwargs):
        incident = self.get_object()
        serializer = self.get_serializer_class()(incident, context=self._context([incident]))
        return Response(serializer.data)

    @extend_schema(
        summary="Declare an outage or announce a maintenance",
        request=IncidentCreateSerializer,
        responses={201: IncidentSerializer, 400: E400, 401: E401, 403: E403},
    )
    def create(self, request, *args, **kwargs):
        serializer = IncidentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        incident = services.incident_declare(created_by=request.user, **data)
        return self._represent(incident, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change title, impact, ETA, scope (widen) or the maintenance window",
        request=IncidentPatchSerializer,
        responses={200: IncidentSerializer, 400: E400, 409: E409, **STAFF_ERRORS},
    )
    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        serializer = IncidentPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = services.incident_change(
            incident=incident, data=dict(serializer.validated_data), changed_by=request.user
        )
        return self._represent(incident)

    @extend_schema(
        summary="Delete a draft that told nobody (a false alarm)",
        responses={204: None, 409: E409, **STAFF_ERRORS},
    )
    def destroy(self, request, *args, **kwargs):
        services.incident_delete(incident=self.get_object(), deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Post an update (status, text, ETA) and tell the audience",
        request=PostUpdateSerializer,
        responses={201: UpdateSerializer, 400: E400, 409: E409, **STAFF_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def updates(self, request, pk=None):
        incident = self.get_object()
        serializer = PostUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        update = services.incident_update_post(
            incident=incident,
            created_by=request.user,
            eta_given="eta" in data,
            **data,
        )
        return Response(UpdateSerializer(update).data, status=status.HTTP_201_CREATED)

    @_incident_action(
        "Resolve an outage (a resolution notice; linked open tickets resolved)",
        IncidentResolveSerializer,
    )
    def resolve(self, request, pk=None):
        return self._act(request, IncidentResolveSerializer, services.incident_resolve)

    @_incident_action("End a maintenance now, with its end notice", None)
    def complete(self, request, pk=None):
        incident = services.incident_complete(incident=self.get_object(), created_by=request.user)
        return self._represent(incident)

    @_incident_action(
        "Cancel a maintenance (a cancellation notice to those already told)",
        IncidentCancelSerializer,
    )
    def cancel(self, request, pk=None):
        return self._act(request, IncidentCancelSerializer, services.incident_cancel)

    @_incident_action(
        "Publish the root-cause report to exactly the customers who were told",
        RcaRequestSerializer,
    )
    def rca(self, request, pk=None):
        return self._act(request, RcaRequestSerializer, services.incident_rca_publish)

    @extend_schema(
        summary="The frozen audience, with each customer's latest notice",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: AudienceRowSerializer(many=True), **STAFF_ERRORS},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def audience(self, request, pk=None):
        incident = self.get_object()
        page = self.paginate_queryset(selectors.incident_audience_links(incident=incident))
        rows = selectors.incident_audience_rows(incident=incident, links=page)
        return self.get_paginated_response(AudienceRowSerializer(rows, many=True).data)

    @extend_schema(
        summary="Tickets linked to the incident",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: LinkedTicketSerializer(many=True), **STAFF_ERRORS},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def tickets(self, request, pk=None):
        incident = self.get_object()
        page = self.paginate_queryset(incident.tickets.order_by("-id"))
        rows = [
            {
                "id": t.pk,
                "number": t.number,
                "title": t.title,
                "status": t.status,
                "customer": t.customer_id,
                "created_at": t.created_at,
            }
            for t in page
        ]
        return self.get_paginated_response(LinkedTicketSerializer(rows, many=True).data)

    @extend_schema(
        summary="Affected, notified, each notice by status, time to 90% notified",
        responses={200: IncidentStatsSerializer, **STAFF_ERRORS},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def stats(self, request, pk=None):
        return Response(selectors.incident_stats(incident=self.get_object()))


# --- alarms from monitoring ---------------------------------------------------------------------

MAX_ALERTS = 1000


class AlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["firing", "resolved"], default="firing")
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), default=dict)
    annotations = serializers.DictField(child=serializers.CharField(allow_blank=True), default=dict)
    startsAt = serializers.CharField(required=False, allow_blank=True)  # noqa: N815 - Alertmanager's name
    endsAt = serializers.CharField(required=False, allow_blank=True)  # noqa: N815
    fingerprint = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AlertmanagerSerializer(serializers.Serializer):
    """Prometheus Alertmanager's webhook payload, version 4 (fields this
    endpoint reads; others are accepted and ignored)."""

    version = serializers.CharField(required=False)
    groupKey = serializers.CharField(max_length=500)  # noqa: N815
    status = serializers.CharField(required=False)
    commonLabels = serializers.DictField(  # noqa: N815
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    commonAnnotations = serializers.DictField(  # noqa: N815
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    alerts = AlertSerializer(many=True, allow_empty=True)

    def validate_alerts(self, value):
        if len(value) > MAX_ALERTS:
            raise serializers.ValidationError(f"Send at most {MAX_ALERTS} alerts per request.")
        return value

    def validate_version(self, value):
        if value and value != "4":
            raise serializers.ValidationError("Only Alertmanager webhook version 4 is understood.")
        return value


class AlertResultSerializer(serializers.Serializer):
    incident = serializers.IntegerField(allow_null=True)
    created = serializers.BooleanField()
    sites_added = serializers.ListField(child=serializers.CharField())
    unknown_sites = serializers.ListField(child=serializers.CharField())


class AlertmanagerWebhookView(APIView):
    """Alarms from Prometheus Alertmanager (bearer ALERT_WEBHOOK_TOKEN)."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        summary="Alertmanager webhook: firing alerts open or extend a draft outage",
        request=AlertmanagerSerializer,
        responses={
            202: AlertResultSerializer,
            400: E400,
            401: OpenApiResponse(ErrorSerializer, description="Missing or wrong bearer token"),
            403: OpenApiResponse(ErrorSerializer, description="ALERT_WEBHOOK_TOKEN is not set"),
        },
        auth=[],
    )
    def post(self, request):
        expected = settings.ALERT_WEBHOOK_TOKEN
        if not expected:
            return Response(
                {
                    "detail": "The alert webhook is off; set ALERT_WEBHOOK_TOKEN to turn it on.",
                    "code": "not_configured",
                },
                status=status.HTTP_403_FORBIDDEN,
            )
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return Response(
                {
                    "detail": "Send the alert webhook token as 'Authorization: Bearer <token>'.",
                    "code": "not_authenticated",
                },
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": 'Bearer realm="alerts"'},
            )
        serializer = AlertmanagerSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.incident_alerts_receive(payload=serializer.validated_data)
        return Response(result, status=status.HTTP_202_ACCEPTED)
