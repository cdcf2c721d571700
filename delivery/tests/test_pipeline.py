"""The pipeline on the embedded default (outbox transports): claim, the
checks before sending, recording, finishing."""

import datetime
import logging
import re

import pytest
from django.utils import timezone

from customers.models import Customer
from delivery import fence as cancel_fence
from delivery import recording, rendering, sending, services
from delivery.models import DrainSignal, Message, MessageStatus, OutboxMessage
from delivery.tests.conftest import started
from notifications.models import Notification

pytestmark = pytest.mark.django_db

S = MessageStatus


def materialise(notification, customers=None):
    customers = customers if customers is not None else Customer.objects.all()
    return services.messages_materialise(
        notification=notification, customers=customers, channels=notification.channels
    )


def test_a_transactional_email_is_queued_then_delivered_to_the_outbox():
    message = services.transactional_email_enqueue(
        to="ann@example.com", subject="Ticket T-1\nupdated", body="Hello", html="<p>Hello</p>"
    )
    assert message.status == S.PENDING and message.notification is None
    result = services.message_batch_deliver()
    message.refresh_from_db()
    assert result.claimed == 1
    assert message.status == S.SENT and message.attempts == 1 and message.sent_at
    outbox = OutboxMessage.objects.get()
    assert (outbox.to, outbox.subject, outbox.body, outbox.html) == (
        "ann@example.com",
        "Ticket T-1 updated",
        "Hello",
        "<p>Hello</p>",
    )
    assert outbox.message_id == message.pk
    assert message.provider_id == f"<message-{message.pk}@proactive.local>"


def test_a_transactional_sms_goes_to_the_outbox():
    message = services.transactional_sms_enqueue(to="+79001234567", text="Code 1234")
    services.message_batch_deliver()
    message.refresh_from_db()
    assert message.status == S.SENT
    assert message.segments == 1
    assert OutboxMessage.objects.get(channel="sms").body == "Code 1234"


def test_materialising_writes_one_row_per_customer_and_channel_and_suppresses_the_unreachable(
    make_customer, make_notification
):
    reachable = make_customer()
    no_phone = make_customer(phone="")
    opted_out = make_customer(email_opt_in=False)
    inactive = make_customer(is_active=False)
    notification = make_notification(channels=["email", "sms"])
    assert materialise(notification) == 8
    rows = {(m.customer_id, m.channel): m for m in Message.objects.all()}
    assert rows[(reachable.pk, "email")].status == S.PENDING
    assert rows[(reachable.pk, "email")].to_address == reachable.email
    assert rows[(reachable.pk, "sms")].to_address == reachable.phone
    assert rows[(no_phone.pk, "sms")].status == S.SUPPRESSED
    assert rows[(no_phone.pk, "sms")].last_error == "The customer has no phone number."
    assert rows[(no_phone.pk, "email")].status == S.PENDING
    assert rows[(opted_out.pk, "email")].status == S.SUPPRESSED
    assert rows[(opted_out.pk, "email")].last_error == "The customer opted out of email."
    assert rows[(inactive.pk, "sms")].status == S.SUPPRESSED
    assert rows[(reachable.pk, "email")].next_attempt_at is not None
    assert rows[(no_phone.pk, "sms")].next_attempt_at is None


def test_materialising_twice_never_duplicates_a_recipient(make_customer, make_notification):
    make_customer()
    make_customer()
    notification = make_notification(channels=["email", "sms"])
    assert materialise(notification) == 4
    assert materialise(notification) == 0
    assert Message.objects.count() == 4


def test_materialising_is_one_statement_per_channel_whatever_the_audience(
    make_customer, make_notification, django_assert_max_num_queries
):
    for _ in range(50):
        make_customer()
    notification = make_notification(channels=["email", "sms"])
    with django_assert_max_num_queries(2):
        materialise(notification)
    assert Message.objects.count() == 100


def test_the_database_refuses_a_second_row_for_the_same_recipient_and_channel(
    make_customer, make_notification
):
    from django.db import IntegrityError, transaction

    customer = make_customer()
    notification = make_notification()
    Message.objects.create(notification=notification, customer=customer, channel="email")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(notification=notification, customer=customer, channel="email")


