"""Planned maintenance runs by itself: announcement, reminder, start and
end notices at their times (a controllable clock stands in for beat's)."""

import datetime
from unittest import mock

import pytest
from django.utils import timezone

from delivery.models import Message, MessageStatus
from incidents import services
from incidents.models import Incident
from incidents.tests.helpers import URL, declare, deliver, emails_to, statuses
from notifications import services as notifications
from notifications.models import Notification

pytestmark = pytest.mark.django_db
S = MessageStatus
T0 = datetime.datetime(2031, 3, 10, 6, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


class Clock:
    def __init__(self, moment):
        self.moment = moment

    def __call__(self):
        return self.moment

    def to(self, moment):
        self.moment = moment


@pytest.fixture
def clock():
    moment = Clock(T0)
    with mock.patch("django.utils.timezone.now", moment):
        yield moment


@pytest.fixture
def people(make_customer):
    from customers.services import site_create

    node = site_create(code="NODE-1", name="North node")
    return [make_customer(name=f"Customer {i}", last_mile_site=node) for i in range(2)]


def announce(client, **fields):
    payload = {
        "kind": "maintenance",
        "title": "Core router upgrade",
        "scheduled_start": (T0 + 2 * HOUR).isoformat(),
        "scheduled_end": (T0 + 3 * HOUR).isoformat(),
        "reminder_minutes_before": 60,
        "body": "We will upgrade the core router from {{ incident.scheduled_start }} "
        "to {{ incident.scheduled_end }}.",
    }
    payload.update(fields)
    return declare(client, **payload)


def beat(clock, moment):
    """What beat runs every few seconds, at `moment`, then the workers."""
    clock.to(moment)
    notifications.notification_start_due(now=moment)
    services.incident_maintenance_advance(now=moment)
    deliver()


def subjects(customer) -> list[str]:
    return [m.subject for m in emails_to(customer.email)]


def test_it_runs_a_maintenance_from_announcement_to_end_by_itself(clock, engineer_client, people):
    body = announce(engineer_client)
    assert body["status"] == "scheduled"
    assert body["affected_count"] == 2
    deliver()
    assert subjects(people[0]) == ["Planned maintenance: Core router upgrade"]
    assert "2031-03-10 08:00 UTC" in emails_to(people[0].email)[0].body

    beat(clock, T0 + 30 * datetime.timedelta(minutes=1))
    assert len(subjects(people[0])) == 1  # nothing due yet

    beat(clock, T0 + HOUR)
    assert subjects(people[0])[-1] == "Reminder, planned maintenance: Core router upgrade"

    beat(clock, T0 + 2 * HOUR)
    incident = Incident.objects.get(pk=body["id"])
    assert incident.status == "in_progress"
    assert incident.started_at == T0 + 2 * HOUR
    assert subjects(people[0])[-1] == "Planned maintenance started: Core router upgrade"

    beat(clock, T0 + 3 * HOUR)
    incident.refresh_from_db()
    assert incident.status == "completed"
    assert incident.resolved_at == T0 + 3 * HOUR
    assert subjects(people[1]) == [
        "Planned maintenance: Core router upgrade",
        "Reminder, planned maintenance: Core router upgrade",
        "Planned maintenance started: Core router upgrade",
        "Planned maintenance completed: Core router upgrade",
    ]
    kinds = [u["kind"] for u in engineer_client.get(f"{URL}{body['id']}/").json()["updates"]]
    assert kinds == ["announcement", "start", "end"]


def test_each_step_is_taken_once_however_often_beat_runs(clock, engineer_client, people):
    announce(engineer_client)
    clock.to(T0 + 2 * HOUR)
    assert services.incident_maintenance_advance(now=T0 + 2 * HOUR) == 1
    assert services.incident_maintenance_advance(now=T0 + 2 * HOUR) == 0
    assert services.incident_maintenance_advance(now=T0 + 3 * HOUR) == 1
    assert services.incident_maintenance_advance(now=T0 + 4 * HOUR) == 0


def test_a_reminder_is_never_sent_after_the_start(clock, engineer_client, people):
    body = announce(
        engineer_client,
        scheduled_start=(T0 + 30 * datetime.timedelta(minutes=1)).isoformat(),
        reminder_minutes_before=60,
    )
    incident = Incident.objects.get(pk=body["id"])
    assert incident.reminder_notification_id is None


def test_a_reminder_held_back_by_the_contact_window_goes_stale_at_the_start(
    clock, engineer_client, make_customer
):
    from customers.services import site_create

    node = site_create(code="NODE-1", name="North node")
    # Open from 08:30 UTC: the 07:00 reminder could only arrive after the
    # 08:00 start, so it expires; the start notice waits until 08:30.
    late_riser = make_customer(
        last_mile_site=node,
        contact_window_start=datetime.time(8, 30),
        contact_window_end=datetime.time(20, 0),
    )
    body = announce(engineer_client)
    incident = Incident.objects.get(pk=body["id"])
    reminder = incident.reminder_notification_id
    start = incident.start_notification_id
    assert Notification.objects.get(pk=reminder).end_at == T0 + 2 * HOUR
    assert Notification.objects.get(pk=start).end_at == T0 + 3 * HOUR

    beat(clock, T0 + HOUR)
    assert statuses(reminder) == {late_riser.pk: S.EXPIRED}

    beat(clock, T0 + 2 * HOUR)
    assert statuses(start) == {late_riser.pk: S.DEFERRED}
    beat(clock, T0 + 2 * HOUR + 31 * datetime.timedelta(minutes=1))
    assert statuses(start) == {late_riser.pk: S.SENT}
    assert not Message.objects.filter(notification_id=reminder, status=S.SENT).exists()


def test_moving_the_window_reschedules_the_waiting_notices_and_tells_those_told(
    clock, engineer_client, people, make_customer
):
    body = announce(engineer_client)
    deliver()
    new_start, new_end = T0 + 5 * HOUR, T0 + 6 * HOUR

    response = engineer_client.patch(
        f"{URL}{body['id']}/",
        {"scheduled_start": new_start.isoformat(), "scheduled_end": new_end.isoformat()},
        format="json",
    )

    assert response.status_code == 200
    incident = Incident.objects.get(pk=body["id"])
    reminder = Notification.objects.get(pk=incident.reminder_notification_id)
    start = Notification.objects.get(pk=incident.start_notification_id)
    end = Notification.objects.get(pk=incident.end_notification_id)
    assert (reminder.start_at, reminder.end_at) == (new_start - HOUR, new_start)
    assert (start.start_at, start.end_at) == (new_start, new_end)
    assert end.start_at == new_end
    deliver()
    assert subjects(people[0])[-1] == "Planned maintenance moved: Core router upgrade"
    assert "2031-03-10 11:00 UTC" in emails_to(people[0].email)[-1].body

    beat(clock, T0 + 2 * HOUR)  # the old start: nothing happens
    assert Incident.objects.get(pk=body["id"]).status == "scheduled"
    beat(clock, new_start)
    assert Incident.objects.get(pk=body["id"]).status == "in_progress"


def test_a_window_cannot_move_into_the_past_or_end_before_it_starts(clock, engineer_client, people):
    body = announce(engineer_client)
    past = engineer_client.patch(
        f"{URL}{body['id']}/", {"scheduled_start": (T0 - HOUR).isoformat()}, format="json"
    )
    assert past.status_code == 400
    inverted = engineer_client.patch(
        f"{URL}{body['id']}/", {"scheduled_end": (T0 + HOUR).isoformat()}, format="json"
    )
    assert inverted.status_code == 400
    assert Incident.objects.get(pk=body["id"]).scheduled_start == T0 + 2 * HOUR


def test_cancelling_tells_those_told_and_leaves_no_automatic_notice_waiting(
    clock, engineer_client, people, make_customer
):
    body = announce(engineer_client)
    deliver()
    from customers.models import Site

    newcomer = make_customer(name="Newcomer", last_mile_site=Site.objects.get(code="NODE-1"))
    engineer_client.patch(
        f"{URL}{body['id']}/",
        {"scope": {"last_mile_site": ["NODE-1"], "customer_ids": [newcomer.pk]}},
        format="json",
    )  # the newcomer's announcement is still waiting when we cancel

    response = engineer_client.post(f"{URL}{body['id']}/cancel/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    incident = Incident.objects.get(pk=body["id"])
    for pk in (
        incident.reminder_notification_id,
        incident.start_notification_id,
        incident.end_notification_id,
    ):
        assert Notification.objects.get(pk=pk).status == "cancelled"
    cancellation = response.json()["updates"][-1]
    assert cancellation["kind"] == "cancellation"
    assert set(statuses(cancellation["notification"])) == {people[0].pk, people[1].pk}
    deliver()
    assert subjects(newcomer) == []
    beat(clock, T0 + 2 * HOUR)
    assert Incident.objects.get(pk=body["id"]).status == "cancelled"
    assert subjects(people[0])[-1] == "Planned maintenance cancelled: Core router upgrade"
    again = engineer_client.post(f"{URL}{body['id']}/cancel/", {}, format="json")
    assert again.status_code == 409


def test_completing_early_sends_the_end_notice_now(clock, engineer_client, people):
    body = announce(engineer_client)
    beat(clock, T0 + 2 * HOUR)

    clock.to(T0 + 2 * HOUR + 20 * datetime.timedelta(minutes=1))
    response = engineer_client.post(f"{URL}{body['id']}/complete/")

    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    deliver()
    assert subjects(people[0])[-1] == "Planned maintenance completed: Core router upgrade"
    beat(clock, T0 + 3 * HOUR)
    assert len([s for s in subjects(people[0]) if "completed" in s]) == 1
    assert engineer_client.post(f"{URL}{body['id']}/complete/").status_code == 409
    rca = engineer_client.post(f"{URL}{body['id']}/rca/", {"body": "All went well."}, format="json")
    assert rca.status_code == 200


def test_a_maintenance_must_be_in_the_future_and_cannot_be_resolved(clock, engineer_client, people):
    response = engineer_client.post(
        URL,
        {
            "kind": "maintenance",
            "title": "Late",
            "scope": {"last_mile_site": ["NODE-1"]},
            "scheduled_start": (T0 - HOUR).isoformat(),
            "scheduled_end": (T0 + HOUR).isoformat(),
            "body": "x",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "future" in response.json()["scheduled_start"][0]
    body = announce(engineer_client)
    assert engineer_client.post(f"{URL}{body['id']}/resolve/", {}, format="json").status_code == 409
    assert timezone.now() == T0


def test_odd_input_is_a_400_never_a_500(clock, engineer_client, people):
    for bad in (
        {"reminder_minutes_before": 10**9},
        {"reminder_minutes_before": -5},
        {"scope": "everyone"},
        {"channels": []},
        {"channels": ["fax"]},
        {"scheduled_start": "tomorrow"},
        {"kind": "volcano"},
    ):
        payload = {
            "kind": "maintenance",
            "title": "Odd",
            "scope": {"last_mile_site": ["NODE-1"]},
            "scheduled_start": (T0 + 2 * HOUR).isoformat(),
            "scheduled_end": (T0 + 3 * HOUR).isoformat(),
            "body": "Odd.",
            **bad,
        }
        response = engineer_client.post(URL, payload, format="json")
        assert response.status_code == 400, (bad, response.content)
    assert Incident.objects.count() == 0
