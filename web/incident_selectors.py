"""Reads the incident pages need beyond incidents.selectors: each notice's
delivery as a customer would feel it, a maintenance window in the affected
customers' own zones, what a waiting notice will do when its time comes,
and the site picker's search. Grouped queries only; no loop runs a query."""

import datetime
from collections import Counter, defaultdict

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from customers.models import Site
from delivery.models import Message, MessageStatus
from delivery.selectors import message_tally
from delivery.windows import window_next_opening, zone
from incidents.models import Incident, IncidentCustomer
from notifications.models import Notification

# How the timeline names each message status, in the order it lists them.
PROGRESS_LABELS = (
    (MessageStatus.SENT, "sent"),
    (MessageStatus.PENDING, "queued"),
    (MessageStatus.SENDING, "sending"),
    (MessageStatus.DEFERRED, "deferred"),
    (MessageStatus.SUPERSEDED, "superseded"),
    (MessageStatus.EXPIRED, "expired"),
    (MessageStatus.FAILED, "failed"),
    (MessageStatus.SUPPRESSED, "not reachable"),
    (MessageStatus.CANCELLED, "cancelled"),
)
# Local opening times listed per notice before the rest are summed up.
DEFERRED_TIMES_SHOWN = 3


def _local_hhmm(moment: datetime.datetime, tz_name: str) -> str:
    return moment.astimezone(zone(tz_name)).strftime("%H:%M")


def notice_progress(*, notification_ids: list[int]) -> dict[int, dict]:
    """{notification id: {"total", "parts": [(label, count)], "deferred_until":
    [(HH:MM local, count)]}}: two grouped queries for any number of notices."""
    progress = {pk: {"total": 0, "parts": [], "deferred_until": []} for pk in notification_ids}
    if not notification_ids:
        return progress
    counts: dict[int, Counter] = defaultdict(Counter)
    for row in message_tally(notifications=notification_ids, by=("notification_id", "status")):
        counts[row["notification_id"]][row["status"]] += row["n"]
    deferred = (
        Message.objects.filter(notification_id__in=notification_ids, status=MessageStatus.DEFERRED)
        .values_list("notification_id", "customer__timezone", "next_attempt_at")
        .annotate(n=Count("pk"))
        .order_by("-n")[:500]
    )
    local_times: dict[int, Counter] = defaultdict(Counter)
    for pk, tz_name, next_attempt_at, n in deferred:
        if next_attempt_at is not None:
            local_times[pk][_local_hhmm(next_attempt_at, tz_name)] += n
    for pk in notification_ids:
        by_status = counts.get(pk, Counter())
        progress[pk] = {
            "total": sum(by_status.values()),
            "parts": [(label, by_status[s]) for s, label in PROGRESS_LABELS if by_status[s]],
            "deferred_until": sorted(local_times[pk].most_common(DEFERRED_TIMES_SHOWN)),
        }
    return progress


def audience_zones(*, incident: Incident) -> list[dict]:
    """The frozen audience by time zone, most customers first:
    [{"zone", "count"}]."""
    rows = (
        IncidentCustomer.objects.filter(incident=incident)
        .values_list("customer__timezone")
        .annotate(n=Count("pk"))
        .order_by("-n", "customer__timezone")
    )
    return [{"zone": tz_name or "UTC", "count": n} for tz_name, n in rows]


def window_in_zones(*, incident: Incident, limit: int = 8) -> dict:
    """A maintenance window in UTC and as each group of affected customers
    reads it ("02:00–04:00 UTC = 05:00–07:00 MSK for 62 customers"). Zones
    that read it the same way are counted together."""
    start, end = incident.scheduled_start, incident.scheduled_end
    if not (start and end):
        return {"utc": "", "local": []}

    def span(tz_name: str) -> str:
        tz = zone(tz_name)
        a, b = start.astimezone(tz), end.astimezone(tz)
        same_day = a.date() == b.date()
        last = b.strftime("%H:%M") if same_day else b.strftime("%a %d %b %H:%M")
        return f"{a:%a %d %b %H:%M}–{last} {a.tzname()}"

    local: Counter = Counter()
    for row in audience_zones(incident=incident):
        local[span(row["zone"])] += row["count"]
    utc = span("UTC")
    return {
        "utc": utc,
        "local": [{"span": s, "count": n} for s, n in local.most_common(limit) if s != utc],
        "utc_count": local.get(utc, 0),
    }


def _stale_at(notification: Notification) -> datetime.datetime | None:
    return notification.end_at


def notice_forecast(*, notification: Notification, incident: Incident) -> dict:
    """What a notice not yet sent will do at its start, customer by customer
    of the frozen audience, by the same window and end rules delivery applies:
    {"at", "now", "deferred": [(HH:MM local, n)], "expire"}."""
    at = notification.start_at or timezone.now()
    groups = (
        IncidentCustomer.objects.filter(incident=incident, customer__is_active=True)
        .values_list(
            "customer__timezone", "customer__contact_window_start", "customer__contact_window_end"
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    now_count, expire = 0, 0
    deferred: Counter = Counter()
    stale_at = _stale_at(notification)
    for tz_name, window_start, window_end, n in groups:
        opening = None
        if notification.respect_contact_window:
            opening = window_next_opening(
                now=at, tz_name=tz_name, start=window_start, end=window_end
            )
        if stale_at is not None and (at >= stale_at or (opening and opening >= stale_at)):
            expire += n
        elif opening is None:
            now_count += n
        else:
            deferred[_local_hhmm(opening, tz_name)] += n
    return {
        "at": at,
        "now": now_count,
        "deferred": sorted(deferred.most_common(DEFERRED_TIMES_SHOWN)),
        "deferred_total": sum(deferred.values()),
        "expire": expire,
    }


def waiting_notices(*, incident: Incident) -> list[Notification]:
    """The incident's notices that have not started yet (a maintenance's
    reminder, start and end notices), soonest first."""
    return list(
        Notification.objects.filter(incident=incident, status=Notification.Status.SCHEDULED)
        .order_by("start_at", "id")
        .only("pk", "title", "start_at", "end_at", "respect_contact_window", "status")
    )


def site_search(*, term: str, limit: int = 12) -> QuerySet[Site]:
    """Sites whose code, name or location contains the term, the top of the
    tree first."""
    term = term.replace("\x00", "").strip()[:100]  # PostgreSQL refuses NUL in a literal
    if not term:
        return Site.objects.none()
    return (
        Site.objects.filter(
            Q(code__icontains=term) | Q(name__icontains=term) | Q(location__icontains=term)
        )
        .order_by("depth", "path")
        .only("code", "name", "location", "depth")[:limit]
    )


def incidents_for_dashboard() -> dict:
    """Active outages (drafts from monitoring too) and upcoming or running
    maintenance, for the top of the dashboard."""
    outages = (
        Incident.objects.filter(kind=Incident.Kind.OUTAGE)
        .exclude(status__in=Incident.FINISHED_STATUSES)
        .order_by("-created_at", "-id")[:10]
    )
    maintenance = Incident.objects.filter(
        kind=Incident.Kind.MAINTENANCE,
        status__in=(Incident.Status.SCHEDULED, Incident.Status.IN_PROGRESS),
    ).order_by("scheduled_start", "id")[:10]
    return {"active_outages": list(outages), "upcoming_maintenance": list(maintenance)}
