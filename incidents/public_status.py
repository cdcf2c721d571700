"""The public status: active public outages and upcoming or running
maintenance, by location and service type, with their updates; and the
recent updates the Atom feed carries. Nothing about any customer.

During an outage everyone reloads the status page, so the document is built
at most once per STATUS_CACHE_SECONDS (one query: incidents joined to their
updates) and served from Django's cache in between. One visitor rebuilds a
stale document while the others are served the previous one, so an expiry
never lets a crowd through to the database. The names of the sites and
service types the incidents mention come from a second entry kept for
STATUS_NAMES_CACHE_SECONDS.

Site codes are internal: a scope's last-mile site is shown by its code only
when the site is marked public, otherwise by its location (town or
district). Customer ids in a scope are never shown."""

import re
import time
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.http import http_date

from config.env import env_int
from customers.models import ServiceType, Site
from incidents.models import Incident, IncidentUpdate, format_number
from incidents.selectors import ACTIVE_OUTAGE_STATUSES
from notifications import templating

DOCUMENT_KEY = "public-status:document:v1"
LOCK_KEY = "public-status:rebuild:v1"
NAMES_KEY = "public-status:names:v1"
# How long finished incidents stay in the feed.
FEED_DAYS = 7
FEED_ENTRIES = 50
_UPCOMING_MAINTENANCE = (Incident.Status.SCHEDULED, Incident.Status.IN_PROGRESS)
_TEMPLATE_TAG = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)


def status_cache_seconds() -> int:
    return env_int("STATUS_CACHE_SECONDS", 10, minimum=1)


def names_cache_seconds() -> int:
    return env_int("STATUS_NAMES_CACHE_SECONDS", 300, minimum=1)


def _shown_now_q() -> Q:
    outage = Q(kind=Incident.Kind.OUTAGE, status__in=ACTIVE_OUTAGE_STATUSES)
    maintenance = Q(kind=Incident.Kind.MAINTENANCE, status__in=_UPCOMING_MAINTENANCE)
    return outage | maintenance


def _rows(now: datetime) -> list[dict]:
    """Public incidents shown now or finished in the last FEED_DAYS, one row
    per update (a LEFT JOIN: an incident without updates has one row of
    NULLs), in one query."""
    recent = Q(
        status__in=Incident.FINISHED_STATUSES, updated_at__gte=now - timedelta(days=FEED_DAYS)
    )
    return list(
        Incident.objects.filter(public=True)
        .filter(_shown_now_q() | recent)
        .values(
            "id",
            "kind",
            "title",
            "impact",
            "status",
            "scope",
            "eta",
            "started_at",
            "resolved_at",
            "scheduled_start",
            "scheduled_end",
            "created_at",
            "updates__id",
            "updates__kind",
            "updates__status",
            "updates__body",
            "updates__created_at",
        )
        .order_by("-created_at", "-id", "updates__created_at", "updates__id")
    )


def _names(codes_needed: tuple[set[str], set[str]]) -> dict:
    """{"sites": {code: (public, location)}, "services": {code: name}}; the
    cached copy serves while it knows every code asked for."""
    site_codes, service_codes = codes_needed
    names = cache.get(NAMES_KEY)
    if names and site_codes <= set(names["sites"]) and service_codes <= set(names["services"]):
        return names
    names = {
        "sites": {
            code: (public, location)
            for code, public, location in Site.objects.values_list("code", "public", "location")
        },
        "services": dict(ServiceType.objects.values_list("code", "name")),
    }
    # A code that names nothing is remembered as unknown, not asked for again.
    for code in site_codes - set(names["sites"]):
        names["sites"][code] = (False, "")
    for code in service_codes - set(names["services"]):
        names["services"][code] = ""
    cache.set(NAMES_KEY, names, names_cache_seconds())
    return names


def _public_text(body: str, incident: dict) -> str:
    """An update's text as the public reads it: its template rendered with
    no customer at all (a name or account number can never appear), times in UTC."""
    values = {
        "title": incident["title"],
        "status": templating.INCIDENT_STATUS_LABELS.get(incident["status"], incident["status"]),
    }
    for name in templating.INCIDENT_TIME_FIELDS:
        values[name] = incident[name]
    try:
        compiled = templating.notification_compile(title="", body=body)
        context = templating.render_context(
            customer={"timezone": "UTC"}, start_at=None, end_at=None, incident=values
        )
        return templating.render(compiled, context).text
    except templating.TemplateInvalid:
        return _TEMPLATE_TAG.sub("", body).strip()


