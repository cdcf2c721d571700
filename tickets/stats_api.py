"""GET /api/tickets/stats/: ticket statistics for administrators."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin
from config.api_errors import ApiErrorSerializer
from tickets.statistics import statistics_period, ticket_statistics


class DurationSummarySerializer(serializers.Serializer):
    count = serializers.IntegerField()
    median_minutes = serializers.FloatField(allow_null=True)
    p90_minutes = serializers.FloatField(allow_null=True)


class BreachesSerializer(serializers.Serializer):
    response = serializers.IntegerField(help_text="First response later than the target")
    resolution = serializers.IntegerField(help_text="Resolved after, or still open past, due_at")


class PriorityStatsSerializer(serializers.Serializer):
    priority = serializers.CharField()
    first_response = DurationSummarySerializer()
    resolution = DurationSummarySerializer()
    sla_breaches = BreachesSerializer()


class EngineerTicketStatsSerializer(serializers.Serializer):
    engineer = serializers.CharField(help_text="The assignee's username")
    first_response = DurationSummarySerializer()
    resolution = DurationSummarySerializer()


class BacklogPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    raised = serializers.IntegerField()
    finished = serializers.IntegerField()
    open = serializers.IntegerField(help_text="Unfinished tickets at the end of the day (UTC)")


class TicketStatsSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    tickets = serializers.IntegerField(help_text="Tickets raised in the period")
    first_response = DurationSummarySerializer()
    resolution = DurationSummarySerializer()
    by_priority = PriorityStatsSerializer(many=True)
    by_engineer = EngineerTicketStatsSerializer(many=True)
    sla_breaches = BreachesSerializer()
    backlog = BacklogPointSerializer(many=True)


class TicketStatsView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        summary="Ticket statistics (administrators)",
        description="Tickets raised in the period: first response and resolution times "
        "(median, 90th percentile, minutes) by priority and by engineer, SLA breaches, "
        "and the backlog at the end of each day (UTC).",
        parameters=[
            OpenApiParameter(
                "since", OpenApiTypes.DATE, description="First day (default: 29 days ago)"
            ),
            OpenApiParameter("until", OpenApiTypes.DATE, description="Last day (default: today)"),
        ],
        responses={
            200: TicketStatsSerializer,
            400: OpenApiTypes.OBJECT,
            401: ApiErrorSerializer,
            403: ApiErrorSerializer,
        },
    )
    def get(self, request):
        since, until = statistics_period(request.query_params)
        return Response(TicketStatsSerializer(ticket_statistics(since=since, until=until)).data)
