"""An outage from declaration to root cause, through the API, as engineers
run it and customers receive it."""

import datetime

import pytest
from django.utils import timezone

from customers.models import Site
from delivery.models import Message, MessageStatus
from incidents.models import Incident, IncidentCustomer
from incidents.tests.helpers import (
    URL,
    closed_window_now,
    declare,
    deliver,
    emails_to,
    statuses,
)
from notifications.models import Notification

pytestmark = pytest.mark.django_db
S = MessageStatus


@pytest.fixture
def north(db):
    from customers.services import site_create

    node = site_create(code="NODE-1", name="North node", location="Moscow")
    site_create(code="LM-1", name="Last mile 1", parent=node)
    site_create(code="SOUTH", name="South node", location="Tver")
    return node


@pytest.fixture
def people(make_customer, north):
    lm = Site.objects.get(code="LM-1")
    south = Site.objects.get(code="SOUTH")
    return {
        "anna": make_customer(name="Anna", last_mile_site=north),
        "boris": make_customer(name="Boris", last_mile_site=lm),
        "vera": make_customer(name="Vera", last_mile_site=south),
    }


def test_it_declares_an_outage_and_tells_the_subtree_at_once(engineer_client, people):
    body = declare(engineer_client)

    assert body["status"] == "investigating"
    assert body["number"] == f"INC-{body['id']:06d}"
    assert body["affected_count"] == 2
    assert body["started_at"] is not None
    [first] = body["updates"]
    assert first["notification"] is not None
    notice = Notification.objects.get(pk=first["notification"])
    assert notice.incident_id == body["id"]
    assert notice.kind == "outage"
    deliver()
    assert [m.subject for m in emails_to(people["anna"].email)] == ["Fibre cut on the north ring"]
    assert "Dear Boris" in emails_to(people["boris"].email)[0].body
    assert emails_to(people["vera"].email) == []


def test_it_refuses_an_empty_scope_saying_why(engineer_client, people):
    response = engineer_client.post(
        URL,
        {"kind": "outage", "title": "Down", "scope": {}, "body": "Down."},
        format="json",
    )
    assert response.status_code == 400
    assert "Name who is affected" in response.json()["scope"][0]
    assert Incident.objects.count() == 0


def test_it_refuses_an_unknown_site_code(engineer_client, people):
    response = engineer_client.post(
        URL,
        {"kind": "outage", "title": "Down", "scope": {"last_mile_site": ["NOPE"]}, "body": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "NOPE" in response.json()["scope"]["last_mile_site"][0]


def test_the_audience_is_frozen_at_declaration(engineer_client, people, make_customer, north):
    body = declare(engineer_client)
    make_customer(name="Late", last_mile_site=north)  # joins the site afterwards

    update = engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "We found the cut.", "status": "identified"},
        format="json",
    )

    assert update.status_code == 201
    notice = update.json()["notification"]
    assert set(statuses(notice)) == {people["anna"].pk, people["boris"].pk}


def test_an_update_names_the_eta_in_each_customers_zone(engineer_client, people):
    people["anna"].timezone = "Europe/Moscow"
    people["anna"].save()
    body = declare(engineer_client)
    eta = datetime.datetime(2030, 1, 1, 9, 0, tzinfo=datetime.UTC)

    response = engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {
            "body": "Repair crews are on site; expected back by {{ incident.eta }}.",
            "status": "identified",
            "eta": eta.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201
    deliver()

    anna = emails_to(people["anna"].email)[-1].body
    boris = emails_to(people["boris"].email)[-1].body
    assert "2030-01-01 12:00 MSK" in anna
    assert "2030-01-01 09:00 UTC" in boris


def test_a_template_naming_an_empty_value_is_refused_with_a_sentence(engineer_client, people):
    body = declare(engineer_client)
    response = engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "Restored by {{ incident.eta }}.", "status": "identified"},
        format="json",
    )
    assert response.status_code == 400
    assert "{{ incident.eta }}" in response.json()["body"][0]
    assert Incident.objects.get(pk=body["id"]).status == "investigating"

    guarded = engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "Working on it.{% if incident.eta %} Back by {{ incident.eta }}.{% endif %}"},
        format="json",
    )
    assert guarded.status_code == 201


