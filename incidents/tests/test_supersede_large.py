"""An incident update over an older notice larger than one range of message
ids: the update's own transaction supersedes the first range, a task the
rest; meanwhile no row of the older notice is sent, and the older notice
finishes once the task is done."""

import pytest

from delivery import bulk
from delivery.models import Message, MessageStatus
from delivery.tests.tally_check import counted, tallied
from incidents.tests.helpers import declare, deliver, emails_to
from notifications.models import Notification
from notifications.tasks import supersede_rest

CUSTOMERS = 17
S = MessageStatus


@pytest.fixture
def outage(engineer_client, make_customer, monkeypatch):
    monkeypatch.setattr(bulk, "RANGE_IDS", 5)
    customers = [make_customer(email=f"c{n}@mail.example") for n in range(CUSTOMERS)]
    incident = declare(
        engineer_client,
        scope={"customer_ids": [c.pk for c in customers]},
        respect_contact_window=False,
    )
    return incident, customers


def post_update(engineer_client, incident: dict) -> int:
    response = engineer_client.post(
        f"/api/incidents/{incident['id']}/updates/",
        {"body": "Crews are on site.", "status": "identified"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["notification"]


def by_status(notification_id: int) -> dict[str, int]:
    rows = Message.objects.filter(notification_id=notification_id)
    statuses = set(rows.values_list("status", flat=True))
    return {status: rows.filter(status=status).count() for status in statuses}


def test_the_update_supersedes_one_range_and_a_task_the_rest(
    engineer_client, outage, django_capture_on_commit_callbacks
):
    incident, customers = outage
    first = incident["updates"][0]["notification"]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        second = post_update(engineer_client, incident)
    assert any("_supersede_rest_later" in repr(callback) for callback in queued)
    left = by_status(first)
    assert 0 < left[S.PENDING] < CUSTOMERS  # the first range is superseded, the rest waits
    assert left[S.SUPERSEDED] == CUSTOMERS - left[S.PENDING]

    assert supersede_rest.apply(args=[second]).get() == left[S.PENDING]
    assert by_status(first) == {S.SUPERSEDED: CUSTOMERS}
    assert supersede_rest.apply(args=[second]).get() == 0  # a second run finds nothing
    assert Notification.objects.get(pk=first).status == Notification.Status.COMPLETED
    assert tallied() == counted()
    stats = engineer_client.get(f"/api/notifications/{first}/stats/").json()
    assert stats["by_status"]["superseded"] == CUSTOMERS
    assert stats["by_status"]["pending"] == 0

    deliver()
    for customer in customers:
        [email] = emails_to(customer.email)
        assert f"<notification-{second}.customer-{customer.pk}@" in email.headers["Message-ID"]


def test_rows_the_task_never_marked_are_superseded_by_the_worker_that_claims_them(
    engineer_client, outage, django_capture_on_commit_callbacks
):
    incident, customers = outage
    first = incident["updates"][0]["notification"]
    with django_capture_on_commit_callbacks(execute=False):
        second = post_update(engineer_client, incident)  # its task is lost
    assert by_status(first)[S.PENDING] > 0

    deliver()
    assert by_status(first) == {S.SUPERSEDED: CUSTOMERS}
    assert by_status(second) == {S.SENT: CUSTOMERS}
    for customer in customers:
        [email] = emails_to(customer.email)
        assert f"<notification-{second}.customer-{customer.pk}@" in email.headers["Message-ID"]
    assert tallied() == counted()