def test_a_batch_costs_a_fixed_number_of_queries_plus_at_most_one_per_message(
    make_customer, make_notification, site, fiber, monkeypatch
):
    """Every field the checks, templates and transports read is loaded with
    the batch: a field left out would cost one query per message."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # The cancel fence is also re-taken every FENCE_SECONDS of wall time; on a
    # slow machine that adds queries that say nothing about per-message cost.
    monkeypatch.setattr(cancel_fence, "FENCE_SECONDS", 3600.0)

    def batch_queries(count: int) -> int:
        Message.objects.all().delete()
        Customer.objects.all().delete()
        for _ in range(count):
            make_customer(last_mile_site=site, service_type=fiber)
        notification = started(
            make_notification(
                title="{{ customer.location }} {{ customer.last_mile_site }}",
                body="{{ customer.name }} {{ customer.account_number }} "
                "{{ customer.service_type }} {{ customer.timezone }} {{ start_at }}",
                channels=["email", "sms"],
                respect_contact_window=True,
            )
        )
        materialise(notification)
        with CaptureQueriesContext(connection) as queries:
            result = services.message_batch_deliver()
        assert result.outcomes == {S.SENT: 2 * count}
        return len(queries.captured_queries)

    few, many = batch_queries(3), batch_queries(13)
    # 20 more messages: at most their own outbox copies and UPDATEs.
    assert many - few <= 2 * 20


def test_a_claim_takes_at_most_a_batch_and_leases_it(settings, make_customer, make_notification):
    settings.DELIVERY_BATCH_SIZE = 3
    settings.DELIVERY_LEASE_SECONDS = 60
    for _ in range(5):
        make_customer()
    materialise(make_notification())
    before = timezone.now()
    ids = services.message_claim_batch()
    assert len(ids) == 3
    claimed = Message.objects.filter(pk__in=ids)
    assert {m.status for m in claimed} == {S.SENDING}
    assert {m.attempts for m in claimed} == {1}
    assert all(m.next_attempt_at >= before + datetime.timedelta(seconds=59) for m in claimed)
    assert len(services.message_claim_batch()) == 2
    assert services.message_claim_batch() == []


def test_a_row_whose_lease_expired_is_claimed_again(make_customer, make_notification):
    make_customer()
    materialise(make_notification())
    [first] = services.message_claim_batch()
    assert services.message_claim_batch() == []
    later = timezone.now() + datetime.timedelta(hours=1)
    assert services.message_claim_batch(now=later) == [first]
    assert Message.objects.get().attempts == 2


def test_a_notification_message_is_rendered_for_its_customer(
    make_customer, make_notification, site
):
    customer = make_customer(name="Ann <Lee>", last_mile_site=site, timezone="Europe/Moscow")
    end = datetime.datetime(2036, 11, 22, 9, 0, tzinfo=datetime.UTC)
    notification = started(make_notification(end_at=end))
    materialise(notification)
    services.message_batch_deliver()
    outbox = OutboxMessage.objects.get()
    assert outbox.to == customer.email
    assert outbox.subject == "Outage at North node"
    assert outbox.body.startswith("Dear Ann <Lee>, service is down until 2036-11-22 12:00 MSK.\n")
    assert "Ann &lt;Lee&gt;" in outbox.html
    assert Message.objects.get().status == S.SENT


def test_a_message_past_the_end_expires_without_sending(make_customer, make_notification):
    make_customer()
    notification = started(make_notification())
    materialise(notification)
    Notification.objects.filter(pk=notification.pk).update(
        end_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    services.message_batch_deliver()
    message = Message.objects.get()
    assert message.status == S.EXPIRED and message.attempts == 0
    assert not OutboxMessage.objects.exists()
    assert Notification.objects.get().status == Notification.Status.EXPIRED


def test_a_customer_outside_the_window_is_deferred_to_the_next_opening(
    make_customer, make_notification
):
    now = timezone.now()
    # A one-hour window that opened an hour ago... and so is closed now.
    start = (now - datetime.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (now - datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    make_customer(contact_window_start=start, contact_window_end=end)
    materialise(started(make_notification()))
    services.message_batch_deliver()
    message = Message.objects.get()
    assert message.status == S.DEFERRED and message.attempts == 0
    delay = message.next_attempt_at - now
    assert datetime.timedelta(hours=21) < delay < datetime.timedelta(hours=23)
    assert not OutboxMessage.objects.exists()
    assert Notification.objects.get().status == Notification.Status.SENDING


def test_the_window_is_ignored_when_the_notification_says_so(make_customer, make_notification):
    now = timezone.now()
    start = (now - datetime.timedelta(hours=2)).time()
    end = (now - datetime.timedelta(hours=1)).time()
    make_customer(contact_window_start=start, contact_window_end=end)
    materialise(started(make_notification(respect_contact_window=False)))
    services.message_batch_deliver()
    assert Message.objects.get().status == S.SENT


def test_a_window_that_opens_only_after_the_end_expires_the_message(
    make_customer, make_notification
):
    now = timezone.now()
    start = (now - datetime.timedelta(hours=2)).time()
    end = (now - datetime.timedelta(hours=1)).time()
    make_customer(contact_window_start=start, contact_window_end=end)
    materialise(started(make_notification(end_at=now + datetime.timedelta(hours=3))))
    services.message_batch_deliver()
    assert Message.objects.get().status == S.EXPIRED
    assert Notification.objects.get().status == Notification.Status.EXPIRED


def test_a_customer_who_opted_out_after_the_start_is_suppressed_at_send_time(
    make_customer, make_notification
):
    customer = make_customer()
    materialise(started(make_notification()))
    Customer.objects.filter(pk=customer.pk).update(email_opt_in=False)
    services.message_batch_deliver()
    message = Message.objects.get()
    assert message.status == S.SUPPRESSED and message.attempts == 0
    assert not OutboxMessage.objects.exists()
    assert Notification.objects.get().status == Notification.Status.COMPLETED


def test_a_batch_in_progress_sends_nothing_once_the_cancel_has_committed(
    make_customer, make_notification
):
    from notifications.services import notification_cancel

    make_customer()
    make_customer()
    notification = started(make_notification())
    materialise(notification)
    ids = services.message_claim_batch()
    first, second = sending.messages_load(ids)
    fence, transports, renderer = (
        cancel_fence.CancelFence(recording.SentRecorder()),
        sending.Transports(),
        rendering.Renderer(),
    )
    sending.message_send_one(first, transports, renderer, fence)
    fence.release()  # the run ends; the cancel may now commit
    notification_cancel(notification=notification)
    sending.message_send_one(second, transports, renderer, fence)
    assert OutboxMessage.objects.count() == 1
    assert sorted(Message.objects.values_list("status", flat=True)) == [S.CANCELLED, S.SENT]


def test_a_message_that_failed_too_often_after_worker_crashes_is_failed(
    settings, make_customer, make_notification
):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    make_customer()
    materialise(started(make_notification()))
    Message.objects.update(attempts=2)
    services.message_batch_deliver()
    message = Message.objects.get()
    assert message.status == S.FAILED and "Gave up after 2 attempts" in message.last_error


def test_the_notification_completes_when_nothing_is_left(make_customer, make_notification):
    make_customer()
    make_customer()
    notification = started(make_notification())
    materialise(notification)
    services.message_batch_deliver()
    notification.refresh_from_db()
    assert notification.status == Notification.Status.COMPLETED and notification.finished_at


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap(settings):
    settings.DELIVERY_RETRY_BASE_SECONDS = 10
    settings.DELIVERY_RETRY_MAX_SECONDS = 100
    for attempts, full in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (12, 100)):
        delays = {recording.retry_delay(attempts=attempts).total_seconds() for _ in range(20)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1  # jittered


def test_every_state_change_is_logged_with_the_ids(make_customer, make_notification, caplog):
    customer = make_customer()
    notification = started(make_notification())
    materialise(notification)
    with caplog.at_level(logging.INFO, logger="proactive.delivery"):
        services.message_batch_deliver()
    message = Message.objects.get()
    [record] = [r for r in caplog.records if r.getMessage() == "message sent"]
    assert (record.message_id, record.notification_id, record.customer_id) == (
        message.pk,
        notification.pk,
        customer.pk,
    )


def test_the_dispatcher_enqueues_one_task_per_batch_and_not_again_while_they_wait(
    settings, make_customer, make_notification, django_capture_on_commit_callbacks
):
    settings.DELIVERY_BATCH_SIZE = 2
    for _ in range(5):
        make_customer()
    materialise(make_notification())
    assert services.message_dispatch_due() == 3
    assert DrainSignal.objects.count() == 3
    assert services.message_dispatch_due() == 0
    # That task's batch: its signal and 2 rows leave together.
    services.message_batch_deliver(signal_id=DrainSignal.objects.first().pk)
    assert DrainSignal.objects.count() == 2
    assert services.message_dispatch_due() == 0  # 3 due rows are covered by 2 waiting tasks


@pytest.mark.parametrize("kwarg", ["signal_id", "ticket_id"])
def test_a_drain_task_takes_its_signal_whichever_name_queued_it(
    kwarg, make_customer, make_notification
):
    """`ticket_id` is how a dispatcher before the rename named the signal:
    such tasks may still wait in the broker after an upgrade."""
    from delivery.tasks import drain_messages

    make_customer()
    materialise(started(make_notification()))
    assert services.message_dispatch_due() == 1
    signal = DrainSignal.objects.get()
    assert drain_messages.run(**{kwarg: signal.pk}) == 1
    assert not DrainSignal.objects.exists()
    assert Message.objects.get().status == S.SENT


def test_the_dispatcher_forgets_signals_whose_task_was_lost(
    settings, make_customer, make_notification
):
    settings.DELIVERY_LEASE_SECONDS = 20
    make_customer()
    materialise(make_notification())
    assert services.message_dispatch_due() == 1
    later = timezone.now() + datetime.timedelta(seconds=11)
    assert services.message_dispatch_due(now=later) == 1
    assert DrainSignal.objects.count() == 1


def test_the_dispatcher_does_nothing_when_nothing_is_due(make_customer, make_notification):
    assert services.message_dispatch_due() == 0
    assert not DrainSignal.objects.exists()


def test_one_drain_task_goes_on_while_full_batches_keep_coming(
    settings, make_customer, make_notification
):
    settings.DELIVERY_BATCH_SIZE = 2
    for _ in range(5):
        make_customer()
    materialise(started(make_notification()))
    assert services.message_drain() == 5
    assert Message.objects.filter(status=S.SENT).count() == 5


def test_a_drain_task_stops_at_its_time_budget(settings, make_customer, make_notification):
    settings.DELIVERY_BATCH_SIZE = 2
    for _ in range(5):
        make_customer()
    materialise(started(make_notification()))
    assert services.message_drain(budget_seconds=0) == 2
    assert Message.objects.filter(status=S.PENDING).count() == 3


def test_recording_an_outcome_goes_by_primary_key_even_when_statistics_are_stale(
    postgres, make_notification
):
    """Statistics taken while no message was due make the partial index of
    due rows look empty; the per-message UPDATEs and a lane's move of its
    sent marks onto their rows must not scan it."""
    from django.db import connection

    from delivery.recording import _FLUSH_SQL, _sent_sql, _tables, record_sql, relaxed_commits

    Customer.objects.bulk_create(
        Customer(account_number=f"PLAN-{i}", name=f"C {i}", email=f"p{i}@example.com")
        for i in range(3000)
    )
    notification = started(make_notification(channels=["email"]))
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email"]
    )
    Message.objects.update(status=MessageStatus.SENT, next_attempt_at=None)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE delivery_message")
    Message.objects.update(status=MessageStatus.SENDING, next_attempt_at=timezone.now())
    pk, now = Message.objects.first().pk, timezone.now()
    sent = (
        _sent_sql(["%s"] * 7),
        ["sent", now, now, "id", None, pk, "sending"],
    )
    deferred = record_sql(
        pk, status="deferred", updated_at=now, last_error="451", next_attempt_at=now
    )
    # The flush, as a lane's own connection prepares it (numbered already).
    flush = (_tables(_FLUSH_SQL), [[pk], "sending"])
    plans = []
    relaxed_commits(True)
    try:
        with connection.cursor() as cursor:
            for sql, params in (sent, deferred, flush):
                numbered = sql.replace("%s", "${}").format(*range(1, len(params) + 1))
                cursor.execute(f"PREPARE outcome AS {numbered}")
                marks = ", ".join(["%s"] * len(params))
                cursor.execute(f"EXPLAIN EXECUTE outcome ({marks})", params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
                cursor.execute("DEALLOCATE outcome")
    finally:
        relaxed_commits(False)
    for plan in plans:
        assert "delivery_message_pkey" in plan, plan


def test_a_supersession_looks_up_the_newer_notice_row_by_row_in_each_range(
    postgres, make_notification, monkeypatch
):
    """Each range's UPDATE finds the newer notice's message to the same
    customer and channel through its unique index, row by row: a plan that
    hashes every row of the newer notice would do it again for each range
    (twenty times over a million-row supersession)."""
    from delivery import bulk

    monkeypatch.setattr(bulk, "RANGE_IDS", 1000)
    Customer.objects.bulk_create(
        Customer(account_number=f"SUP-{i}", name=f"C {i}", email=f"s{i}@example.com")
        for i in range(3000)
    )
    older, newer = (started(make_notification(channels=["email"])) for _ in range(2))
    for notification in (older, newer):
        services.messages_materialise(
            notification=notification, customers=Customer.objects.all(), channels=["email"]
        )
    with postgres.cursor() as cursor:
        cursor.execute("ANALYZE delivery_message")
    plans = []

    def explained(execute, sql, params, many, context):
        if sql.startswith('UPDATE "delivery_message"'):
            context["cursor"].execute(f"EXPLAIN {sql}", params)
            plans.append("\n".join(row[0] for row in context["cursor"].fetchall()))
        return execute(sql, params, many, context)

    with postgres.execute_wrapper(explained):
        superseded, every_range = bulk.messages_supersede(
            newer_notification_id=newer.pk, older_notification_ids=[older.pk]
        )
    assert (superseded, every_range) == (3000, True)
    assert len(plans) >= 3  # 3,000 ids in ranges of 1,000
    for plan in plans:
        assert "Hash" not in plan, plan
        assert "message_one_per_recipient_channel" in plan, plan
    assert set(Message.objects.filter(notification=older).values_list("status", flat=True)) == {
        MessageStatus.SUPERSEDED
    }


def test_a_notifications_messages_are_found_by_index_whatever_the_status_asked_for(
    postgres, make_notification
):
    """The notification page and /api/notifications/{id}/messages/ read one
    notification's rows, of every status or of one (cancelled and
    superseded ones included, which the index by notification and status
    leaves out): an index must serve each, never a scan of the whole table."""
    from notifications.selectors import notification_messages

    customers = Customer.objects.bulk_create(
        Customer(account_number=f"IDX-{i}", name=f"C {i}", email=f"i{i}@example.com")
        for i in range(50)
    )
    notification = started(make_notification(channels=["email"]))
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email"]
    )
    rows = notification_messages(notification=notification)
    with postgres.cursor() as cursor:
        cursor.execute("ANALYZE delivery_message")
        cursor.execute("SET enable_seqscan = off")  # an index if one serves, else a seq scan
    try:
        for status in (None, MessageStatus.SENT, MessageStatus.CANCELLED, MessageStatus.SUPERSEDED):
            asked = rows if status is None else rows.filter(status=status)
            plan = asked.order_by().values("pk").explain()  # as the page's count reads them
            assert re.search(r"Index Cond: \(+notification_id = ", plan), (status, plan)
    finally:
        with postgres.cursor() as cursor:
            cursor.execute("RESET enable_seqscan")
    assert rows.count() == len(customers)
