"""Incident rules: declaring, updating, resolving, widening, maintenance
automation, cancelling, the root-cause report.

Every notice is an ordinary notification (notifications.services) with
`incident` set; the notifications app asks incidents.selectors, through the
hook registered in IncidentsConfig.ready(), who each notice is for."""

import datetime
import logging

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from config.exceptions import Conflict
from customers.models import Customer
from customers.selectors import AUDIENCE_FIELDS, customer_audience
from delivery.channels.sms import sms_size
from incidents import hooks, selectors
from incidents.models import Incident, IncidentCustomer, IncidentUpdate
from notifications import services as notifications
from notifications import templating
from notifications.models import Notification

logger = logging.getLogger("proactive.incidents")

Status = Incident.Status
Kind = Incident.Kind
UpdateKind = IncidentUpdate.Kind

OUTAGE_ORDER = [
    Status.DRAFT,
    Status.INVESTIGATING,
    Status.IDENTIFIED,
    Status.MONITORING,
    Status.RESOLVED,
]
UPDATE_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)
SMS_SEGMENT_LIMIT = 2

NOTICE_TITLES = {
    UpdateKind.DECLARATION: "{{ incident.title }}",
    UpdateKind.UPDATE: "{{ incident.title }}: update",
    UpdateKind.RESOLUTION: "{{ incident.title }}: resolved",
    UpdateKind.ANNOUNCEMENT: "Planned maintenance: {{ incident.title }}",
    UpdateKind.REMINDER: "Reminder, planned maintenance: {{ incident.title }}",
    UpdateKind.START: "Planned maintenance started: {{ incident.title }}",
    UpdateKind.END: "Planned maintenance completed: {{ incident.title }}",
    UpdateKind.RESCHEDULE: "Planned maintenance moved: {{ incident.title }}",
    UpdateKind.CANCELLATION: "Planned maintenance cancelled: {{ incident.title }}",
    UpdateKind.WIDENING: "{{ incident.title }}",
}
_SHORT_TITLE = "{{ incident.title|truncatechars:60 }}"
DEFAULT_SMS = {
    UpdateKind.DECLARATION: _SHORT_TITLE + ": {{ incident.status }}.",
    UpdateKind.UPDATE: _SHORT_TITLE + ": {{ incident.status }}.",
    UpdateKind.WIDENING: _SHORT_TITLE + ": {{ incident.status }}.",
    UpdateKind.RESOLUTION: _SHORT_TITLE + ": resolved, service is back.",
    UpdateKind.ANNOUNCEMENT: "Planned maintenance "
    + _SHORT_TITLE
    + ": {{ incident.scheduled_start }} to {{ incident.scheduled_end }}.",
    UpdateKind.REMINDER: "Reminder: maintenance "
    + _SHORT_TITLE
    + " starts {{ incident.scheduled_start }}.",
    UpdateKind.START: "Maintenance "
    + _SHORT_TITLE
    + " has started, ends by {{ incident.scheduled_end }}.",
    UpdateKind.END: "Maintenance " + _SHORT_TITLE + " is complete.",
    UpdateKind.RESCHEDULE: "Maintenance "
    + _SHORT_TITLE
    + " moved: {{ incident.scheduled_start }} to {{ incident.scheduled_end }}.",
    UpdateKind.CANCELLATION: "Maintenance " + _SHORT_TITLE + " is cancelled.",
}
DEFAULT_CANCELLATION_BODY = (
    "Planned maintenance \u201c{{ incident.title }}\u201d is cancelled; "
    "your service will not be interrupted."
)
DEFAULT_RESCHEDULE_BODY = (
    "Planned maintenance \u201c{{ incident.title }}\u201d has moved: it now starts at "
    "{{ incident.scheduled_start }} and should end by {{ incident.scheduled_end }}."
)
DEFAULT_RESOLUTION_BODY = (
    "\u201c{{ incident.title }}\u201d is resolved and your service should work normally."
)
DEFAULT_RCA_TITLE = "Root cause: {{ incident.title }}"
DEFAULT_RCA_SMS = "Root cause of " + _SHORT_TITLE + " is published; see your email."


def _log(incident: Incident, event: str, **extra) -> None:
    logger.info(
        "incident %s",
        event,
        extra={"incident_id": incident.pk, "status": incident.status, **extra},
    )


# --- validation ---------------------------------------------------------------------------------


def scope_is_empty(scope: dict | None) -> bool:
    scope = scope or {}
    return not any(scope.get(field) for field in (*AUDIENCE_FIELDS, "customer_ids"))


def _require_scope(scope: dict | None) -> None:
    if scope_is_empty(scope):
        raise ValidationError(
            {
                "scope": [
                    "Name who is affected: a site, service type, location, tag, "
                    "operator code or customer ids (an empty scope would mean every customer)."
                ]
            }
        )


