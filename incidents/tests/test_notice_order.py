"""No customer gets two notices of the same incident out of order, even with
a worker killed mid-way: real worker and beat processes, Redis and an SMTP
server on 127.0.0.1 (see notice_order_run.py for the run and the check)."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Role
from conftest import database_url_for_subprocess, make_user
from delivery import services as delivery
from delivery.models import Message, MessageStatus
from delivery.tests.fleet import Fleet
from delivery.tests.sinks import SmtpSink
from delivery.tests.test_reliability import broker_for_this_process, make_customers
from incidents.tests.helpers import declare, deliver, emails_to
from incidents.tests.notice_order_run import order_report, run_with_a_worker_killed

S = MessageStatus


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_no_customer_gets_notices_out_of_order_with_a_worker_killed(redis_url, tmp_path):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    customers = make_customers(300, prefix="o")
    engineer = make_user("olga_engineer", Role.ENGINEER)
    previous = broker_for_this_process(redis_url)
    with SmtpSink(delay=0.005) as smtp:
        fleet = Fleet(
            database_url=database_url_for_subprocess(),
            broker_url=redis_url,
            data_dir=tmp_path / "fleet",
            env={
                **smtp.env(),
                "DELIVERY_BATCH_SIZE": "25",
                "DELIVERY_LEASE_SECONDS": "5",
            },
        )
        try:
            for name in ("w0", "w1"):
                fleet.start_worker(name)
            fleet.start_beat()
            fleet.wait_ready()
            report = run_with_a_worker_killed(
                fleet=fleet,
                count=lambda: smtp.handler.count,
                copies=lambda: [copy.message_id for copy in smtp.received],
                scope={"customer_ids": [c.pk for c in customers]},
                created_by=engineer,
                timeout=120,
            )
        finally:
            fleet.stop()
            broker_for_this_process(previous)
    print(f"\n{report}")
    assert report.customers == 300
    assert report.out_of_order == 0
    assert report.missing_latest == 0
    assert report.latest_more_than_once == 0


def test_the_check_counts_an_older_notice_after_a_newer_one():
    ids = [
        "<notification-1.customer-7@x>",
        "<notification-2.customer-7@x>",
        "<notification-1.customer-7@x>",  # older after newer
        "<notification-3.customer-7@x>",
        "<notification-2.customer-8@x>",
        "<notification-2.customer-8@x>",  # a duplicate, in order
    ]
    report = order_report(message_ids=ids, notices=[1, 2, 3], customers={7, 8})
    assert (report.copies, report.out_of_order, report.duplicates) == (6, 1, 2)
    assert (report.missing_latest, report.latest_more_than_once) == (1, 0)


@pytest.fixture
def outage_of_three(engineer_client, make_customer):
    customers = [make_customer(email=f"c{n}@mail.example") for n in range(3)]
    incident = declare(
        engineer_client,
        scope={"customer_ids": [c.pk for c in customers]},
        respect_contact_window=False,
    )
    return incident, customers


def _post_update(engineer_client, incident: dict) -> int:
    response = engineer_client.post(
        f"/api/incidents/{incident['id']}/updates/",
        {"body": "Crews are on site.", "status": "identified"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["notification"]


@pytest.mark.django_db(transaction=True)
def test_a_first_notice_claimed_by_a_worker_that_died_is_never_sent_after_the_update(
    engineer_client, outage_of_three
):
    incident, customers = outage_of_three
    first = incident["updates"][0]["notification"]
    # A worker claims the first notice's messages and dies before sending them.
    claimed = delivery.message_claim_batch(limit=10)
    assert len(claimed) == 3
    second = _post_update(engineer_client, incident)
    # The update waits while the dead worker's lease runs: its rows are held.
    deliver()
    assert set(Message.objects.filter(notification_id=second).values_list("status", flat=True)) == {
        S.PENDING
    }
    assert not emails_to(customers[0].email)
    # The lease runs out: the first notice is superseded, the update goes.
    Message.objects.filter(pk__in=claimed).update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    Message.objects.filter(notification_id=second).update(next_attempt_at=timezone.now())
    deliver()
    assert set(Message.objects.filter(notification_id=first).values_list("status", flat=True)) == {
        S.SUPERSEDED
    }
    assert set(Message.objects.filter(notification_id=second).values_list("status", flat=True)) == {
        S.SENT
    }
    for customer in customers:
        [email] = emails_to(customer.email)
        assert f"<notification-{second}.customer-{customer.pk}@" in email.headers["Message-ID"]


@pytest.mark.django_db(transaction=True)
def test_an_older_notice_claimed_again_after_the_update_went_is_superseded(
    engineer_client, outage_of_three
):
    incident, customers = outage_of_three
    first = incident["updates"][0]["notification"]
    claimed = delivery.message_claim_batch(limit=10)
    second = _post_update(engineer_client, incident)
    # The dead worker's lease ran out only after the update had been sent.
    Message.objects.filter(pk__in=claimed).update(next_attempt_at=timezone.now())
    Message.objects.filter(notification_id=second).update(status=S.SENT, sent_at=timezone.now())
    deliver()
    assert set(Message.objects.filter(notification_id=first).values_list("status", flat=True)) == {
        S.SUPERSEDED
    }
    assert not emails_to(customers[0].email)


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_update_whose_rows_are_not_all_marked_yet_supersedes_nothing(
    engineer_client, outage_of_three, monkeypatch
):
    from delivery import bulk

    monkeypatch.setattr(bulk, "RANGE_IDS", 1)  # the cancel's request marks one row
    incident, customers = outage_of_three
    first = incident["updates"][0]["notification"]
    claimed = delivery.message_claim_batch(limit=10)  # a worker that died
    second = _post_update(engineer_client, incident)
    monkeypatch.setattr("notifications.services._cancel_rest_later", lambda pk: None)
    assert engineer_client.post(f"/api/notifications/{second}/cancel/").status_code == 200
    unmarked = Message.objects.filter(notification_id=second, status=S.PENDING)
    assert unmarked.count() == 2
    Message.objects.filter(pk__in=claimed).update(next_attempt_at=timezone.now())
    deliver()
    assert set(Message.objects.filter(notification_id=first).values_list("status", flat=True)) == {
        S.SENT
    }
    for customer in customers:
        [email] = emails_to(customer.email)
        assert f"<notification-{first}.customer-{customer.pk}@" in email.headers["Message-ID"]
