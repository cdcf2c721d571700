"""Email provider webhooks (django-anymail's own views at
/anymail/{esp}/tracking/): a failed authentication answers 401 (no
credentials) or 403 (wrong ones) instead of anymail's 400, and the webhooks
stay shut until ANYMAIL_WEBHOOK_SECRET is set."""

from anymail.exceptions import AnymailWebhookValidationFailure
from django.conf import settings
from django.http import JsonResponse

PREFIX = "/anymail/"


def _refusal(status: int, detail: str, code: str) -> JsonResponse:
    response = JsonResponse({"detail": detail, "code": code}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="anymail"'
    return response


class AnymailWebhookAuthMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(PREFIX) and not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            return _refusal(
                403,
                "Email provider webhooks are off; set ANYMAIL_WEBHOOK_SECRET to turn them on.",
                "webhooks_not_configured",
            )
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith(PREFIX):
            return None
        if isinstance(exception, AnymailWebhookValidationFailure):
            if "HTTP_AUTHORIZATION" not in request.META:
                return _refusal(
                    401, "Sign the webhook with the shared secret (basic auth).", "unauthenticated"
                )
            return _refusal(403, "The webhook's credentials or signature are wrong.", "forbidden")
        return None
