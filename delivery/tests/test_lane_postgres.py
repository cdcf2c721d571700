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


def _marks() -> dict:
    from delivery.models import SentMark

    return {mark.message_id: mark for mark in SentMark.objects.all()}


def test_a_lane_marks_each_message_and_moves_its_marks_onto_the_rows_when_it_settles(
    postgres, make_notification, make_customer
):
    _notification(make_notification, make_customer, 2)
    first, second = sending.messages_load(services.message_claim_batch(limit=2))
    recorder = SentRecorder()
    try:
        recorder.record(first, provider_id="<a@x>", segments=None)
        recorder.record(second, provider_id="<b@x>", segments=None)
        # Both handed over: their marks are written (the second's without
        # waiting for the answer), the rows not touched yet.
        assert wait_until(lambda: set(_marks()) == {first.pk, second.pk}, timeout=5)
        assert set(
            Message.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
        ) == {S.SENDING}
        recorder.settle()
    finally:
        recorder.close()
    assert _marks() == {}
    rows = {m.pk: m for m in Message.objects.filter(pk__in=[first.pk, second.pk])}
    assert [rows[first.pk].status, rows[second.pk].status] == [S.SENT, S.SENT]
    assert rows[second.pk].provider_id == "<b@x>" and rows[second.pk].sent_at is not None
    assert first.status == S.SENT and second.status == S.SENT


def test_a_marked_row_is_never_claimed_again_and_the_dispatcher_records_it_once_its_lease_ran_out(
    postgres, make_notification, make_customer
):
    from delivery.models import SentMark
    from delivery.selectors import message_tally

    notification = _notification(make_notification, make_customer, 3)
    ids = services.message_claim_batch(limit=3)
    handed_over, live, superseded = ids
    now = timezone.now()
    # A worker died after handing over `handed_over` and `superseded`; an
    # update superseded the latter once its lease ran out. `live` belongs
    # to a lane still at work (its lease running).
    for pk in ids:
        SentMark.objects.create(message_id=pk, sent_at=now, provider_id=f"<{pk}@x>")
    Message.objects.filter(pk=handed_over).update(next_attempt_at=now)
    Message.objects.filter(pk=superseded).update(status=S.SUPERSEDED, next_attempt_at=None)

    others = set(Message.objects.exclude(pk__in=ids).values_list("pk", flat=True))
    assert len(others) == 3
    assert set(services.message_claim_batch()) == others  # the marked rows are passed over
    services.message_dispatch_due()
    rows = {m.pk: m for m in Message.objects.filter(pk__in=ids)}
    assert rows[handed_over].status == S.SENT
    assert rows[handed_over].provider_id == f"<{handed_over}@x>"
    assert rows[handed_over].sent_at == now and rows[handed_over].next_attempt_at is None
    assert rows[superseded].status == S.SENT  # it was handed over: that is what happened
    assert rows[live].status == S.SENDING and set(_marks()) == {live}
    # The statistics' counts moved with the rows.
    counted = {
        row["status"]: row["n"]
        for row in message_tally(notifications=[notification.pk], by=("status",))
        if row["n"]
    }
    assert counted == {S.SENT: 2, S.SENDING: 4}
