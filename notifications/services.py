"""Notification rules: editing, scheduling, starting (materialising the
audience into Message rows), cancelling, finishing, test sends, the daily
report."""

import datetime
import logging
import time
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from config.exceptions import Conflict
from customers.models import Customer
from customers.selectors import EMPTY_AUDIENCE, audience_is_empty
from delivery import services as delivery
from delivery.models import OPEN_STATUSES, Channel, Message, MessageStatus
from notifications import templating
from notifications.models import Notification
from notifications.selectors import notification_audience

logger = logging.getLogger("proactive.notifications")

# Audiences up to this size are written inside the request (a few ms);
# larger ones by a task, so "send" always answers at once.
INLINE_MATERIALISE_LIMIT = 2000

Status = Notification.Status
# What a draft's author may change: what it says and to whom, then when.
CONTENT_FIELDS = (
    "title",
    "body",
    "body_html",
    "sms_body",
    "kind",
    "channels",
    "category",
    "fallback_channel",
    "audience",
)
TIMING_FIELDS = ("start_at", "end_at", "respect_contact_window")
EDITABLE_FIELDS = (*CONTENT_FIELDS, *TIMING_FIELDS)


def _log(notification: Notification, event: str, **extra) -> None:
    logger.info(
        "notification %s",
        event,
        extra={"notification_id": notification.pk, "status": notification.status, **extra},
    )


def notification_validate_templates(
    *,
    title: str,
    body: str,
    body_html: str = "",
    sms_body: str = "",
    end_at: datetime.datetime | None = None,
    incident: dict | None = None,
    check_values: bool = True,
) -> None:
    """Each template compiles, renders, and prints no variable that is empty
    here (`{{ end_at }}` without an end, `{{ incident.eta }}` without an ETA)."""
    available = templating.notification_available_values(
        start_at=True, end_at=end_at is not None, incident=incident
    )
    try:
        templating.notification_compile(title=title, body=body, body_html=body_html)
        if sms_body:
            templating.notification_compile(title=title, body=sms_body)
        if check_values:
            for field, source in (
                ("title", title),
                ("body", body),
                ("body_html", body_html),
                ("sms_body", sms_body),
            ):
                templating.template_require_values(field=field, source=source, available=available)
    except templating.TemplateInvalid as exc:
        raise ValidationError({exc.field: [exc.message]}) from exc


def notification_times_check(
    *,
    start_at: datetime.datetime | None,
    end_at: datetime.datetime | None,
    end_changed: bool = True,
) -> None:
    """The rules of a notification's end, wherever it is written (API,
    website, admin): an end being set lies in the future, and any end comes
    after the start. An end that passed since it was set is left alone until
    someone changes it."""
    if end_changed and end_at and end_at <= timezone.now():
        raise ValidationError({"end_at": ["end_at must be in the future."]})
    if start_at and end_at and end_at <= start_at:
        raise ValidationError({"end_at": ["end_at must be after start_at."]})


def _validate_notification(notification: Notification) -> None:
    notification_validate_templates(
        title=notification.title,
        body=notification.body,
        body_html=notification.body_html,
        sms_body=notification.sms_body,
        end_at=notification.end_at,
        incident=templating.incident_values(notification.incident)
        if notification.incident_id
        else None,
    )


def notification_create(*, created_by, **fields) -> Notification:
    _validate_notification(Notification(**fields))
    notification = Notification.objects.create(created_by=created_by, **fields)
    _log(notification, "created", user_id=getattr(created_by, "pk", None))
    return notification


def notification_require_editable(*, notification: Notification, action: str) -> None:
    if notification.status not in Notification.EDITABLE_STATUSES:
        raise Conflict(
            f"A {notification.status} notification cannot be {action}; "
            "only drafts and scheduled notifications can."
        )


@transaction.atomic
def notification_update(*, notification: Notification, **fields) -> Notification:
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    notification_require_editable(notification=notification, action="edited")
    for name, value in fields.items():
        if name in EDITABLE_FIELDS:
            setattr(notification, name, value)
    _validate_notification(notification)
    if notification.approved_at is not None:
        # An approval covers what was approved, not what it was edited into.
        notification.approved_by, notification.approved_at = None, None
        if notification.status == Status.SCHEDULED:
            size = notification_audience(notification=notification).count()
            if notification_needs_approval(notification=notification, audience_size=size):
                notification.status = Status.AWAITING_APPROVAL
    notification.save()
    _log(notification, "updated", fields=sorted(fields))
    return notification


