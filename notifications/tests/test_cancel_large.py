"""Cancelling a notification larger than one range of message ids: the
request marks the first range, a task (or the scheduler's sweep, if the
task is lost) marks the rest; meanwhile nothing more is sent and the
statistics already count every undelivered message as cancelled."""

import datetime

import pytest
from django.utils import timezone

from delivery import bulk
from delivery import services as delivery
from delivery.models import OPEN_STATUSES, Message, OutboxMessage
from delivery.tests.tally_check import counted, tallied
from notifications import services
from notifications.tasks import cancel_rest
from notifications.tests.test_api import URL, draft

CUSTOMERS = 23


@pytest.fixture
def small_ranges(monkeypatch):
    monkeypatch.setattr(bulk, "RANGE_IDS", 5)


@pytest.fixture
def half_sent(engineer_client, make_customer, small_ranges):
    """A notification to CUSTOMERS customers by email, one message sent."""
    for _ in range(CUSTOMERS):
        make_customer()
    body = draft(engineer_client, channels=["email"])
    assert engineer_client.post(f"{URL}{body['id']}/send/").status_code == 202
    delivery.message_batch_deliver(limit=1)
    assert OutboxMessage.objects.count() == 1
    return body["id"]


def open_rows(notification_id: int) -> int:
    return Message.objects.filter(notification_id=notification_id, status__in=OPEN_STATUSES).count()


def test_the_request_marks_one_range_and_the_statistics_count_the_rest_as_cancelled(
    engineer_client, half_sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = engineer_client.post(f"{URL}{half_sent}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert len(queued) == 1  # the task for the rest
    left = open_rows(half_sent)
    assert 0 < left < CUSTOMERS - 1  # the first range is marked, the rest waits
    stats = engineer_client.get(f"{URL}{half_sent}/stats/").json()
    assert stats["by_status"]["sent"] == 1
    assert stats["by_status"]["cancelled"] == CUSTOMERS - 1
    assert stats["by_status"]["pending"] == stats["by_status"]["sending"] == 0
    listed = engineer_client.get(f"{URL}stats/").json()
    mine = next(row for row in listed["results"] if row["id"] == half_sent)
    assert mine["by_status"]["cancelled"] == CUSTOMERS - 1

    # A worker that claims unmarked rows sends none of them: it marks them
    # and helps with one more range.
    result = delivery.message_batch_deliver(limit=2)
    assert result.claimed == 2 and result.outcomes == {"cancelled": 2}
    assert OutboxMessage.objects.count() == 1
    helped = open_rows(half_sent)
    assert helped < left - 2

    assert cancel_rest.apply(args=[half_sent]).get() == helped
    assert open_rows(half_sent) == 0
    assert engineer_client.get(f"{URL}{half_sent}/stats/").json() == stats
    assert tallied() == counted()


def test_the_scheduler_marks_what_a_lost_task_left(
    engineer_client, half_sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        engineer_client.post(f"{URL}{half_sent}/cancel/")  # its task never runs
    assert open_rows(half_sent) > 0
    services.notification_start_due()
    assert open_rows(half_sent) > 0, "a fresh cancel's rows are left to its own task"
    later = timezone.now() + datetime.timedelta(seconds=services.CANCEL_REST_GRACE_SECONDS + 1)
    services.notification_start_due(now=later)
    assert open_rows(half_sent) == 0
    assert Message.objects.filter(notification_id=half_sent, status="cancelled").count() == (
        CUSTOMERS - 1
    )
    assert tallied() == counted()


def test_a_small_notification_is_marked_by_the_request_itself(
    engineer_client, make_customer, django_capture_on_commit_callbacks
):
    for _ in range(3):
        make_customer()
    body = draft(engineer_client, channels=["email"])
    engineer_client.post(f"{URL}{body['id']}/send/")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        engineer_client.post(f"{URL}{body['id']}/cancel/")
    assert queued == []
    assert open_rows(body["id"]) == 0


@pytest.mark.django_db(transaction=True)
def test_a_range_another_session_is_marking_is_passed_by_then_gone_back_to(
    postgres, engineer_client, make_customer, small_ranges
):
    import threading

    import psycopg

    from conftest import database_url_for_subprocess

    for _ in range(12):
        make_customer()
    body = draft(engineer_client, channels=["email"])
    engineer_client.post(f"{URL}{body['id']}/send/")
    notification_id = body["id"]
    last = Message.objects.filter(notification_id=notification_id).order_by("-pk").first().pk
    held = last // bulk.RANGE_IDS * bulk.RANGE_IDS  # the last range
    key = bulk.range_lock_key((bulk.CANCEL_MARK_NAMESPACE, notification_id), held)
    with psycopg.connect(database_url_for_subprocess()) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", [key])  # another session marks it
        changed, complete = delivery.messages_cancel(
            notification_id=notification_id, now=timezone.now()
        )
        assert not complete
        left = Message.objects.filter(notification_id=notification_id, status__in=OPEN_STATUSES)
        assert set(left.values_list("pk", flat=True)) == set(range(held, last + 1))
        # The task goes back to the range once the other session lets go.
        threading.Timer(0.5, other.rollback).start()
        assert delivery.messages_cancel_rest(notification_id=notification_id) == last + 1 - held
    assert open_rows(notification_id) == 0
    assert changed + last + 1 - held == 12


@pytest.mark.django_db(transaction=True)
def test_two_sessions_mark_the_rest_side_by_side_each_range_once(
    postgres, engineer_client, make_customer, small_ranges, monkeypatch
):
    import threading

    from django.db import connection

    monkeypatch.setattr(bulk, "MARK_SESSIONS", 2)
    marked_by: dict[str, int] = {}
    mark_rounds = bulk._mark_rounds

    def counted_rounds(mark):
        changed = mark_rounds(mark)
        marked_by[threading.current_thread().name] = changed
        return changed

    monkeypatch.setattr(bulk, "_mark_rounds", counted_rounds)
    for _ in range(40):
        make_customer()
    body = draft(engineer_client, channels=["email"])
    engineer_client.post(f"{URL}{body['id']}/send/")
    notification_id = body["id"]

    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    before = sessions()
    assert delivery.messages_cancel_rest(notification_id=notification_id) == 40
    assert open_rows(notification_id) == 0
    assert len(marked_by) == 2 and sum(marked_by.values()) == 40  # no row counted twice
    assert sessions() == before  # the helper's session is closed
    stats = engineer_client.get(f"{URL}{notification_id}/stats/").json()
    assert stats["by_status"]["cancelled"] == 40
