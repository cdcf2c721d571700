"""One outage told with a worker killed mid-way, and the check that no
customer got its notices out of order: used by the test of the same name and
by `python -m bench incidents`.

The run: declare (the first notice starts sending) → post an update while it
is sending → SIGKILL a worker, start a new one → resolve → wait until every
notice is finished. The check reads every copy that left (the outbox's
captured copies, or what an SMTP server received) in the order they left,
finds its notice and customer from the Message-ID
(`<notification-N.customer-C@…>`), and counts per customer a copy of an
older notice after one of a newer notice (out of order), copies beyond the
first of the same notice (duplicates), and customers without exactly one
copy of the latest notice (the resolution)."""

import re
import time
from collections import Counter
from dataclasses import asdict, dataclass

MESSAGE_ID = re.compile(r"<notification-(\d+)\.customer-(\d+)@")


@dataclass
class OrderReport:
    customers: int
    copies: int
    out_of_order: int
    duplicates: int
    missing_latest: int
    latest_more_than_once: int
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def order_report(*, message_ids: list[str], notices: list[int], customers: set[int]) -> OrderReport:
    """`message_ids` in the order the copies arrived (one channel); `notices`
    oldest first."""
    position = {notice: index for index, notice in enumerate(notices)}
    newest_seen: dict[int, int] = {}
    copies: Counter = Counter()
    out_of_order = 0
    for header in message_ids:
        found = MESSAGE_ID.search(header)
        if not found or int(found[1]) not in position:
            continue
        notice, customer = int(found[1]), int(found[2])
        copies[(customer, notice)] += 1
        if position[notice] < newest_seen.get(customer, -1):
            out_of_order += 1
        newest_seen[customer] = max(newest_seen.get(customer, -1), position[notice])
    latest = notices[-1]
    return OrderReport(
        customers=len(customers),
        copies=sum(copies.values()),
        out_of_order=out_of_order,
        duplicates=sum(n - 1 for n in copies.values()),
        missing_latest=sum(1 for c in customers if copies[(c, latest)] == 0),
        latest_more_than_once=sum(1 for c in customers if copies[(c, latest)] > 1),
    )


def _wait(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.05)


def outbox_count() -> int:
    from delivery.models import OutboxMessage

    return OutboxMessage.objects.count()


def outbox_copies() -> list[str]:
    """The Message-ID of every captured email, in the order they were captured."""
    from delivery.models import Channel, OutboxMessage

    headers = OutboxMessage.objects.filter(channel=Channel.EMAIL).order_by("id")
    return [h.get("Message-ID", "") for h in headers.values_list("headers", flat=True)]


def run_with_a_worker_killed(
    *,
    fleet,
    scope: dict,
    created_by,
    count=outbox_count,
    copies=outbox_copies,
    timeout: float = 600,
) -> OrderReport:
    """The run described above over `fleet` (workers w0 and w1 started);
    `count()` says how many copies have left so far and `copies()` lists
    their Message-IDs in the order they left (by default the outbox's).
    Returns the check of those copies."""
    from delivery.models import OPEN_STATUSES, Message
    from incidents import services
    from incidents.models import IncidentCustomer
    from notifications.models import Notification

    started = time.monotonic()
    incident = services.incident_declare(
        created_by=created_by,
        kind="outage",
        title="Fibre cut",
        scope=scope,
        body="Dear {{ customer.name }}, your service is down; we are investigating.",
        channels=["email"],
        respect_contact_window=False,
    )

    def affected() -> int:
        return IncidentCustomer.objects.filter(incident=incident).count()

    _wait(lambda: affected() > 0, timeout=300, what="freezing the audience")
    step = max(affected() // 10, 5)
    _wait(lambda: count() >= step, timeout=300, what="the first notice sending")
    services.incident_update_post(
        incident=incident,
        created_by=created_by,
        body="The cause is found; crews are on site.",
        status="identified",
    )
    told = count()
    _wait(lambda: count() >= told + step, timeout=300, what="the update sending")
    fleet.kill("w0")
    fleet.start_worker("w2")
    services.incident_resolve(incident=incident, created_by=created_by, body="Service is back.")
    notices = list(
        Notification.objects.filter(incident=incident)
        .order_by("started_at", "id")
        .values_list("pk", flat=True)
    )

    def finished() -> bool:
        # A notice of a large audience is written by a task after the call
        # returns: finished means written whole, then nothing left to send.
        unwritten = Notification.objects.filter(pk__in=notices, materialized_at__isnull=True)
        return (
            not unwritten.exists()
            and not Message.objects.filter(
                notification_id__in=notices, status__in=OPEN_STATUSES
            ).exists()
        )

    _wait(finished, timeout=timeout, what="every notice finishing")
    report = order_report(
        message_ids=copies(),
        notices=notices,
        customers=set(
            IncidentCustomer.objects.filter(incident=incident).values_list("customer_id", flat=True)
        ),
    )
    report.seconds = round(time.monotonic() - started, 1)
    return report
