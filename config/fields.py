"""Serializer fields whose OpenAPI description matches what they return."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.filters import ID_MAX

HOUR_MINUTE_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


@extend_schema_field(
    {"type": "string", "pattern": HOUR_MINUTE_PATTERN, "example": "09:00"},
)
class HourMinuteField(serializers.TimeField):
    """A time of day as the contract writes it: "HH:MM" (not OpenAPI's
    `format: time`, which needs seconds and an offset)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%H:%M")
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "anyOf": [
            {"type": "string", "format": "email"},
            {"type": "string", "maxLength": 0},
        ]
    }
)
class OptionalEmailField(serializers.EmailField):
    """An email address, or "" when there is none."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)


class IdField(serializers.IntegerField):
    """An object id in a request body: a whole number a database id can be
    (1 to 2⁶³−1), so a larger one is a 400 rather than a database error."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)
