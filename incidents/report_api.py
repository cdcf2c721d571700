"""GET /api/reports/outage-minutes/: outage and maintenance minutes per
customer for a period (staff). JSON in pages, or `?format=csv` streamed."""

import csv
from datetime import UTC, date, datetime, time, timedelta

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from accounts.permissions import IsStaffMember
from config.api_errors import ApiErrorSerializer
from config.pagination import StandardPagination
from customers.filters import CustomerFilter
from customers.models import Customer
from incidents.outage_minutes import outage_minutes_for_customers, outage_minutes_rows

CSV_HEADER = [
    "customer",
    "account_number",
    "name",
    "outage_minutes",
    "maintenance_minutes",
    "incidents",
]


class OutageMinutesRowSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    account_number = serializers.CharField()
    name = serializers.CharField()
    outage_minutes = serializers.IntegerField()
    maintenance_minutes = serializers.IntegerField()
    incidents = serializers.ListField(child=serializers.IntegerField())


class OutageMinutesPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OutageMinutesRowSerializer(many=True)


def _moment(params, name: str, *, end: bool) -> datetime | None:
    """A date (a whole day: `to` includes it) or an ISO 8601 time; None when absent."""
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        # A bare date first: parse_datetime would take it for its midnight.
        day = parse_date(raw)
        moment = None if day else parse_datetime(raw)
    except ValueError:
        moment = day = None
    if day is not None:
        try:
            day = day + timedelta(days=1) if end else day
        except OverflowError:
            day = date.max
        moment = datetime.combine(day, time.min, tzinfo=UTC)
    if moment is None:
        raise ValidationError({name: ["Give a date (2026-11-01) or an ISO 8601 time."]})
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def report_period(params) -> tuple[datetime, datetime]:
    now = timezone.now()
    since = _moment(params, "from", end=False)
    until = _moment(params, "to", end=True)
    until = until or now
    try:
        since = since or until - timedelta(days=30)
    except OverflowError as exc:
        raise ValidationError({"to": ["Give a date after 0001-01-31."]}) from exc
    if since >= until:
        raise ValidationError({"from": ["The period starts after it ends; swap from and to."]})
    return since, until


class CsvEcho:
    def write(self, value: str) -> str:
        return value


class OutageMinutesReportView(generics.GenericAPIView):
    permission_classes = [IsStaffMember]
    queryset = Customer.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_class = CustomerFilter
    pagination_class = StandardPagination
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # `?format=csv` picks the streamed CSV below, not a DRF renderer;
        # everything else (errors included) is JSON.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        summary="Outage and maintenance minutes per customer (staff)",
        description="Per customer of the filtered directory, in id order: minutes of outage "
        "(from the start of each outage whose audience included them to its resolution, "
        "overlapping outages counted once per minute) and, apart, of maintenance, within "
        "[from, to). A date for `to` includes that day. `?format=csv` streams every row.",
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.STR, description="Date or ISO time (default: `to` − 30 days)"
            ),
            OpenApiParameter(
                "to", OpenApiTypes.STR, description="Date (included) or ISO time (default: now)"
            ),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 500"),
        ],
        responses={
            (200, "application/json"): OutageMinutesPageSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="A parameter to fix"),
            401: ApiErrorSerializer,
            403: ApiErrorSerializer,
            404: ApiErrorSerializer,
        },
        filters=True,
    )
    def get(self, request):
        since, until = report_period(request.query_params)
        customers = self.filter_queryset(self.get_queryset())
        if request.query_params.get("format") == "csv":
            return self._csv(customers, since, until)
        page = self.paginate_queryset(customers.order_by("pk").values_list("pk", flat=True))
        rows = outage_minutes_for_customers(customer_ids=list(page), since=since, until=until)
        results = [rows[pk] for pk in page if pk in rows]
        return self.get_paginated_response(OutageMinutesRowSerializer(results, many=True).data)

    def _csv(self, customers, since: datetime, until: datetime) -> StreamingHttpResponse:
        writer = csv.writer(CsvEcho(), lineterminator="\r\n")

        def lines():
            yield writer.writerow(CSV_HEADER)
            for row in outage_minutes_rows(customers=customers, since=since, until=until):
                row["incidents"] = " ".join(str(i) for i in row["incidents"])
                yield writer.writerow([row[column] for column in CSV_HEADER])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        name = f"outage-minutes-{since:%Y%m%d}-{until:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