def _scope_words(scope: dict, names: dict) -> tuple[list[str], list[str]]:
    locations = [str(value) for value in scope.get("location") or [] if value]
    for code in scope.get("last_mile_site") or []:
        public, location = names["sites"].get(code, (False, ""))
        shown = code if public else location
        if shown:
            locations.append(shown)
    services = [names["services"].get(code, "") for code in scope.get("service_type") or [] if code]
    return sorted(set(locations)), sorted({s for s in services if s})


def _document_build(now: datetime) -> dict:
    rows = _rows(now)
    incidents: dict[int, dict] = {}
    feed: list[dict] = []
    for row in rows:
        incident = incidents.get(row["id"])
        if incident is None:
            incident = incidents[row["id"]] = {**row, "updates": []}
        if row["updates__id"] is None or row["updates__kind"] == IncidentUpdate.Kind.SUGGESTION:
            continue
        update = {
            "status": row["updates__status"],
            "body": row["updates__body"],
            "created_at": row["updates__created_at"],
        }
        incident["updates"].append(update)
    codes = (set(), set())
    for incident in incidents.values():
        codes[0].update(incident["scope"].get("last_mile_site") or [])
        codes[1].update(incident["scope"].get("service_type") or [])
    names = _names(codes) if any(codes) else {"sites": {}, "services": {}}
    shown = []
    for incident in incidents.values():
        locations, services = _scope_words(incident["scope"] or {}, names)
        public = {
            "id": incident["id"],
            "number": format_number(incident["id"]),
            "kind": incident["kind"],
            "title": incident["title"],
            "impact": incident["impact"],
            "status": incident["status"],
            "locations": locations,
            "service_types": services,
            "started_at": incident["started_at"],
            "resolved_at": incident["resolved_at"],
            "eta": incident["eta"],
            "scheduled_start": incident["scheduled_start"],
            "scheduled_end": incident["scheduled_end"],
            "updates": [
                {**u, "body": _public_text(u["body"], incident)} for u in incident["updates"]
            ],
        }
        for update in public["updates"]:
            feed.append({"incident": public, "update": update})
        if incident["status"] not in Incident.FINISHED_STATUSES:
            shown.append(public)
    feed.sort(key=lambda item: item["update"]["created_at"], reverse=True)
    return {
        "built_at": now,
        "incidents": _in_display_order(shown),
        "feed": feed[:FEED_ENTRIES],
    }


def _in_display_order(incidents: list[dict]) -> list[dict]:
    """Outages first (newest first), then maintenance by its start."""
    outages = [i for i in incidents if i["kind"] == Incident.Kind.OUTAGE]
    maintenance = [i for i in incidents if i["kind"] == Incident.Kind.MAINTENANCE]
    maintenance.sort(key=lambda i: (i["scheduled_start"] is None, i["scheduled_start"] or 0))
    return outages + maintenance


def public_status(*, wait_seconds: float = 2.0) -> dict:
    """The current public status document (see the module's docstring)."""
    document = cache.get(DOCUMENT_KEY)
    fresh_for = timedelta(seconds=status_cache_seconds())
    now = timezone.now()
    if document is not None and now - document["built_at"] < fresh_for:
        return document
    # Stale or missing: exactly one visitor per period rebuilds.
    if cache.add(LOCK_KEY, 1, status_cache_seconds()):
        document = _document_build(now)
        # Kept well past its freshness so the stale copy can serve while one rebuilds.
        cache.set(DOCUMENT_KEY, document, status_cache_seconds() * 30)
        return document
    if document is not None:
        return document
    # A cold start with someone else building: wait for their copy.
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
        document = cache.get(DOCUMENT_KEY)
        if document is not None:
            return document
    return _document_build(timezone.now())


def status_headers(response, *, built_at: datetime):
    """The caching headers of every public status response: public for the
    cache period, Last-Modified at the document's build (ETag and 304s are
    added by the views' `conditional_page`)."""
    response["Cache-Control"] = f"public, max-age={status_cache_seconds()}"
    response["Last-Modified"] = http_date(built_at.timestamp())
    return response


def public_status_forget() -> None:
    """Drop the cached document (tests, and anyone who needs the next read fresh)."""
    cache.delete_many([DOCUMENT_KEY, LOCK_KEY, NAMES_KEY])
