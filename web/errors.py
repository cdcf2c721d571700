"""Turning a service's refusal into one sentence on the page."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import APIException


def error_sentences(detail) -> list[str]:
    """Flatten DRF/Django error details ({field: [msgs]}, [msgs], "msg") to sentences."""
    if isinstance(detail, dict):
        out = []
        for field, value in detail.items():
            prefix = "" if field in ("non_field_errors", "__all__", "detail") else f"{field}: "
            out.extend(prefix + s for s in error_sentences(value))
        return out
    if isinstance(detail, list | tuple):
        return [s for item in detail for s in error_sentences(item)]
    return [str(detail)]


def refusal_sentences(exc: Exception) -> list[str]:
    if isinstance(exc, APIException):
        return error_sentences(exc.detail)
    if isinstance(exc, DjangoValidationError):
        return error_sentences(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    return [str(exc)]


@dataclass(frozen=True)
class Attempt:
    """What a service called from a page came to: `ok` (true, and the
    attempt itself truthy, unless the service refused) and its `value`."""

    ok: bool
    value: Any = None

    def __bool__(self) -> bool:
        return self.ok


def attempt(request, action, *, success: str = "", **kwargs) -> Attempt:
    """Run a service; on refusal show its sentence(s) on the page."""
    try:
        result = action(**kwargs)
    except (APIException, DjangoValidationError) as exc:
        for sentence in refusal_sentences(exc):
            messages.error(request, sentence)
        return Attempt(ok=False)
    if success:
        messages.success(request, success)
    return Attempt(ok=True, value=result)
