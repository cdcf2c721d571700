"""`/metrics`: the service's state in Prometheus text format.

Everything is read from the database at scrape time, so the figures are the
same whichever gunicorn process answers and however many Celery workers run
on however many machines: counters from DeliveryCounter (each worker adds
its batch's outcomes at the batch's end), gauges from indexed queries that
stay cheap on a large Message table (see the README's "Monitoring").

Access: `Authorization: Bearer $METRICS_TOKEN`, or a client address in
METRICS_ALLOWED_IPS (none by default). No credentials → 401; a wrong token
(or any token while METRICS_TOKEN is unset) → 403."""

import hmac
import ipaddress
import time

from django.apps import apps
from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from config.pagination import estimated_count

CHANNELS = ("email", "sms")
# The due queue is counted exactly up to this; above it (on PostgreSQL) the
# planner's estimate is given, so a scrape never walks a million due rows.
DUE_EXACT_UP_TO = 10_000


def _counters() -> list:
    from delivery.tally import LATENCY_BUCKETS, tally_read

    values = tally_read()
    families = []
    for outcome, text in (
        ("sent", "Messages the mail server or SMS gateway accepted."),
        ("failed", "Messages given up on (a permanent error, or retries exhausted)."),
        ("deferred", "Deferrals: a transient error to retry, or outside the contact window."),
        ("expired", "Messages not delivered before their notification ended."),
        ("suppressed", "Messages not sent: opted out, inactive or no address."),
    ):
        family = CounterMetricFamily(f"proactive_messages_{outcome}", text, labels=["channel"])
        for channel in CHANNELS:
            family.add_metric([channel], values.get(f"{outcome}:{channel}", 0.0))
        families.append(family)
    latency = HistogramMetricFamily(
        "proactive_send_latency_seconds",
        "Seconds the mail server or SMS gateway took to accept one message.",
        labels=["channel"],
    )
    for channel in CHANNELS:
        cumulative, buckets = 0.0, []
        for le in (*(str(b) for b in LATENCY_BUCKETS), "+Inf"):
            cumulative += values.get(f"latency_bucket:{channel}:{le}", 0.0)
            buckets.append((le, cumulative))
        latency.add_metric([channel], buckets, values.get(f"latency_sum:{channel}", 0.0))
    families.append(latency)
    return families


def _queue() -> list:
    from delivery.models import OPEN_STATUSES, Message

    now = timezone.now()
    due = Message.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now)
    depth, is_estimate = estimated_count(due, exact_up_to=DUE_EXACT_UP_TO)
    oldest = due.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    family = GaugeMetricFamily(
        "proactive_due_messages",
        f"Messages due to be sent now (exact up to {DUE_EXACT_UP_TO}, then the planner's "
        "estimate).",
    )
    family.add_metric([], depth)
    estimate = GaugeMetricFamily(
        "proactive_due_messages_is_estimate", "1 when proactive_due_messages is an estimate."
    )
    estimate.add_metric([], 1.0 if is_estimate else 0.0)
    age = GaugeMetricFamily(
        "proactive_oldest_due_message_age_seconds",
        "How long the longest-waiting due message has been due (0 when none is).",
    )
    age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    return [family, estimate, age]


def _tickets() -> list:
    from tickets.models import ACTIVE_STATUSES, Ticket

    active = Ticket.objects.filter(status__in=[s.value for s in ACTIVE_STATUSES])
    by_status = dict(active.order_by().values_list("status").annotate(n=Count("pk")))
    family = GaugeMetricFamily(
        "proactive_tickets_open", "Tickets that still need work, by status.", labels=["status"]
    )
    for status in ACTIVE_STATUSES:
        family.add_metric([status.value], by_status.get(status.value, 0))
    breaches = GaugeMetricFamily(
        "proactive_tickets_sla_breached", "Open tickets past their due time (SLA breached)."
    )
    breaches.add_metric([], active.filter(due_at__lt=timezone.now()).count())
    return [family, breaches]


def _incidents() -> list:
    """Incidents not yet finished, when the incidents app is installed."""
    if not apps.is_installed("incidents"):
        return []
    try:
        incident = apps.get_model("incidents", "Incident")
    except LookupError:
        return []
    finished = [str(s) for s in getattr(incident, "FINISHED_STATUSES", ())]
    family = GaugeMetricFamily(
        "proactive_incidents_active", "Incidents not yet resolved, completed or cancelled."
    )
    family.add_metric([], incident.objects.exclude(status__in=finished).count())
    return [family]


class _Collector:
    def collect(self):
        started = time.perf_counter()
        yield from _counters()
        yield from _queue()
        yield from _tickets()
        yield from _incidents()
        took = GaugeMetricFamily(
            "proactive_metrics_scrape_seconds", "Seconds this scrape spent reading the database."
        )
        took.add_metric([], time.perf_counter() - started)
        yield took


def metrics_text() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)


def _allowed_address(address: str) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_IPS:
        try:
            if client in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def _refusal(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@never_cache
@require_GET
def metrics(request):
    header = request.headers.get("Authorization", "")
    token = settings.METRICS_TOKEN
    if header:
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _refusal(403, "This token does not give access to the metrics.")
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return _refusal(403, "This token does not give access to the metrics.")
    elif not _allowed_address(request.META.get("REMOTE_ADDR", "")):
        return _refusal(401, "Send Authorization: Bearer <METRICS_TOKEN> to read the metrics.")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