def test_status_only_moves_forward(engineer_client, people):
    body = declare(engineer_client, status="monitoring")
    response = engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "Back to square one.", "status": "investigating"},
        format="json",
    )
    assert response.status_code == 409
    assert "only moves forward" in response.json()["detail"]


def test_a_newer_notice_supersedes_what_the_contact_window_held_back(engineer_client, people):
    closed = closed_window_now()
    for customer in (people["anna"],):
        for name, value in closed.items():
            setattr(customer, name, value)
        customer.save()
    body = declare(engineer_client)
    first = body["updates"][0]["notification"]
    deliver()
    assert statuses(first) == {people["anna"].pk: S.DEFERRED, people["boris"].pk: S.SENT}

    response = engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "Cause identified.", "status": "identified"},
        format="json",
    )
    second = response.json()["notification"]

    assert statuses(first) == {people["anna"].pk: S.SUPERSEDED, people["boris"].pk: S.SENT}
    assert (
        Message.objects.get(notification_id=first, customer=people["anna"]).next_attempt_at is None
    )
    assert statuses(second) == {people["anna"].pk: S.PENDING, people["boris"].pk: S.PENDING}
    stats = engineer_client.get(f"/api/notifications/{first}/stats/").json()
    assert stats["by_status"]["superseded"] == 1


def test_a_newer_notice_written_in_parts_supersedes_the_older_one_in_every_part(
    engineer_client, people, monkeypatch
):
    from notifications import services as notification_services

    # Parts of one customer: the two affected make a notice of two parts.
    monkeypatch.setattr(notification_services, "MATERIALISE_FIRST_PART", 1)
    monkeypatch.setattr(notification_services, "MATERIALISE_SQLITE_PART", 1)
    body = declare(engineer_client)
    first = body["updates"][0]["notification"]

    response = engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "Cause identified.", "status": "identified"},
        format="json",
    )
    second = response.json()["notification"]

    anna, boris = people["anna"].pk, people["boris"].pk
    assert statuses(first) == {anna: S.SUPERSEDED, boris: S.SUPERSEDED}
    assert statuses(second) == {anna: S.PENDING, boris: S.PENDING}


def test_the_resolution_is_the_only_notice_a_held_back_customer_wakes_up_to(
    engineer_client, people
):
    for name, value in closed_window_now().items():
        setattr(people["anna"], name, value)
    people["anna"].save()
    body = declare(engineer_client)
    engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "Identified.", "status": "identified"},
        format="json",
    )
    deliver()

    resolved = engineer_client.post(
        f"{URL}{body['id']}/resolve/", {"body": "Service is restored."}, format="json"
    )
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] is not None

    anna_rows = Message.objects.filter(customer=people["anna"]).order_by("notification_id")
    assert [m.status for m in anna_rows] == [S.SUPERSEDED, S.SUPERSEDED, S.PENDING]
    boris_rows = Message.objects.filter(customer=people["boris"]).order_by("notification_id")
    # Both of his first two were waiting when the update came: he got only the update.
    assert [m.status for m in boris_rows] == [S.SUPERSEDED, S.SENT, S.PENDING]


def test_resolving_twice_is_a_conflict(engineer_client, people):
    body = declare(engineer_client)
    assert engineer_client.post(f"{URL}{body['id']}/resolve/", {}, format="json").status_code == 200
    again = engineer_client.post(f"{URL}{body['id']}/resolve/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    late_update = engineer_client.post(
        f"{URL}{body['id']}/updates/", {"body": "More"}, format="json"
    )
    assert late_update.status_code == 409


