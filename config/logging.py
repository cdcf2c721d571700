"""One log line per request and per task, with the ids that let one grep
find a whole story (request id, user id, notification/message/customer id)."""

import logging
import time
import uuid

request_logger = logging.getLogger("proactive.request")

# Probes (a container health check every few seconds, Prometheus scrapes)
# are logged at DEBUG when they succeed, so an idle service stays quiet.
QUIET_PATHS = frozenset({"/healthz", "/metrics"})

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "context",
}


class ContextFilter(logging.Filter):
    """Renders the `extra` fields of a record as ` key=value` pairs for the text format."""

    def filter(self, record: logging.LogRecord) -> bool:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}
        record.context = "".join(f" {key}={value}" for key, value in sorted(extras.items()))
        return True


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex[:16]
        request.request_id = request_id
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        quiet = request.path in QUIET_PATHS and response.status_code < 400
        request_logger.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "user_id": getattr(user, "pk", None),
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        response["X-Request-ID"] = request_id
        return response