@transaction.atomic
def notification_delete(*, notification: Notification) -> None:
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    notification_require_editable(notification=notification, action="deleted")
    _log(notification, "deleted")
    notification.delete()


@dataclass(frozen=True)
class SendResult:
    notification: Notification
    queued: int


def _start(notification: Notification, *, now: datetime.datetime) -> None:
    notification.status = Status.SENDING
    notification.started_at = now
    notification.save(update_fields=["status", "started_at", "updated_at"])
    _log(notification, "started")


NEVER_HELD_KINDS = (Notification.Kind.OUTAGE, Notification.Kind.MAINTENANCE, Notification.Kind.RCA)


def notification_needs_approval(*, notification: Notification, audience_size: int) -> bool:
    """The two-person rule: a general or marketing notification to every
    active customer, or to more than LARGE_SEND_THRESHOLD of them, waits for a
    second staff member. Outage, maintenance and RCA notices (and anything an
    incident sends) are never held."""
    if notification.approved_at is not None:
        return False
    if notification.kind in NEVER_HELD_KINDS or getattr(notification, "incident_id", None):
        return False
    every = (notification.audience or {}).get("all") is True
    return every or audience_size > settings.LARGE_SEND_THRESHOLD


@transaction.atomic
def notification_send(*, notification: Notification, exact_count: bool = True) -> SendResult:
    """Send to the notification's own audience: at `start_at` if that is in
    the future, else now; a large general send first waits for approval.
    `exact_count=False`: the caller does not need the audience's size, only
    whether it is small enough to write at once, so counting stops there
    (`queued` is then at most the limit + 1; incidents' notices, never held)."""
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    notification_require_editable(notification=notification, action="sent again")
    if notification.status == Status.AWAITING_APPROVAL:
        raise Conflict(
            "The notification is waiting for another staff member's approval.",
            code="awaiting_approval",
        )
    now = timezone.now()
    if notification.end_at and notification.end_at <= now:
        raise Conflict("The notification's end time has passed; move end_at before sending.")
    if notification.incident_id is None and audience_is_empty(audience=notification.audience):
        raise ValidationError({"audience": [EMPTY_AUDIENCE]})
    audience = notification_audience(notification=notification)
    if exact_count:
        queued = audience.count()
    else:
        queued = audience.order_by()[: INLINE_MATERIALISE_LIMIT + 1].count()
    if notification_needs_approval(notification=notification, audience_size=queued):
        notification.status = Status.AWAITING_APPROVAL
        notification.save(update_fields=["status", "updated_at"])
        _log(notification, "held for approval", audience=queued)
        return SendResult(notification=notification, queued=queued)
    return _go(notification, queued=queued, now=now)


@transaction.atomic
def notification_approve(*, notification: Notification, approver) -> SendResult:
    """A second staff member lets a held notification go (the creator may
    not approve their own); it then starts or is scheduled as sent."""
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.status != Status.AWAITING_APPROVAL:
        raise Conflict(
            f"Only a notification awaiting approval can be approved; this one is "
            f"{notification.status}.",
            code="not_awaiting_approval",
        )
    if notification.created_by_id is not None and notification.created_by_id == approver.pk:
        raise PermissionDenied(
            "You created this notification; another staff member must approve it.",
            code="own_notification",
        )
    now = timezone.now()
    if notification.end_at and notification.end_at <= now:
        raise Conflict("The notification's end time has passed; move end_at before approving.")
    notification.approved_by = approver
    notification.approved_at = now
    notification.save(update_fields=["approved_by", "approved_at", "updated_at"])
    _log(notification, "approved", approver_id=approver.pk)
    queued = notification_audience(notification=notification).count()
    return _go(notification, queued=queued, now=now)


def _go(notification: Notification, *, queued: int, now: datetime.datetime) -> SendResult:
    if notification.start_at and notification.start_at > now:
        notification.status = Status.SCHEDULED
        notification.save(update_fields=["status", "updated_at"])
        _log(notification, "scheduled", start_at=notification.start_at.isoformat())
        return SendResult(notification=notification, queued=queued)
    _start(notification, now=now)
    if queued <= INLINE_MATERIALISE_LIMIT:
        notification_materialise(notification=notification)
    else:
        from notifications.tasks import materialise_notification

        transaction.on_commit(lambda: _enqueue(materialise_notification, notification.pk))
    return SendResult(notification=notification, queued=queued)


