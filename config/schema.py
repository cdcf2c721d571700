"""The OpenAPI schema tells the truth about errors too.

Every operation can answer with the errors the framework itself produces,
whatever the view: 401 when the caller is not signed in (unless anyone may
call it), 403 when their role may not, 404 for an object they may not see,
400 for a body or query string that does not validate, 413 for a body over
the size cap, 429 when a throttle says "slow down". A postprocessing hook
adds those to every operation that does not describe them itself, so an
endpoint added later is documented without anyone remembering to; codes a
view adds on its own (409 for a state conflict, 503, …) are declared on the
view with `@extend_schema(responses={409: ErrorSerializer, ...})`."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


def responds_with(*codes: int):
    """Declare the error codes a view or action answers with beyond the
    framework's own (e.g. `@responds_with(409)` on an action that can find
    the object in the wrong state). On a view class, the codes apply to every
    operation; `api_errors = {"destroy": {409}}` on a class names actions
    the class inherits."""

    def mark(target):
        target.api_errors = set(getattr(target, "api_errors", set())) | set(codes)
        return target

    return mark


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the error codes declared with
    `responds_with` (the DEFAULT_SCHEMA_CLASS)."""

    def _declared_errors(self) -> set[int]:
        view = self.view
        action = getattr(view, "action", None) or self.method.lower()
        handler = getattr(view, action, None)
        codes = set(getattr(handler, "api_errors", set()))
        per_action = getattr(type(view), "api_errors", None)
        if isinstance(per_action, dict):
            codes |= set(per_action.get(action, set()))
        elif per_action:
            codes |= set(per_action)
        return codes

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        for code in sorted(self._declared_errors()):
            bodies.setdefault(
                str(code),
                {
                    "description": _DESCRIPTIONS.get(str(code), "An error."),
                    "content": _json("#/components/schemas/Error"),
                },
            )
        return bodies


class ErrorSerializer(serializers.Serializer):
    """`{"detail": "sentence", "code": "machine_code"}`."""

    detail = serializers.CharField()
    code = serializers.CharField()


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


CONFLICT = error_response("The object is in a state that does not allow this.")

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: one sentence in `detail`, a machine code in `code`.",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}
VALIDATION_ERROR_SCHEMA = {
    "description": (
        "Validation errors, `{field: [sentence, ...]}`; or an unreadable body, "
        '`{"detail", "code"}`.'
    ),
    "type": "object",
    "additionalProperties": {},
}

_DESCRIPTIONS = {
    "400": "The body or query string does not validate; each field says what to fix.",
    "401": "Not signed in, or the token has expired.",
    "403": "Signed in, but this role or account may not do this.",
    "404": "No such object, or not one the caller may see.",
    "413": "The request body is over the size cap.",
    "409": "The object is in a state that does not allow this; the sentence says which.",
    "429": "Too many requests; try again later.",
}
_BODY_METHODS = {"post", "put", "patch"}


def _json(ref: str) -> dict:
    return {"application/json": {"schema": {"$ref": ref}}}


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook (see SPECTACULAR_SETTINGS)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    components.setdefault("ValidationErrors", VALIDATION_ERROR_SCHEMA)
    error, validation = "#/components/schemas/Error", "#/components/schemas/ValidationErrors"
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method.startswith("x-") or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            anonymous = {} in operation.get("security", [{}])
            codes = ["403", "429"]
            if not anonymous:
                codes.append("401")
            if "{" in path:
                codes.append("404")
            if method in _BODY_METHODS or operation.get("parameters"):
                codes.append("400")
            if method in _BODY_METHODS:
                codes.append("413")
            for code in codes:
                if code in responses:
                    continue
                schema = validation if code == "400" else error
                responses[code] = {"description": _DESCRIPTIONS[code], "content": _json(schema)}
            operation["responses"] = dict(sorted(responses.items()))
    return result