def sms_segments(*, incident: Incident, sms_body: str) -> int:
    """How many segments the short text takes for a sample customer."""
    compiled = templating.notification_compile(title="", body=sms_body)
    context = templating.render_context(
        customer=templating.SAMPLE_CUSTOMER,
        start_at=None,
        end_at=None,
        incident=templating.incident_values(incident),
    )
    return sms_size(templating.render(compiled, context).text).segments


def _check_texts(
    *, incident: Incident, body: str, sms_body: str, title: str = "", explicit_sms: bool
) -> None:
    """The notice's templates compile, name no empty incident value and the
    SMS fits in two segments: 400 naming the field otherwise."""
    notifications.notification_validate_templates(
        title=title or "{{ incident.title }}",
        body=body,
        sms_body=sms_body,
        incident=templating.incident_values(incident),
    )
    if explicit_sms and "sms" in (incident.channels or []):
        segments = sms_segments(incident=incident, sms_body=sms_body)
        if segments > SMS_SEGMENT_LIMIT:
            raise ValidationError(
                {
                    "sms_body": [
                        f"The SMS text takes {segments} segments; keep it within "
                        f"{SMS_SEGMENT_LIMIT} (306 plain characters, or 134 with accents "
                        "or other alphabets)."
                    ]
                }
            )


# --- the frozen audience ------------------------------------------------------------------------


def _audience_add(*, incident: Incident, scope: dict, now: datetime.datetime) -> int:
    """Freeze the scope's customers into IncidentCustomer rows with one
    INSERT … SELECT; customers already in the audience are left alone.
    Returns the number of customers added."""
    qn = connection.ops.quote_name
    customers = customer_audience(audience=scope).order_by().values("pk")
    subquery, params = customers.query.sql_with_params()
    sql = f"""
        INSERT INTO {qn(IncidentCustomer._meta.db_table)} (incident_id, customer_id, added_at)
        SELECT %s, c.id, %s FROM {qn(Customer._meta.db_table)} c
        WHERE c.id IN ({subquery})
        ON CONFLICT DO NOTHING
    """  # noqa: S608 - only quoted identifiers are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [incident.pk, connection.ops.adapt_datetimefield_value(now), *params])
        return max(cursor.rowcount, 0)


# A scope up to this size is frozen inside the declaring request; a larger
# one by the first notice's task (or the beat sweep), so declaring an outage
# over 100,000 customers answers at once.
INLINE_FREEZE_LIMIT = 2000