def test_the_root_cause_goes_to_exactly_those_who_were_sent_a_notice(
    engineer_client, people, make_customer, north
):
    never_reached = make_customer(name="Gleb", last_mile_site=north, email="")
    held_back = make_customer(name="Dina", last_mile_site=north, **closed_window_now())
    body = declare(engineer_client)
    deliver()
    rca_early = engineer_client.post(
        f"{URL}{body['id']}/rca/", {"body": "A digger cut the fibre."}, format="json"
    )
    assert rca_early.status_code == 409
    engineer_client.post(f"{URL}{body['id']}/resolve/", {}, format="json")
    deliver()

    response = engineer_client.post(
        f"{URL}{body['id']}/rca/", {"body": "A digger cut the fibre."}, format="json"
    )

    assert response.status_code == 200
    rca = response.json()["rca"]
    assert rca["body"] == "A digger cut the fibre."
    assert set(statuses(rca["notification"])) == {people["anna"].pk, people["boris"].pk}
    assert never_reached.pk not in statuses(rca["notification"])
    assert held_back.pk not in statuses(rca["notification"])
    assert Notification.objects.get(pk=rca["notification"]).kind == "rca"
    again = engineer_client.post(f"{URL}{body['id']}/rca/", {"body": "Again."}, format="json")
    assert again.status_code == 409


