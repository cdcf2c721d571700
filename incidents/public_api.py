"""GET /api/status/: the public status as JSON, for anyone, from the cache."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.public_status import public_status, status_headers


class StatusPageUpdateSerializer(serializers.Serializer):
    status = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class StatusPageIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.ChoiceField(choices=["outage", "maintenance"])
    title = serializers.CharField()
    impact = serializers.ChoiceField(choices=["minor", "major", "critical"])
    status = serializers.CharField()
    locations = serializers.ListField(child=serializers.CharField())
    service_types = serializers.ListField(child=serializers.CharField())
    started_at = serializers.DateTimeField(allow_null=True)
    eta = serializers.DateTimeField(allow_null=True)
    scheduled_start = serializers.DateTimeField(allow_null=True)
    scheduled_end = serializers.DateTimeField(allow_null=True)
    updates = StatusPageUpdateSerializer(many=True)


class PublicStatusSerializer(serializers.Serializer):
    incidents = StatusPageIncidentSerializer(many=True)


class PublicStatusView(APIView):
    # No authentication at all: a credential would cost a database lookup per
    # visitor, and the answer is the same for everyone.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Public status: active outages and upcoming or running maintenance",
        description="For anyone, without signing in. Locations and service types only; no "
        "customer data, and a site's code only when the site is public. Cached for "
        "STATUS_CACHE_SECONDS (10 s by default).",
        responses={
            200: PublicStatusSerializer,
            304: OpenApiResponse(
                description="Not modified: the If-None-Match or If-Modified-Since sent names "
                "the current document."
            ),
        },
        auth=[],
    )
    def get(self, request):
        document = public_status()
        return status_headers(
            Response(PublicStatusSerializer(document).data), built_at=document["built_at"]
        )