def incident_audience_freeze(*, incident_id: int) -> int:
    """Write the scope's customers into the frozen audience, once (as of the
    declaration). Returns the number of customers added."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if incident.audience_frozen_at is not None:
            return 0
        added = _audience_add(incident=incident, scope=incident.scope, now=incident.created_at)
        incident.audience_frozen_at = timezone.now()
        incident.save(update_fields=["audience_frozen_at"])
        if added > 10 * INLINE_FREEZE_LIMIT and connection.vendor == "postgresql":
            # The next statements join these rows; plan them with their real size.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {IncidentCustomer._meta.db_table}")
    _log(incident, "audience frozen", affected=added)
    return added


def incident_notice_audience(*, notification, materialising: bool = False):
    """The notifications app's hook: who an incident's notice is for. A
    notice about to be materialised freezes a still-unfrozen audience first;
    a count before then reads the scope itself."""
    frozen = Incident.objects.filter(
        pk=notification.incident_id, audience_frozen_at__isnull=False
    ).exists()
    if not frozen:
        if materialising:
            incident_audience_freeze(incident_id=notification.incident_id)
        else:
            scope = Incident.objects.values_list("scope", flat=True).get(
                pk=notification.incident_id
            )
            return customer_audience(audience=scope)
    return selectors.incident_notice_customers(notification=notification)


def incident_audience_freeze_late(*, now: datetime.datetime) -> int:
    """Beat: freeze the audiences no task froze within a minute (a lost
    task, or a large scope declared without a notice)."""
    stale = Incident.objects.filter(
        audience_frozen_at__isnull=True, created_at__lt=now - datetime.timedelta(seconds=60)
    ).values_list("pk", flat=True)
    return sum(incident_audience_freeze(incident_id=pk) for pk in list(stale))


# --- notices ------------------------------------------------------------------------------------


def _notice(
    incident: Incident,
    *,
    kind: str,
    body: str,
    sms_body: str,
    created_by,
    start_at: datetime.datetime | None = None,
    end_at: datetime.datetime | None = None,
    update: IncidentUpdate | None = None,
    title: str | None = None,
    notification_kind: str | None = None,
) -> Notification:
    """Create one notice as a notification of the incident and send it (at
    once, or at `start_at`). `update` is linked before it is sent, so the
    audience hook can tell who it is for."""
    notification = notifications.notification_create(
        created_by=created_by,
        title=title or NOTICE_TITLES[kind],
        body=body,
        sms_body=sms_body or DEFAULT_SMS.get(kind, ""),
        kind=notification_kind or incident.kind,
        channels=list(incident.channels),
        audience=dict(incident.scope),
        start_at=start_at,
        end_at=end_at,
        respect_contact_window=incident.respect_contact_window,
        incident=incident,
    )
    if update is not None:
        update.notification = notification
        update.save(update_fields=["notification"])
    notifications.notification_send(notification=notification, exact_count=False)
    return notification


def _record_update(
    incident: Incident,
    *,
    kind: str,
    body: str,
    sms_body: str = "",
    created_by=None,
    now: datetime.datetime,
) -> IncidentUpdate:
    return IncidentUpdate.objects.create(
        incident=incident,
        kind=kind,
        status=incident.status,
        body=body,
        sms_body=sms_body,
        eta=incident.eta,
        created_by=created_by,
        created_at=now,
    )


def _post(
    incident: Incident,
    *,
    kind: str,
    body: str,
    sms_body: str,
    created_by,
    notify: bool,
    now: datetime.datetime,
) -> IncidentUpdate:
    update = _record_update(
        incident, kind=kind, body=body, sms_body=sms_body, created_by=created_by, now=now
    )
    if notify:
        _notice(
            incident,
            kind=kind,
            body=body,
            sms_body=sms_body,
            created_by=created_by,
            update=update,
        )
    return update


# --- declaring ----------------------------------------------------------------------------------


@transaction.atomic
def incident_declare(
    *,
    created_by,
    kind: str,
    title: str,
    scope: dict,
    body: str,
    sms_body: str = "",
    notify: bool = True,
    now: datetime.datetime | None = None,
    **fields,
) -> Incident:
    """Declare an outage or announce a maintenance: the audience is frozen
    now; an outage's first notice (unless a draft) or a maintenance's
    announcement goes at once, and a maintenance's reminder, start and end
    notices are scheduled."""
    now = now or timezone.now()
    _require_scope(scope)
    incident = Incident(kind=kind, title=title, scope=scope, created_by=created_by, **fields)
    incident.created_at = now
    if not incident.channels:
        incident.channels = ["email"]
    if kind == Kind.OUTAGE:
        _prepare_outage(incident, now=now)
    else:
        _prepare_maintenance(incident, now=now)
    _check_texts(incident=incident, body=body, sms_body=sms_body, explicit_sms=bool(sms_body))
    incident.save()
    small = customer_audience(audience=scope).order_by()[: INLINE_FREEZE_LIMIT + 1].count()
    if small <= INLINE_FREEZE_LIMIT:
        incident_audience_freeze(incident_id=incident.pk)
        incident.refresh_from_db(fields=["audience_frozen_at"])
    _log(incident, "declared")
    if kind == Kind.OUTAGE:
        first = UpdateKind.DECLARATION
        _post(
            incident,
            kind=first,
            body=body,
            sms_body=sms_body,
            created_by=created_by,
            notify=notify and incident.status != Status.DRAFT,
            now=now,
        )
    else:
        _post(
            incident,
            kind=UpdateKind.ANNOUNCEMENT,
            body=body,
            sms_body=sms_body,
            created_by=created_by,
            notify=notify,
            now=now,
        )
        _schedule_automatic_notices(incident, created_by=created_by, now=now)
    return incident


def _prepare_outage(incident: Incident, *, now: datetime.datetime) -> None:
    status = incident.status or Status.INVESTIGATING
    if status not in (Status.DRAFT, *UPDATE_STATUSES):
        raise ValidationError(
            {"status": ["An outage starts as draft, investigating, identified or monitoring."]}
        )
    incident.status = status
    incident.started_at = incident.started_at or now
    incident.scheduled_start = incident.scheduled_end = None
    incident.reminder_minutes_before = None


def _prepare_maintenance(incident: Incident, *, now: datetime.datetime) -> None:
    start, end = incident.scheduled_start, incident.scheduled_end
    errors = {}
    if start is None:
        errors["scheduled_start"] = ["Give the maintenance window's start."]
    elif start <= now:
        errors["scheduled_start"] = ["The maintenance must start in the future."]
    if end is None:
        errors["scheduled_end"] = ["Give the maintenance window's end."]
    elif start is not None and end <= start:
        errors["scheduled_end"] = ["The maintenance must end after it starts."]
    if errors:
        raise ValidationError(errors)
    incident.status = Status.SCHEDULED
    incident.started_at = None
    incident.eta = None


def _schedule_automatic_notices(incident: Incident, *, created_by, now: datetime.datetime) -> None:
    """The reminder (never after the start), the start notice and the end
    notice, scheduled as notifications: their state is in the database, so a
    restart of beat or a worker loses none. A reminder the contact window
    holds back expires at the start, a start notice at the end."""
    start, end = incident.scheduled_start, incident.scheduled_end
    notices = [
        ("start_notification", UpdateKind.START, incident.start_body, start, end),
        ("end_notification", UpdateKind.END, incident.end_body, end, None),
    ]
    if incident.reminder_minutes_before:
        remind_at = start - datetime.timedelta(minutes=incident.reminder_minutes_before)
        if remind_at > now:
            notices.insert(
                0,
                (
                    "reminder_notification",
                    UpdateKind.REMINDER,
                    incident.reminder_body,
                    remind_at,
                    start,
                ),
            )
    for field, kind, body, start_at, end_at in notices:
        notice = _notice(
            incident,
            kind=kind,
            body=body,
            sms_body="",
            created_by=created_by,
            start_at=start_at,
            end_at=end_at,
        )
        setattr(incident, field, notice)
    incident.save(update_fields=["reminder_notification", "start_notification", "end_notification"])


# --- outage updates and resolution --------------------------------------------------------------


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _require_active(incident: Incident, action: str) -> None:
    if incident.status in Incident.FINISHED_STATUSES:
        raise Conflict(f"The incident is already {incident.status}; it cannot be {action}.")


@transaction.atomic
def incident_update_post(
    *,
    incident: Incident,
    created_by,
    body: str,
    status: str | None = None,
    eta: datetime.datetime | None = None,
    eta_given: bool = False,
    sms_body: str = "",
    notify: bool = True,
    now: datetime.datetime | None = None,
) -> IncidentUpdate:
    """Post an update (new status, text, ETA) and tell the audience. The
    first update of a draft is its first notice."""
    now = now or timezone.now()
    incident = _locked(incident)
    _require_active(incident, "updated")
    if incident.kind == Kind.OUTAGE:
        target = status or (
            Status.INVESTIGATING if incident.status == Status.DRAFT else incident.status
        )
        if target not in UPDATE_STATUSES:
            raise ValidationError(
                {
                    "status": [
                        "An update's status is investigating, identified or monitoring; "
                        "resolve the outage with the resolve action."
                    ]
                }
            )
        if OUTAGE_ORDER.index(target) < OUTAGE_ORDER.index(incident.status):
            raise Conflict(
                f"The outage is already {incident.status}; its status only moves forward."
            )
        incident.status = target
    elif status and status != incident.status:
        raise ValidationError(
            {
                "status": [
                    "A maintenance's status follows its window; use complete or cancel to end it."
                ]
            }
        )
    if eta_given:
        incident.eta = eta
    _check_texts(incident=incident, body=body, sms_body=sms_body, explicit_sms=bool(sms_body))
    incident.save(update_fields=["status", "eta", "updated_at"])
    update = _post(
        incident,
        kind=UpdateKind.UPDATE,
        body=body,
        sms_body=sms_body,
        created_by=created_by,
        notify=notify,
        now=now,
    )
    _log(incident, "updated", notified=notify)
    return update


@transaction.atomic
def incident_resolve(
    *,
    incident: Incident,
    created_by,
    body: str = "",
    sms_body: str = "",
    notify: bool = True,
    now: datetime.datetime | None = None,
) -> IncidentUpdate:
    """The outage is over: a resolution notice to the audience (it replaces
    any earlier notice still held back), linked open tickets resolved with
    it."""
    now = now or timezone.now()
    incident = _locked(incident)
    if incident.kind != Kind.OUTAGE:
        raise Conflict("A maintenance ends with complete, not resolve.")
    if incident.status == Status.RESOLVED:
        raise Conflict("The outage is already resolved.")
    if incident.status == Status.CANCELLED:
        raise Conflict("The outage was cancelled.")
    was_announced = incident.status != Status.DRAFT
    incident.status = Status.RESOLVED
    incident.resolved_at = now
    body = body or DEFAULT_RESOLUTION_BODY
    _check_texts(incident=incident, body=body, sms_body=sms_body, explicit_sms=bool(sms_body))
    incident.save(update_fields=["status", "resolved_at", "updated_at"])
    update = _post(
        incident,
        kind=UpdateKind.RESOLUTION,
        body=body,
        sms_body=sms_body,
        created_by=created_by,
        notify=notify and was_announced,
        now=now,
    )
    hooks.incident_resolved.send(incident=incident, actor=created_by)
    _log(incident, "resolved")
    return update


# --- changes: text, ETA, scope, window ----------------------------------------------------------

CHANGEABLE_FIELDS = (
    "title",
    "impact",
    "eta",
    "public",
    "reminder_body",
    "start_body",
    "end_body",
)


@transaction.atomic
def incident_change(
    *, incident: Incident, data: dict, changed_by, now: datetime.datetime | None = None
) -> Incident:
    """PATCH: plain fields; `scope` widens the frozen audience (never
    narrows it) and tells the newly affected customers the latest status;
    `scheduled_start`/`scheduled_end` move a maintenance window."""
    now = now or timezone.now()
    incident = _locked(incident)
    for name in CHANGEABLE_FIELDS:
        if name in data:
            setattr(incident, name, data[name])
    window_moved = False
    if "scheduled_start" in data or "scheduled_end" in data:
        window_moved = _move_window(incident, data=data, now=now)
    if "scope" in data:
        _require_scope(data["scope"])
        if incident.status in Incident.FINISHED_STATUSES:
            raise Conflict(f"The incident is {incident.status}; its scope can no longer change.")
        incident.scope = data["scope"]
    for field, source in (
        ("reminder_body", incident.reminder_body),
        ("start_body", incident.start_body),
        ("end_body", incident.end_body),
    ):
        if field in data:
            try:
                notifications.notification_validate_templates(
                    title="", body=source, incident=templating.incident_values(incident)
                )
            except ValidationError as exc:
                raise ValidationError({field: exc.detail.get("body", exc.detail)}) from exc
    incident.save()
    if "scope" in data:
        _widen(incident, changed_by=changed_by, now=now)
    if window_moved:
        _reschedule_automatic_notices(incident, changed_by=changed_by, now=now)
    if any(f in data for f in ("reminder_body", "start_body", "end_body")):
        _refresh_automatic_texts(incident)
    return incident


def _widen(incident: Incident, *, changed_by, now: datetime.datetime) -> None:
    if incident.audience_frozen_at is None:
        incident_audience_freeze(incident_id=incident.pk)
    added = _audience_add(incident=incident, scope=incident.scope, now=now)
    _log(incident, "scope widened", added=added)
    if not added or incident.status == Status.DRAFT:
        return
    latest = (
        IncidentUpdate.objects.filter(incident=incident, notification__isnull=False)
        .exclude(kind__in=(UpdateKind.SUGGESTION, UpdateKind.WIDENING))
        .order_by("-created_at", "-id")
        .first()
    )
    if latest is None:
        return
    _post(
        incident,
        kind=UpdateKind.WIDENING,
        body=latest.body,
        sms_body=latest.sms_body,
        created_by=changed_by,
        notify=True,
        now=now,
    )


def _move_window(incident: Incident, *, data: dict, now: datetime.datetime) -> bool:
    if incident.kind != Kind.MAINTENANCE:
        raise ValidationError(
            {"scheduled_start": ["Only a planned maintenance has a window to move."]}
        )
    if incident.status not in (Status.SCHEDULED, Status.IN_PROGRESS):
        raise Conflict(f"The maintenance is {incident.status}; its window can no longer move.")
    start = data.get("scheduled_start", incident.scheduled_start)
    end = data.get("scheduled_end", incident.scheduled_end)
    if start is None or end is None:
        raise ValidationError(
            {"scheduled_start": ["A maintenance window needs a start and an end."]}
        )
    if start != incident.scheduled_start:
        if incident.status == Status.IN_PROGRESS:
            raise Conflict("The maintenance has started; only its end can move.")
        if start <= now:
            raise ValidationError({"scheduled_start": ["The new start must be in the future."]})
    if end <= start:
        raise ValidationError({"scheduled_end": ["The maintenance must end after it starts."]})
    if end != incident.scheduled_end and end <= now:
        raise ValidationError({"scheduled_end": ["The new end must be in the future."]})
    moved = (start, end) != (incident.scheduled_start, incident.scheduled_end)
    incident.scheduled_start, incident.scheduled_end = start, end
    return moved


def _waiting(notification_id: int | None) -> Notification | None:
    """An automatic notice still waiting for its time, locked."""
    if notification_id is None:
        return None
    return (
        Notification.objects.select_for_update()
        .filter(pk=notification_id, status=Notification.Status.SCHEDULED)
        .first()
    )


def _reschedule_automatic_notices(
    incident: Incident, *, changed_by, now: datetime.datetime
) -> None:
    """Move the waiting automatic notices with the window, and tell those
    already told where the window went."""
    start, end = incident.scheduled_start, incident.scheduled_end
    reminder = _waiting(incident.reminder_notification_id)
    if reminder is not None:
        remind_at = start - datetime.timedelta(minutes=incident.reminder_minutes_before or 0)
        if remind_at <= now:
            # Its moment has passed; the rescheduling notice says it all.
            notifications.notification_cancel(notification=reminder)
        else:
            Notification.objects.filter(pk=reminder.pk).update(
                start_at=remind_at, end_at=start, updated_at=now
            )
    notice = _waiting(incident.start_notification_id)
    if notice is not None:
        Notification.objects.filter(pk=notice.pk).update(start_at=start, end_at=end, updated_at=now)
    notice = _waiting(incident.end_notification_id)
    if notice is not None:
        Notification.objects.filter(pk=notice.pk).update(start_at=end, updated_at=now)
    _post(
        incident,
        kind=UpdateKind.RESCHEDULE,
        body=DEFAULT_RESCHEDULE_BODY,
        sms_body="",
        created_by=changed_by,
        notify=True,
        now=now,
    )
    _log(incident, "window moved", start=start.isoformat(), end=end.isoformat())


def _refresh_automatic_texts(incident: Incident) -> None:
    for notification_id, body in (
        (incident.reminder_notification_id, incident.reminder_body),
        (incident.start_notification_id, incident.start_body),
        (incident.end_notification_id, incident.end_body),
    ):
        if notification_id:
            Notification.objects.filter(
                pk=notification_id, status=Notification.Status.SCHEDULED
            ).update(body=body)


# --- maintenance: automation, complete, cancel --------------------------------------------------


def _cancel_waiting_notices(incident: Incident, *, keep_end: bool = False) -> None:
    ids = [incident.reminder_notification_id, incident.start_notification_id]
    if not keep_end:
        ids.append(incident.end_notification_id)
    for notification_id in ids:
        notification = _waiting(notification_id)
        if notification is not None:
            notifications.notification_cancel(notification=notification)


def incident_maintenance_advance(*, now: datetime.datetime | None = None) -> int:
    """Beat: maintenance whose start has come is `in_progress`, whose end
    has come `completed`. Each step is taken once, by a conditional UPDATE on
    the status, so overlapping beats and restarts are harmless. (The notices
    themselves are scheduled notifications, started by the notifications
    beat.) Returns the number of steps taken."""
    now = now or timezone.now()
    incident_audience_freeze_late(now=now)
    steps = _advance(
        Status.SCHEDULED,
        Status.IN_PROGRESS,
        due=Q(scheduled_start__lte=now),
        stamp={"started_at": F("scheduled_start")},
        kind=UpdateKind.START,
        now=now,
    )
    return steps + _advance(
        Status.IN_PROGRESS,
        Status.COMPLETED,
        due=Q(scheduled_end__lte=now),
        stamp={"resolved_at": F("scheduled_end")},
        kind=UpdateKind.END,
        now=now,
    )


def _advance(
    current: str, target: str, *, due: Q, stamp: dict, kind: str, now: datetime.datetime
) -> int:
    """Move each due maintenance from `current` to `target` once (a
    conditional UPDATE), recording the automatic update."""
    steps = 0
    due_ids = Incident.objects.filter(due, kind=Kind.MAINTENANCE, status=current)
    for pk in list(due_ids.values_list("pk", flat=True)):
        with transaction.atomic():
            if Incident.objects.filter(pk=pk, status=current).update(
                status=target, updated_at=now, **stamp
            ):
                _record_automatic(Incident.objects.get(pk=pk), kind=kind, now=now)
                steps += 1
    return steps


def _record_automatic(
    incident: Incident, *, kind: str, now: datetime.datetime, created_by=None
) -> None:
    notification_id = (
        incident.start_notification_id if kind == UpdateKind.START else incident.end_notification_id
    )
    body = incident.start_body if kind == UpdateKind.START else incident.end_body
    update = _record_update(incident, kind=kind, body=body, now=now, created_by=created_by)
    if notification_id:
        update.notification_id = notification_id
        update.save(update_fields=["notification"])
    _log(incident, "maintenance " + kind)


@transaction.atomic
def incident_complete(
    *, incident: Incident, created_by, now: datetime.datetime | None = None
) -> Incident:
    """End a maintenance now (early): the end notice goes at once."""
    now = now or timezone.now()
    incident = _locked(incident)
    if incident.kind != Kind.MAINTENANCE:
        raise Conflict("An outage ends with resolve, not complete.")
    _require_active(incident, "completed")
    _cancel_waiting_notices(incident, keep_end=True)
    incident.status = Status.COMPLETED
    incident.started_at = incident.started_at or now
    incident.resolved_at = now
    incident.save(update_fields=["status", "started_at", "resolved_at", "updated_at"])
    end_notice = _waiting(incident.end_notification_id)
    if end_notice is not None:
        Notification.objects.filter(pk=end_notice.pk).update(start_at=now, updated_at=now)
        end_notice.refresh_from_db()
        notifications.notification_send(notification=end_notice)
    _record_automatic(incident, kind=UpdateKind.END, now=now, created_by=created_by)
    return incident


@transaction.atomic
def incident_cancel(
    *,
    incident: Incident,
    created_by,
    body: str = "",
    sms_body: str = "",
    now: datetime.datetime | None = None,
) -> Incident:
    """Call off a maintenance not yet completed: its waiting automatic
    notices are cancelled and everyone already told hears of it. A draft
    outage (a false alarm) may be cancelled too; it told nobody."""
    now = now or timezone.now()
    incident = _locked(incident)
    if incident.kind == Kind.OUTAGE and incident.status != Status.DRAFT:
        raise Conflict("An announced outage ends with resolve, not cancel.")
    _require_active(incident, "cancelled")
    body = body or DEFAULT_CANCELLATION_BODY
    if incident.kind == Kind.MAINTENANCE:
        _check_texts(incident=incident, body=body, sms_body=sms_body, explicit_sms=bool(sms_body))
    # Whatever has not reached a customer yet would now be wrong: it is
    # cancelled, and the cancellation goes to those who were told.
    for notification in Notification.objects.filter(
        incident=incident,
        status__in=(Notification.Status.SCHEDULED, Notification.Status.SENDING),
    ):
        notifications.notification_cancel(notification=notification)
    incident.status = Status.CANCELLED
    incident.resolved_at = now
    incident.save(update_fields=["status", "resolved_at", "updated_at"])
    _post(
        incident,
        kind=UpdateKind.CANCELLATION,
        body=body,
        sms_body=sms_body,
        created_by=created_by,
        notify=incident.kind == Kind.MAINTENANCE,
        now=now,
    )
    _log(incident, "cancelled")
    return incident


@transaction.atomic
def incident_delete(*, incident: Incident, deleted_by) -> None:
    """Delete a draft (a false alarm from monitoring, say) that never told
    anyone; an announced incident stays on the record. Written to the audit
    log (the admin's history) and the application log."""
    from django.contrib.admin.models import DELETION, LogEntry

    from delivery.models import Message

    incident = _locked(incident)
    if incident.status != Status.DRAFT:
        raise Conflict(
            f"{incident.number} is {incident.status}, not a draft; only a draft that told "
            "nobody can be deleted. Resolve, complete or cancel it instead."
        )
    if Message.objects.filter(notification__incident=incident).exists():
        raise Conflict(
            f"{incident.number} has notices with messages to customers; it stays on the "
            "record. Cancel it instead."
        )
    LogEntry.objects.log_actions(
        user_id=deleted_by.pk,
        queryset=[incident],
        action_flag=DELETION,
        change_message=f"Deleted the draft {incident.number} “{incident.title}”.",
        single_object=True,
    )
    _log(incident, "deleted", deleted_by=deleted_by.pk, title=incident.title)
    Notification.objects.filter(incident=incident).delete()
    incident.delete()


# --- root cause ---------------------------------------------------------------------------------


@transaction.atomic
def incident_rca_publish(
    *,
    incident: Incident,
    created_by,
    body: str,
    title: str = "",
    sms_body: str = "",
    now: datetime.datetime | None = None,
) -> Incident:
    """The root-cause report, to exactly the customers who were sent at
    least one notice of the incident."""
    now = now or timezone.now()
    incident = _locked(incident)
    if incident.status not in (Status.RESOLVED, Status.COMPLETED):
        raise Conflict(
            "Publish the root cause once the incident is resolved or completed; "
            f"it is {incident.status}."
        )
    if incident.rca_published_at is not None:
        raise Conflict("The root-cause report is already published.")
    _check_texts(
        incident=incident,
        body=body,
        sms_body=sms_body,
        title=title,
        explicit_sms=bool(sms_body),
    )
    notification = _notice(
        incident,
        kind=UpdateKind.UPDATE,
        title=title or DEFAULT_RCA_TITLE,
        body=body,
        sms_body=sms_body or DEFAULT_RCA_SMS,
        created_by=created_by,
        notification_kind=Notification.Kind.RCA,
    )
    incident.rca_title = title
    incident.rca_body = body
    incident.rca_published_at = now
    incident.rca_notification = notification
    incident.save(
        update_fields=[
            "rca_title",
            "rca_body",
            "rca_published_at",
            "rca_notification",
            "updated_at",
        ]
    )
    _log(incident, "root cause published")
    return incident


# --- portal -------------------------------------------------------------------------------------


def incident_record_deflection(*, incident: Incident) -> None:
    """A customer saw "we already know about this outage" and did not raise
    a ticket. One atomic increment, safe under concurrent visitors."""
    Incident.objects.filter(pk=incident.pk).update(deflected_count=F("deflected_count") + 1)


# --- alarms from monitoring ---------------------------------------------------------------------

UNKNOWN_SITE = "unknown site"


def _alert_entry(alert: dict, *, site: str, known: bool, now: datetime.datetime) -> dict:
    labels = alert.get("labels") or {}
    return {
        "fingerprint": str(alert.get("fingerprint") or ""),
        "status": alert.get("status") or "firing",
        "alertname": str(labels.get("alertname", "")),
        "site": site,
        "note": "" if known else UNKNOWN_SITE,
        "labels": {str(k): str(v) for k, v in labels.items()},
        "starts_at": str(alert.get("startsAt") or ""),
        "ends_at": str(alert.get("endsAt") or ""),
        "received_at": now.isoformat(),
    }


def _alert_key(entry: dict) -> str:
    return entry["fingerprint"] or f"{entry['alertname']}@{entry['site']}"


def _open_draft(group_key: str) -> Incident | None:
    return (
        Incident.objects.select_for_update()
        .filter(alert_group_key=group_key, kind=Kind.OUTAGE, status=Status.DRAFT)
        .order_by("-id")
        .first()
    )


def _alarm_title(payload: dict, alerts: list[dict]) -> str:
    common = payload.get("commonAnnotations") or {}
    labels = payload.get("commonLabels") or {}
    first = alerts[0].get("labels") or {} if alerts else {}
    name = common.get("summary") or labels.get("alertname") or first.get("alertname") or "Alarm"
    return f"Alarm: {name}"[:200]


@transaction.atomic
def incident_alerts_receive(*, payload: dict, now: datetime.datetime | None = None) -> dict:
    """An Alertmanager (webhook v4) notification: firing alerts with a
    `site` label open a draft outage for the site's subtree, or add the site
    to the open draft of the same alert group (a repeated alert changes
    nothing); an alert naming an unknown site is kept on the draft as
    "unknown site"; resolved alerts become a suggested "monitoring" update.
    Nothing is sent: an engineer confirms the draft by posting its first
    update."""
    from customers.models import Site

    now = now or timezone.now()
    group_key = str(payload.get("groupKey") or "")[:500]
    alerts = [a for a in payload.get("alerts") or [] if isinstance(a, dict)]
    firing = [a for a in alerts if (a.get("status") or "firing") == "firing"]
    resolved = [a for a in alerts if a.get("status") == "resolved"]
    codes = {str((a.get("labels") or {}).get("site", "")) for a in alerts} - {""}
    known = set(Site.objects.filter(code__in=codes).values_list("code", flat=True))
    incident = _open_draft(group_key) if group_key else None
    created = False
    if incident is None and firing:
        incident = Incident(
            kind=Kind.OUTAGE,
            status=Status.DRAFT,
            title=_alarm_title(payload, firing),
            scope={"last_mile_site": []},
            channels=["email"],
            alert_group_key=group_key,
            started_at=now,
            created_at=now,
            audience_frozen_at=now,
        )
        incident.save()
        created = True
    if incident is None:
        # Only resolved alerts, and no draft: attach to the newest open incident of the group.
        incident = (
            Incident.objects.select_for_update()
            .filter(alert_group_key=group_key, kind=Kind.OUTAGE)
            .exclude(status__in=Incident.FINISHED_STATUSES)
            .order_by("-id")
            .first()
            if group_key
            else None
        )
    if incident is None:
        return {"incident": None, "created": False, "sites_added": [], "unknown_sites": []}
    entries = {_alert_key(e): e for e in incident.alerts or []}
    sites = list((incident.scope or {}).get("last_mile_site") or [])
    added_sites, unknown = [], []
    for alert in firing:
        site = str((alert.get("labels") or {}).get("site", ""))
        entry = _alert_entry(alert, site=site, known=site in known, now=now)
        entries[_alert_key(entry)] = entry
        if site and site not in known and site not in unknown:
            unknown.append(site)
        if site in known and site not in sites and incident.status == Status.DRAFT:
            sites.append(site)
            added_sites.append(site)
    suggestions = []
    for alert in resolved:
        site = str((alert.get("labels") or {}).get("site", ""))
        entry = _alert_entry(alert, site=site, known=site in known, now=now)
        key = _alert_key(entry)
        if entries.get(key, {}).get("status") == "resolved":
            continue  # a repeated resolution
        entries[key] = entry
        where = f" at {site}" if site else ""
        suggestions.append(
            f"Monitoring reports {entry['alertname'] or 'the alarm'}{where} resolved"
            f"{' at ' + entry['ends_at'] if entry['ends_at'] else ''}; "
            "check the service and resolve the outage if it is back."
        )
    incident.alerts = list(entries.values())
    if added_sites:
        incident.scope = {**(incident.scope or {}), "last_mile_site": sites}
    incident.save(update_fields=["alerts", "scope", "updated_at"])
    if added_sites:
        _audience_add(incident=incident, scope={"last_mile_site": added_sites}, now=now)
    for text in suggestions:
        IncidentUpdate.objects.create(
            incident=incident,
            kind=UpdateKind.SUGGESTION,
            status=Status.MONITORING,
            body=text,
            eta=incident.eta,
            created_at=now,
        )
    _log(incident, "alarm received", opened=created, sites_added=added_sites, unknown=unknown)
    return {
        "incident": incident.pk,
        "created": created,
        "sites_added": added_sites,
        "unknown_sites": unknown,
    }
