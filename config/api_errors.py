"""The shape of every non-validation API error, for the OpenAPI schema:
`{"detail": "one sentence", "code": "machine_code"}`."""

from rest_framework import serializers


class ApiErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
