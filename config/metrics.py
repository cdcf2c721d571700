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
import json

from django.apps import apps
from django.conf import settings
from django.db import connection
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

CHANNELS = ("email", "sms")
# The due queue is counted exactly up to this; above it (on PostgreSQL) the
# planner's estimate is given, so a scrape never walks a million due rows.
DUE_EXACT_UP_TO = 1_000


def _read(now) -> dict[str, float]:
    """Every figure in one statement (one round trip): the delivery
    counters, open tickets by status, SLA breaches, due messages (counted
    up to DUE_EXACT_UP_TO + 1), the age of the oldest due one and, when the
    incidents app is installed, active incidents. Each part is an index
    lookup or a count over a small partial index."""
    from delivery.models import OPEN_STATUSES, DeliveryCounter, Message
    from tickets.models import ACTIVE_STATUSES, Ticket

    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    number = "DOUBLE PRECISION" if postgres else "REAL"
    at = connection.ops.adapt_datetimefield_value(now)
    counters = quote(DeliveryCounter._meta.db_table)
    messages = quote(Message._meta.db_table)
    tickets = quote(Ticket._meta.db_table)
    open_statuses = [status.value for status in OPEN_STATUSES]
    active = [status.value for status in ACTIVE_STATUSES]

    def marks(values: list) -> str:
        return ", ".join(["%s"] * len(values))

    due = f"FROM {messages} WHERE status IN ({marks(open_statuses)}) AND next_attempt_at <= %s"
    age = (
        "EXTRACT(EPOCH FROM (%s::timestamptz - MIN(next_attempt_at)))"
        if postgres
        else "(julianday(%s) - julianday(MIN(next_attempt_at))) * 86400.0"
    )
    parts = [
        (f"SELECT {quote('key')}, {quote('value')} FROM {counters}", []),  # noqa: S608
        (
            f"SELECT 'tickets_open:' || status, CAST(COUNT(*) AS {number}) FROM {tickets} "  # noqa: S608
            f"WHERE status IN ({marks(active)}) GROUP BY status",
            active,
        ),
        (
            f"SELECT 'sla_breached', CAST(COUNT(*) AS {number}) FROM {tickets} "  # noqa: S608
            f"WHERE status IN ({marks(active)}) AND due_at < %s",
            [*active, at],
        ),
        (
            f"SELECT 'due', CAST(COUNT(*) AS {number}) FROM "  # noqa: S608
            f"(SELECT 1 {due} LIMIT {DUE_EXACT_UP_TO + 1}) AS due",
            [*open_statuses, at],
        ),
        (f"SELECT 'oldest_due_age', CAST({age} AS {number}) {due}", [at, *open_statuses, at]),
    ]
    incident = _incident_model()
    if incident is not None:
        finished = [str(status) for status in getattr(incident, "FINISHED_STATUSES", ())]
        where = f"WHERE status NOT IN ({marks(finished)})" if finished else ""
        parts.append(
            (
                f"SELECT 'incidents_active', CAST(COUNT(*) AS {number}) "  # noqa: S608
                f"FROM {quote(incident._meta.db_table)} {where}",
                finished,
            )
        )
    # Only quoted table and column names are interpolated; values are parameters.
    sql = " UNION ALL ".join(f"SELECT * FROM ({part}) AS p{n}" for n, (part, _) in enumerate(parts))  # noqa: S608
    params = [param for _, part_params in parts for param in part_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {key: value for key, value in cursor.fetchall() if value is not None}


def _incident_model():
    """The incidents app's Incident, when that app is installed."""
    if not apps.is_installed("incidents"):
        return None
    try:
        return apps.get_model("incidents", "Incident")
    except LookupError:
        return None


def _due_estimate(now) -> float:
    """Above DUE_EXACT_UP_TO on PostgreSQL: the planner's estimate (EXPLAIN,
    not run)."""
    from delivery.models import OPEN_STATUSES, Message

    statuses = [status.value for status in OPEN_STATUSES]
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} "  # noqa: S608
            "WHERE status = ANY(%s) AND next_attempt_at <= %s",
            [statuses, now],
        )
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(max(int(plan[0]["Plan"]["Plan Rows"]), DUE_EXACT_UP_TO + 1))


def _families(values: dict[str, float], *, now) -> list:
    from delivery.tally import LATENCY_BUCKETS
    from tickets.models import ACTIVE_STATUSES

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

    depth = values.get("due", 0.0)
    is_estimate = depth > DUE_EXACT_UP_TO and connection.vendor == "postgresql"
    due = GaugeMetricFamily(
        "proactive_due_messages",
        f"Messages due to be sent now (exact up to {DUE_EXACT_UP_TO:,}; above, on PostgreSQL, "
        "the planner's estimate).",
    )
    due.add_metric([], _due_estimate(now) if is_estimate else depth)
    estimate = GaugeMetricFamily(
        "proactive_due_messages_is_estimate", "1 when proactive_due_messages is an estimate."
    )
    estimate.add_metric([], 1.0 if is_estimate else 0.0)
    age = GaugeMetricFamily(
        "proactive_oldest_due_message_age_seconds",
        "How long the longest-waiting due message has been due (0 when none is).",
    )
    age.add_metric([], max(0.0, values.get("oldest_due_age", 0.0)))
    families += [due, estimate, age]

    tickets = GaugeMetricFamily(
        "proactive_tickets_open", "Tickets that still need work, by status.", labels=["status"]
    )
    for status in ACTIVE_STATUSES:
        tickets.add_metric([status.value], values.get(f"tickets_open:{status.value}", 0.0))
    breaches = GaugeMetricFamily(
        "proactive_tickets_sla_breached", "Open tickets past their due time (SLA breached)."
    )
    breaches.add_metric([], values.get("sla_breached", 0.0))
    families += [tickets, breaches]
    if "incidents_active" in values:
        incidents = GaugeMetricFamily(
            "proactive_incidents_active", "Incidents not yet resolved, completed or cancelled."
        )
        incidents.add_metric([], values["incidents_active"])
        families.append(incidents)
    return families


class _Collector:
    def collect(self):
        now = timezone.now()
        yield from _families(_read(now), now=now)


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