def test_widening_the_scope_tells_only_the_newly_affected_the_latest_status(
    engineer_client, people
):
    body = declare(engineer_client)
    deliver()
    engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "The cause is found.", "status": "identified"},
        format="json",
    )
    deliver()

    response = engineer_client.patch(
        f"{URL}{body['id']}/",
        {"scope": {"last_mile_site": ["NODE-1", "SOUTH"]}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["affected_count"] == 3
    widening = response.json()["updates"][-1]
    assert widening["kind"] == "widening"
    assert set(statuses(widening["notification"])) == {people["vera"].pk}
    deliver()
    [vera_mail] = emails_to(people["vera"].email)
    assert "The cause is found." in vera_mail.body
    assert len(emails_to(people["anna"].email)) == 2


def test_a_draft_sends_nothing_until_its_first_update(engineer_client, people):
    body = declare(engineer_client, status="draft")
    assert body["updates"][0]["notification"] is None
    assert Message.objects.count() == 0

    response = engineer_client.post(
        f"{URL}{body['id']}/updates/", {"body": "Confirmed: fibre cut."}, format="json"
    )

    assert response.json()["status"] == "investigating"
    assert set(statuses(response.json()["notification"])) == {
        people["anna"].pk,
        people["boris"].pk,
    }


def test_notify_false_records_the_update_without_a_notice(engineer_client, people):
    body = declare(engineer_client)
    response = engineer_client.post(
        f"{URL}{body['id']}/updates/",
        {"body": "Internal: crew dispatched.", "notify": False},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["notification"] is None


def test_the_audience_lists_each_customer_with_their_latest_notice(engineer_client, people):
    body = declare(engineer_client)
    deliver()
    response = engineer_client.get(f"{URL}{body['id']}/audience/")
    assert response.status_code == 200
    rows = {row["customer"]["name"]: row for row in response.json()["results"]}
    assert set(rows) == {"Anna", "Boris"}
    assert rows["Anna"]["latest_notice"]["statuses"] == {"email": "sent"}
    assert rows["Boris"]["customer"]["last_mile_site"] == "LM-1"


def test_the_statistics_count_the_affected_and_the_notified(engineer_client, people):
    body = declare(engineer_client)
    deliver()
    stats = engineer_client.get(f"{URL}{body['id']}/stats/").json()
    assert stats["affected"] == 2
    assert stats["notified"] == 2
    assert stats["notices"][0]["by_status"]["sent"] == 2
    assert stats["seconds_to_90_percent_notified"] >= 0
    detail = engineer_client.get(f"{URL}{body['id']}/").json()
    assert detail["notified_count"] == 2


def test_the_list_filters_by_kind_status_active_site_and_search(engineer_client, people):
    north = declare(engineer_client, title="North ring down")
    south = declare(engineer_client, title="South flap", scope={"last_mile_site": ["SOUTH"]})
    engineer_client.post(f"{URL}{south['id']}/resolve/", {}, format="json")

    def ids(query):
        response = engineer_client.get(f"{URL}?{query}")
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids("kind=outage") == {north["id"], south["id"]}
    assert ids("kind=maintenance") == set()
    assert ids("active=true") == {north["id"]}
    assert ids("active=false") == {south["id"]}
    assert ids("status=resolved") == {south["id"]}
    assert ids("site=LM-1") == {north["id"]}
    assert ids("site=SOUTH") == {south["id"]}
    assert ids("search=north") == {north["id"]}
    assert ids(f"search=INC-{south['id']:06d}") == {south["id"]}


def test_frozen_audience_rows_are_unique_per_customer(engineer_client, people):
    body = declare(engineer_client)
    engineer_client.patch(
        f"{URL}{body['id']}/", {"scope": {"last_mile_site": ["NODE-1"]}}, format="json"
    )
    assert IncidentCustomer.objects.filter(incident_id=body["id"]).count() == 2


def test_an_sms_uses_the_short_text_and_its_segments_are_shown(engineer_client, people):
    body = declare(
        engineer_client,
        channels=["email", "sms"],
        sms_body="Outage at your site; we are on it.",
    )
    assert body["updates"][0]["sms_segments"] == 1
    deliver()
    from delivery.models import OutboxMessage

    sms = OutboxMessage.objects.filter(channel="sms", to=people["anna"].phone).get()
    assert sms.body == "Outage at your site; we are on it."
    email = emails_to(people["anna"].email)[0]
    assert "investigating" in email.body


def test_a_long_sms_text_is_refused(engineer_client, people):
    response = engineer_client.post(
        URL,
        {
            "kind": "outage",
            "title": "Down",
            "scope": {"last_mile_site": ["NODE-1"]},
            "channels": ["sms"],
            "body": "Down.",
            "sms_body": "x" * 400,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "3 segments" in response.json()["sms_body"][0]


def test_a_default_sms_is_derived_when_none_is_given(engineer_client, people):
    declare(engineer_client, channels=["sms"], title="Fibre cut " + "long " * 30)
    deliver()
    from delivery.models import OutboxMessage

    sms = OutboxMessage.objects.filter(channel="sms", to=people["anna"].phone).get()
    assert sms.body.endswith(": investigating.")
    assert len(sms.body) <= 160
    assert timezone.now()


def test_a_large_scope_is_frozen_by_the_first_notices_task_not_the_request(
    engineer_client, people, monkeypatch, make_customer, north
):
    from incidents import services

    monkeypatch.setattr(services, "INLINE_FREEZE_LIMIT", 1)
    monkeypatch.setattr("notifications.services.INLINE_MATERIALISE_LIMIT", 1)
    body = declare(engineer_client)

    assert body["affected_count"] == 2  # counted from the scope meanwhile
    assert IncidentCustomer.objects.filter(incident_id=body["id"]).count() == 0
    make_customer(name="Joined before the task ran", last_mile_site=north)
    notice = Notification.objects.get(pk=body["updates"][0]["notification"])
    from notifications.services import notification_materialise

    notification_materialise(notification=notice)  # what the task does

    frozen = set(
        IncidentCustomer.objects.filter(incident_id=body["id"]).values_list(
            "customer_id", flat=True
        )
    )
    assert len(frozen) == 3
    assert set(statuses(notice.pk)) == frozen
    assert Incident.objects.get(pk=body["id"]).audience_frozen_at is not None


def test_beat_freezes_an_audience_no_task_froze(engineer_client, people, monkeypatch):
    from incidents import services

    monkeypatch.setattr(services, "INLINE_FREEZE_LIMIT", 1)
    body = declare(engineer_client, notify=False)
    assert IncidentCustomer.objects.filter(incident_id=body["id"]).count() == 0
    services.incident_maintenance_advance(now=timezone.now())
    assert IncidentCustomer.objects.filter(incident_id=body["id"]).count() == 0  # not yet stale
    services.incident_maintenance_advance(now=timezone.now() + datetime.timedelta(minutes=2))
    assert IncidentCustomer.objects.filter(incident_id=body["id"]).count() == 2
