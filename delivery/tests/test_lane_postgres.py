"""A drain lane's PostgreSQL paths, against committed rows: the claim in one
statement (rows another worker holds are skipped, the drain signal goes
with it) and recording sent messages without waiting for the answer (the
rows end up as the waiting way leaves them, a row that is no longer ours is
left alone, the recorder's own connection goes away with its lane)."""

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from conftest import wait_until
from customers.models import Customer
from delivery import sending, services
from delivery.models import DrainSignal, Message, MessageStatus, OutboxMessage
from delivery.recording import SentRecorder
from delivery.tests.conftest import started

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
S = MessageStatus


def _notification(make_notification, make_customer, count: int):
    for _ in range(count):
        make_customer()
    notification = started(make_notification(channels=["email", "sms"]))
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=["email", "sms"]
    )
    return notification


def _own_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_batch_recorded_without_waiting_ends_with_every_row_sent(
    postgres, make_notification, make_customer
):
    notification = _notification(make_notification, make_customer, 30)
    result = services.message_batch_deliver()
    assert result.claimed == 60 and result.outcomes == {S.SENT: 60}
    rows = Message.objects.filter(notification=notification)
    assert rows.filter(status=S.SENT, sent_at__isnull=False, next_attempt_at=None).count() == 60
    assert rows.exclude(provider_id="").count() == 60
    assert set(OutboxMessage.objects.values_list("message_id", flat=True)) == set(
        rows.values_list("pk", flat=True)
    )
    assert rows.filter(channel="sms", segments=1).count() == 30
    notification.refresh_from_db()
    assert notification.status == "completed"  # checked after the last record was read


def test_a_row_that_is_no_longer_ours_is_left_alone(postgres, make_notification, make_customer):
    _notification(make_notification, make_customer, 1)
    ids = services.message_claim_batch()
    mine, taken = sending.messages_load(ids)
    Message.objects.filter(pk=taken.pk).update(status=S.CANCELLED)
    recorder = SentRecorder()
    try:
        recorder.record(mine, provider_id="<a@x>", segments=None)
        recorder.record(taken, provider_id="<b@x>", segments=None)
        recorder.settle()
    finally:
        recorder.close()
    assert mine.status == S.SENT and Message.objects.get(pk=mine.pk).provider_id == "<a@x>"
    assert taken.status == S.SENDING  # what this worker knew; the row says cancelled
    assert Message.objects.get(pk=taken.pk).status == S.CANCELLED


def test_the_recorders_connection_lasts_as_long_as_its_lane(
    postgres, make_notification, make_customer
):
    _notification(make_notification, make_customer, 5)
    before = _own_connections()
    recorder = SentRecorder()
    (message,) = sending.messages_load(services.message_claim_batch(limit=1))
    recorder.record(message, provider_id="<a@x>", segments=None)
    assert _own_connections() == before + 1
    recorder.close()
    # The server lists a backend until it has finished exiting, a moment
    # after the client hung up: wait for it rather than race it.
    assert wait_until(lambda: _own_connections() == before, timeout=5)
    assert Message.objects.get(pk=message.pk).status == S.SENT
    assert services.message_drain(budget_seconds=0) == 9
    assert wait_until(lambda: _own_connections() == before, timeout=5)


def test_a_claim_skips_rows_another_worker_holds_and_takes_its_signal_along(
    postgres, make_notification, make_customer
):
    _notification(make_notification, make_customer, 5)
    signal = DrainSignal.objects.create(created_at=timezone.now())
    every = set(Message.objects.values_list("pk", flat=True))
    other = psycopg.connect(**connection.get_connection_params())  # another worker, mid-claim
    try:
        held = {
            row[0]
            for row in other.execute(
                "SELECT id FROM delivery_message ORDER BY id LIMIT 4 FOR UPDATE"
            ).fetchall()
        }
        ids = services.message_claim_batch(signal_id=signal.pk)
        assert set(ids) == every - held and ids == sorted(ids)
        assert not DrainSignal.objects.filter(pk=signal.pk).exists()
        claimed = Message.objects.filter(pk__in=ids)
        assert all(m.status == S.SENDING and m.attempts == 1 for m in claimed)
        assert all(m.next_attempt_at > timezone.now() for m in claimed)
    finally:
        other.rollback()
        other.close()
    assert Message.objects.filter(status=S.PENDING).count() == len(held)