def _enqueue(task, notification_id: int) -> None:
    # If the broker is down, start_due_notifications picks the notification
    # up on its next sweep, so losing this signal only costs time.
    try:
        task.delay(notification_id)
    except Exception as exc:
        logger.warning(
            "could not enqueue materialisation: %s", exc, extra={"notification_id": notification_id}
        )


@transaction.atomic
def notification_send_to_customers(
    *, notification: Notification, customer_ids: list[int]
) -> SendResult:
    """The seed's call: send this notification to exactly these customers,
    now. Customers already told are not told twice."""
    wanted = list(dict.fromkeys(int(i) for i in customer_ids))
    known = set(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise ValidationError(
            {"customers": [f"Unknown customer ids: {', '.join(map(str, unknown))}."]}
        )
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.status in (Status.CANCELLED, Status.EXPIRED):
        raise Conflict(f"A {notification.status} notification cannot be sent.")
    now = timezone.now()
    if notification.end_at and notification.end_at <= now:
        raise Conflict("The notification's end time has passed; move end_at before sending.")
    if notification.status != Status.SENDING:
        if notification.status in Notification.EDITABLE_STATUSES:
            notification.audience = {"customer_ids": wanted}
        _start(notification, now=now)
        notification.materialized_at = now
        notification.save(update_fields=["audience", "materialized_at", "updated_at"])
    delivery.messages_materialise(
        notification=notification,
        customers=Customer.objects.filter(pk__in=wanted),
        channels=notification.channels,
    )
    return SendResult(notification=notification, queued=len(wanted))


def notification_materialise(*, notification: Notification) -> int:
    """Freeze the audience into Message rows (set-based; idempotent), in
    parts by customer id, each committed on its own: the first
    MATERIALISE_FIRST_PART customers, handed to the dispatcher at once so the
    first message leaves while the rest are written, then the others. A run
    that stopped between parts (its worker died) is redone from the start
    by the scheduler's sweep, skipping the rows already there: nobody is
    materialised twice (the unique constraint stands guard), and a cancel
    between parts stops the rest. Returns the number of rows written."""
    written, after, first = 0, None, True
    while True:
        outcome = _materialise_part(notification, after=after, first=first)
        if outcome is None:  # cancelled meanwhile, or another run finished it
            return written
        rows, after, older = outcome
        written += rows
        if after is None:
            break
        if first:
            _dispatch_now()
        elif connection.vendor == "sqlite" and not connection.in_atomic_block:
            # One writer at a time holds the SQLite file: a worker's claim
            # waiting in its busy handler (which retries every 100 ms) gets
            # in before the next part takes the file again.
            time.sleep(MATERIALISE_SQLITE_PAUSE_SECONDS)
        first = False
    _log(notification, "materialised", messages=written)
    notification_finish_if_done(notification_ids=[notification.pk, *older])
    return written


# The first part of a large audience: small enough to write in a few tens of
# milliseconds, large enough to keep the workers busy while the rest is written.
MATERIALISE_FIRST_PART = INLINE_MATERIALISE_LIMIT
# Later parts: PostgreSQL writes them in one statement (the workers' claims
# never wait for it); SQLite in parts of this many customers with a pause
# between them, so a claim never waits for more than one part (about half a
# second on a small machine). Each part pays its own commit, its own pass to
# find where it ends and its own pause: parts of 20,000 made a 100,000-customer
# notice take 1.4 s to write instead of 0.8 s.
MATERIALISE_SQLITE_PART = 100_000
MATERIALISE_SQLITE_PAUSE_SECONDS = 0.11


def _materialise_part(
    notification: Notification, *, after: int | None, first: bool
) -> tuple[int, int | None, list[int]] | None:
    """Write, in one transaction, the audience's customers with an id above
    `after`, up to the part's size. Returns (rows written, the highest
    customer id of the part or None when it was the last, the ids of the
    older notices superseded), or None when there is nothing to do (no
    longer sending, or already materialised)."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        if notification.status != Status.SENDING or notification.materialized_at:
            return None
        audience = notification_audience(notification=notification, materialising=True)
        existing = Message.objects.filter(notification=notification)
        if after is not None:
            audience = audience.filter(pk__gt=after)
            existing = existing.filter(customer_id__gt=after)
        size = MATERIALISE_FIRST_PART if first else _later_part_size()
        upto = None
        if size is not None:
            # The part's last id, if anyone comes after it.
            edge = list(audience.order_by("pk").values_list("pk", flat=True)[size - 1 : size + 1])
            upto = edge[0] if len(edge) == 2 else None
        written = delivery.messages_materialise(
            notification=notification,
            customers=audience if upto is None else audience.filter(pk__lte=upto),
            channels=notification.channels,
            # The row lock keeps other materialisations out; the conflict
            # check is needed only if rows past `after` exist (a redone run).
            fresh=not existing.exists(),
        )
        last = upto is None
        older = _supersede_older_notices(notification, last=last) if first or last else []
        if last:
            notification.materialized_at = timezone.now()
            notification.save(update_fields=["materialized_at", "updated_at"])
        return written, upto, older


def _later_part_size() -> int | None:
    return None if connection.vendor == "postgresql" else MATERIALISE_SQLITE_PART


def _dispatch_now() -> None:
    """The first part is committed: drain tasks for it now, one broker hop
    sooner than the dispatcher's nudge. Losing this costs only latency."""
    try:
        delivery.message_dispatch_due()
    except Exception as exc:
        logger.warning("could not dispatch the first part: %s", exc)


def _supersede_older_notices(notification: Notification, *, last: bool) -> list[int]:
    """An incident's newer notice replaces whatever its older ones have not
    delivered yet (a root-cause report replaces nothing: it is news of its
    own). The materialising transaction supersedes the first range of their
    rows; after the last part a task does the rest (a worker that claims a
    row not marked yet supersedes it itself). Returns the older notices' ids."""
    older = _older_notices(notification)
    if older:
        _, every_range = delivery.messages_supersede(
            newer_notification_id=notification.pk, older_notification_ids=older, ranges=1
        )
        if last and not every_range:
            transaction.on_commit(partial(_supersede_rest_later, notification.pk))
    return older


def _older_notices(notification: Notification) -> list[int]:
    """The incident's notices still sending that this one replaces."""
    if notification.incident_id is None or notification.kind == Notification.Kind.RCA:
        return []
    notices = (
        Notification.objects.filter(incident_id=notification.incident_id, status=Status.SENDING)
        .exclude(pk=notification.pk)
        .exclude(kind=Notification.Kind.RCA)
    )
    if notification.started_at is not None:
        # Older in the order they were started: a notice whose materialising
        # task ran late must not supersede one started after it.
        started = notification.started_at
        notices = notices.filter(
            Q(started_at__lt=started) | Q(started_at=started, pk__lt=notification.pk)
        )
    return list(notices.values_list("pk", flat=True))


def _supersede_rest_later(notification_id: int) -> None:
    """Losing this (broker down) costs only the workers' time: each row not
    marked is superseded when a worker claims it."""
    from notifications.tasks import supersede_rest

    try:
        supersede_rest.delay(notification_id)
    except Exception as exc:
        logger.warning("could not queue the rest of a supersession: %s", exc)


def notification_supersede_rest(*, notification_id: int) -> int:
    """Supersede the older notices' rows a newer notice's materialisation
    left (see _supersede_older_notices), then finish the older notices that
    have nothing left. Returns the rows this call superseded."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return 0
    older = _older_notices(notification)
    if not older:
        return 0
    superseded = delivery.messages_supersede_rest(
        newer_notification_id=notification.pk, older_notification_ids=older
    )
    notification_finish_if_done(notification_ids=older)
    return superseded


@transaction.atomic
def notification_cancel(*, notification: Notification) -> Notification:
    """Stop it: every undelivered message becomes `cancelled`. Workers
    re-check the notification behind a lock the cancel takes first, so
    nothing leaves after this commits. The request marks the first range of
    rows itself (delivery.bulk.RANGE_IDS ids: every row of a notification
    of a few thousand); a task marks the rest, workers that claim unmarked
    rows help, and the statistics count them as cancelled meanwhile."""
    delivery.cancel_fence_close(notification_id=notification.pk)
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.status == Status.CANCELLED:
        return notification
    if notification.status in (Status.COMPLETED, Status.EXPIRED):
        raise Conflict(f"The notification is already {notification.status}; nothing to cancel.")
    now = timezone.now()
    notification.status = Status.CANCELLED
    notification.finished_at = now
    notification.save(update_fields=["status", "finished_at", "updated_at"])
    cancelled, every_range = delivery.messages_cancel(
        notification_id=notification.pk, now=now, ranges=1
    )
    if not every_range:
        transaction.on_commit(partial(_cancel_rest_later, notification.pk))
    _log(notification, "cancelled", messages_cancelled=cancelled, rest_later=not every_range)
    return notification


def _cancel_rest_later(notification_id: int) -> None:
    """Losing this (broker down) costs only time: the scheduler's sweep
    marks what a cancel left (notification_cancel_rest)."""
    from notifications.tasks import cancel_rest

    try:
        cancel_rest.delay(notification_id)
    except Exception as exc:
        logger.warning("could not queue the rest of a cancel: %s", exc)


def notification_cancel_rest(*, notification_id: int) -> int:
    """Mark the undelivered messages a cancel's request left (see
    notification_cancel). Returns the rows this call marked."""
    return delivery.messages_cancel_rest(notification_id=notification_id)


@transaction.atomic
def notification_retry_failed(*, notification: Notification) -> int:
    """Give every failed message of a started notification a fresh set of
    attempts, now; the notification is `sending` again until they settle."""
    notification = Notification.objects.select_for_update().get(pk=notification.pk)
    if notification.status not in (Status.SENDING, Status.COMPLETED):
        raise Conflict(f"A {notification.status} notification has no failed messages to retry.")
    now = timezone.now()
    if notification.end_at and notification.end_at <= now:
        raise Conflict(
            "The notification's end time has passed; its messages can no longer be sent."
        )
    retried = delivery.messages_retry_failed(notification_id=notification.pk, now=now)
    if retried:
        notification.status = Status.SENDING
        notification.finished_at = None
        notification.save(update_fields=["status", "finished_at", "updated_at"])
    _log(notification, "failed messages retried", messages=retried)
    return retried


def notification_finish_if_done(*, notification_ids: list[int]) -> None:
    """A started notification with nothing left to send becomes `completed`,
    or `expired` when its end cut some messages off."""
    now = timezone.now()
    open_messages = Message.objects.filter(notification=OuterRef("pk"), status__in=OPEN_STATUSES)
    expired_messages = Message.objects.filter(
        notification=OuterRef("pk"), status=MessageStatus.EXPIRED
    )
    finished = (
        Notification.objects.filter(
            pk__in=notification_ids, status=Status.SENDING, materialized_at__isnull=False
        )
        .annotate(has_open=Exists(open_messages), has_expired=Exists(expired_messages))
        .filter(has_open=False)
        .values_list("pk", "has_expired")
    )
    for pk, has_expired in list(finished):
        status = Status.EXPIRED if has_expired else Status.COMPLETED
        updated = Notification.objects.filter(pk=pk, status=Status.SENDING).update(
            status=status, finished_at=now, updated_at=now
        )
        if updated:
            logger.info("notification %s", status, extra={"notification_id": pk, "status": status})


def notification_start_due(*, now: datetime.datetime | None = None) -> int:
    """Beat: start scheduled notifications whose time has come, redo
    materialisations whose task was lost, expire what passed its end, and
    finish what is done. Returns how many notifications were started."""
    now = now or timezone.now()
    due_ids = list(
        Notification.objects.filter(status=Status.SCHEDULED, start_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    started = 0
    for pk in due_ids:
        with transaction.atomic():
            if not Notification.objects.filter(pk=pk, status=Status.SCHEDULED).update(
                status=Status.SENDING, started_at=now, updated_at=now
            ):
                continue  # another sweep took it
        notification = Notification.objects.get(pk=pk)
        _log(notification, "started", scheduled_for=notification.start_at.isoformat())
        notification_materialise(notification=notification)
        started += 1
    stale = now - datetime.timedelta(seconds=60)
    for notification in Notification.objects.filter(
        status=Status.SENDING, materialized_at__isnull=True, started_at__lt=stale
    ):
        notification_materialise(notification=notification)
    notification_expire_ended(now=now)
    for pk in _cancelled_with_open_messages(now=now):
        notification_cancel_rest(notification_id=pk)
    sending = list(Notification.objects.filter(status=Status.SENDING).values_list("pk", flat=True))
    notification_finish_if_done(notification_ids=sending)
    return started


def _cancelled_with_open_messages(*, now: datetime.datetime) -> list[int]:
    """Cancelled in the last day with messages still unmarked: their
    cancel's task was lost or is still marking (a range another session is
    marking is left to it)."""
    open_messages = Message.objects.filter(notification=OuterRef("pk"), status__in=OPEN_STATUSES)
    return list(
        Notification.objects.filter(
            status=Status.CANCELLED,
            finished_at__gte=now - datetime.timedelta(days=1),
            finished_at__lt=now - datetime.timedelta(seconds=CANCEL_REST_GRACE_SECONDS),
        )
        .filter(Exists(open_messages))
        .values_list("pk", flat=True)
    )


# The scheduler's sweep leaves a fresh cancel's rows this long to its own task.
CANCEL_REST_GRACE_SECONDS = 30


def notification_expire_ended(*, now: datetime.datetime) -> int:
    """Undelivered messages of sending notifications whose end has passed
    become `expired` (delivery writes them); the notifications themselves
    finish in notification_finish_if_done. Returns the messages expired."""
    return delivery.messages_expire_ended(now=now)


def notification_test_send(
    *, notification: Notification, email: str = "", phone: str = "", customer=None
) -> list[Message]:
    """One rendered copy per channel to the given addresses, now, outside the
    statistics (the rows belong to no notification)."""
    values = templating.customer_values(customer) if customer else templating.SAMPLE_CUSTOMER
    if notification.start_at is None and notification.started_at is None:
        notification.started_at = timezone.now()  # as it would read if sent now (not saved)
    prefix = "[Test] "
    messages = []
    targets = {Channel.EMAIL: email, Channel.SMS: phone}
    for channel in notification.channels:
        if not targets.get(channel):
            continue
        rendered = templating.notification_render(
            notification=notification, customer=values, channel=channel
        )
        message = delivery.message_test_copy_send(
            channel=channel,
            to_address=targets[channel],
            subject=prefix + rendered.subject,
            text=rendered.text,
            html=rendered.html if channel == Channel.EMAIL else "",
        )
        _log(notification, "test copy", message_id=message.pk, channel=channel)
        messages.append(message)
    return messages


def daily_report_text(*, now: datetime.datetime) -> tuple[str, str]:
    """The last 24 h in a few lines: notifications started, messages by
    status and channel, the most common failures."""
    since = now - datetime.timedelta(hours=24)
    started = Notification.objects.filter(started_at__gte=since)
    by_status = dict(started.values_list("status").annotate(n=Count("pk")).order_by())
    recent = Message.objects.filter(updated_at__gte=since)
    counts = recent.values_list("channel", "status").annotate(n=Count("pk")).order_by()
    failures = (
        recent.filter(status=MessageStatus.FAILED)
        .values_list("last_error")
        .annotate(n=Count("pk"))
        .order_by("-n")[:5]
    )
    lines = [
        f"Proactive report for the 24 hours up to {now:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Notifications started: {sum(by_status.values())}"
        + (
            " (" + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) + ")"
            if by_status
            else ""
        ),
        "",
        "Messages by channel and status:",
    ]
    lines += [f"  {channel} {status}: {n}" for channel, status, n in sorted(counts)] or ["  none"]
    lines += ["", "Most common failures:"]
    lines += [f"  {n} × {error or '(no reply recorded)'}" for error, n in failures] or ["  none"]
    subject = f"Proactive daily report {now:%Y-%m-%d}"
    return subject, "\n".join(lines) + "\n"


def daily_report_send(*, now: datetime.datetime | None = None) -> list[Message]:
    from accounts.models import ApprovalStatus, Role, User

    now = now or timezone.now()
    subject, body = daily_report_text(now=now)
    admins = User.objects.filter(
        role=Role.ADMIN, approval_status=ApprovalStatus.APPROVED, is_active=True
    ).exclude(email="")
    with transaction.atomic():
        sent = [
            delivery.transactional_email_enqueue(to=admin.email, subject=subject, body=body)
            for admin in admins
        ]
    logger.info("daily report queued", extra={"recipients": len(sent)})
    return sent
