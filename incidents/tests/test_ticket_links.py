"""Complaints raised during a known outage wait on it, and are resolved
with it; the customer hears of the resolution once."""

import datetime

import pytest
from django.utils import timezone

from customers.models import Customer
from delivery.models import Message, OutboxMessage
from incidents.tests.helpers import URL, declare, deliver
from tickets.models import Comment, Ticket, TicketEvent, TicketFieldChange

pytestmark = pytest.mark.django_db
TICKETS = "/api/tickets/"
ACTIVE = ("open", "assigned", "in_progress", "on_hold")


@pytest.fixture
def node(db):
    from customers.services import site_create

    site = site_create(code="NODE-1", name="North node", location="Moscow")
    site_create(code="SOUTH", name="South node")
    return site


@pytest.fixture
def carol(customer_user, node):
    customer = Customer.objects.get(user=customer_user)
    customer.last_mile_site = node
    customer.timezone = "Europe/Moscow"
    # Open all day, so the notice goes out whatever the hour the test runs at.
    customer.contact_window_start = customer.contact_window_end = datetime.time(0, 0)
    customer.save()
    return customer


def raise_ticket(client, **fields):
    payload = {"title": "No internet", "description": "Nothing works since 9."}
    payload.update(fields)
    response = client.post(TICKETS, payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_it_links_a_ticket_raised_inside_an_active_outage_and_answers_it(
    engineer_client, customer_client, carol, engineer
):
    eta = datetime.datetime(2030, 1, 1, 9, 0, tzinfo=datetime.UTC)
    outage = declare(engineer_client, eta=eta.isoformat())

    ticket = raise_ticket(customer_client)

    assert ticket["incident"] == outage["id"]
    assert ticket["assignee"] is None
    assert ticket["status"] == "open"
    [reply] = Comment.objects.filter(ticket_id=ticket["id"])
    assert not reply.internal
    assert "We already know about this outage" in reply.body
    assert "2030-01-01 12:00 MSK" in reply.body  # the ETA in Carol's zone
    comments = customer_client.get(f"{TICKETS}{ticket['id']}/comments/").json()["results"]
    assert any("We already know" in c["body"] for c in comments)
    change = TicketFieldChange.objects.get(event__ticket_id=ticket["id"], field="incident")
    assert change.new_value.startswith(outage["number"])
    detail = engineer_client.get(f"{URL}{outage['id']}/").json()
    assert detail["linked_tickets_count"] == 1
    linked = engineer_client.get(f"{URL}{outage['id']}/tickets/").json()["results"]
    assert [t["id"] for t in linked] == [ticket["id"]]


def test_a_ticket_from_outside_the_scope_is_assigned_as_usual(
    engineer_client, customer_client, carol, engineer
):
    declare(engineer_client, scope={"last_mile_site": ["SOUTH"]})
    ticket = raise_ticket(customer_client)
    assert ticket["incident"] is None
    assert ticket["assignee"] == engineer.pk


def test_a_resolved_outage_or_a_maintenance_does_not_link(
    engineer_client, customer_client, carol, engineer
):
    outage = declare(engineer_client)
    engineer_client.post(f"{URL}{outage['id']}/resolve/", {}, format="json")
    start = timezone.now() - datetime.timedelta(minutes=1)
    maintenance = declare(
        engineer_client,
        kind="maintenance",
        title="Router swap",
        scheduled_start=(timezone.now() + datetime.timedelta(hours=1)).isoformat(),
        scheduled_end=(timezone.now() + datetime.timedelta(hours=2)).isoformat(),
        body="We will swap the router.",
    )
    assert maintenance["status"] == "scheduled" and start

    ticket = raise_ticket(customer_client)

    assert ticket["incident"] is None
    assert ticket["assignee"] == engineer.pk


def test_a_draft_outage_does_not_link(engineer_client, customer_client, carol, engineer):
    declare(engineer_client, status="draft")
    assert raise_ticket(customer_client)["incident"] is None


def test_a_ticket_staff_raise_for_the_customer_links_too(engineer_client, carol, engineer):
    outage = declare(engineer_client)
    ticket = raise_ticket(engineer_client, customer=carol.pk)
    assert ticket["incident"] == outage["id"]
    assert ticket["assignee"] is None


def test_resolving_the_outage_resolves_linked_tickets_with_one_notice_to_the_customer(
    engineer_client, customer_client, carol, engineer
):
    outage = declare(engineer_client)
    ticket = raise_ticket(customer_client)
    deliver()
    before = OutboxMessage.objects.filter(to=carol.email).count()

    engineer_client.post(f"{URL}{outage['id']}/resolve/", {"body": "Fibre spliced."}, format="json")
    deliver()

    resolved = Ticket.objects.get(pk=ticket["id"])
    assert resolved.status == "resolved"
    assert resolved.resolved_at is not None
    assert outage["number"] in resolved.resolution
    new_mail = OutboxMessage.objects.filter(to=carol.email).order_by("id")[before:]
    assert [m.subject for m in new_mail] == ["Fibre cut on the north ring: resolved"]
    last_comment = Comment.objects.filter(ticket=resolved).last()
    assert "is resolved" in last_comment.body and not last_comment.internal
    assert Message.objects.filter(customer=carol, notification__isnull=True).count() == 1


def test_resolving_resolves_every_active_linked_ticket_once_and_leaves_the_others(
    engineer_client, customer_client, carol, engineer
):
    """Each active linked ticket, whatever its status, gets one public
    comment and one "resolved" event recording its status before; a linked
    ticket already finished and an unlinked one are left as they were."""
    outage = declare(engineer_client)
    linked = {status: raise_ticket(customer_client)["id"] for status in ACTIVE}
    for status, pk in linked.items():
        assignee = None if status == "open" else engineer
        Ticket.objects.filter(pk=pk).update(status=status, assignee=assignee)
    finished = raise_ticket(customer_client)["id"]
    Ticket.objects.filter(pk=finished).update(status="cancelled")
    outside = Ticket.objects.create(
        title="Slow", customer=carol, status="open", due_at=timezone.now(), created_by=engineer
    )
    counts_before = {
        pk: Comment.objects.filter(ticket_id=pk).count() for pk in [*linked.values(), finished]
    }

    response = engineer_client.post(f"{URL}{outage['id']}/resolve/", {}, format="json")

    assert response.status_code == 200
    for status, pk in linked.items():
        ticket = Ticket.objects.get(pk=pk)
        assert (ticket.status, ticket.resolution != "") == ("resolved", True)
        new_comments = list(Comment.objects.filter(ticket_id=pk)[counts_before[pk] :])
        assert [(c.internal, "is resolved" in c.body) for c in new_comments] == [(False, True)]
        [event] = TicketEvent.objects.filter(ticket_id=pk, kind="resolved")
        assert event.actor_id == engineer.pk
        assert [(c.field, c.old_value, c.new_value) for c in event.changes.all()] == [
            ("status", status, "resolved")
        ]
    assert Ticket.objects.get(pk=finished).status == "cancelled"
    assert Comment.objects.filter(ticket_id=finished).count() == counts_before[finished]
    assert not TicketEvent.objects.filter(ticket_id=finished, kind="resolved").exists()
    assert Ticket.objects.get(pk=outside.pk).status == "open"
    assert not TicketEvent.objects.filter(ticket=outside).exists()
    timeline = customer_client.get(f"{TICKETS}{linked['open']}/events/").json()["results"]
    assert timeline[-1]["kind"] == "resolved"


def test_staff_link_and_unlink_by_patch_and_unlinking_assigns_it(
    engineer_client, customer_client, carol, engineer
):
    ticket = raise_ticket(customer_client)  # before any outage: assigned
    outage = declare(engineer_client)

    linked = engineer_client.patch(
        f"{TICKETS}{ticket['id']}/", {"incident": outage["id"]}, format="json"
    )
    assert linked.status_code == 200
    assert linked.json()["incident"] == outage["id"]

    waiting = raise_ticket(customer_client)
    assert waiting["assignee"] is None
    unlinked = engineer_client.patch(
        f"{TICKETS}{waiting['id']}/", {"incident": None}, format="json"
    )
    assert unlinked.status_code == 200
    assert unlinked.json()["incident"] is None
    from tickets.services import tickets_assign_waiting

    tickets_assign_waiting()  # what the commit hook runs
    assert Ticket.objects.get(pk=waiting["id"]).assignee_id == engineer.pk
    events = engineer_client.get(f"{TICKETS}{waiting['id']}/events/").json()["results"]
    changes = [c for e in events for c in e.get("changes", []) if c["field"] == "incident"]
    assert changes[-1]["new"] is None
    assert changes[-1]["old"].startswith(outage["number"])


def test_linking_refuses_a_finished_incident_and_customers(
    engineer_client, customer_client, carol, engineer
):
    outage = declare(engineer_client, scope={"last_mile_site": ["SOUTH"]})
    engineer_client.post(f"{URL}{outage['id']}/resolve/", {}, format="json")
    ticket = raise_ticket(customer_client)

    refused = engineer_client.patch(
        f"{TICKETS}{ticket['id']}/", {"incident": outage["id"]}, format="json"
    )
    assert refused.status_code == 409
    unknown = engineer_client.patch(
        f"{TICKETS}{ticket['id']}/", {"incident": 999999}, format="json"
    )
    assert unknown.status_code == 400
    assert "999999" in unknown.json()["incident"][0]
    by_customer = customer_client.patch(
        f"{TICKETS}{ticket['id']}/", {"incident": None}, format="json"
    )
    assert by_customer.status_code == 403
    assert Ticket.objects.get(pk=ticket["id"]).incident_id is None


def test_a_ticket_raised_while_a_large_audience_is_being_frozen_is_linked(
    engineer_client, customer_client, carol, monkeypatch
):
    from incidents import services
    from incidents.models import Incident, IncidentCustomer

    # A scope over the inline limit is frozen by the first notice's task,
    # about a second after the request; this one has not run yet.
    monkeypatch.setattr(services, "INLINE_FREEZE_LIMIT", 0)
    outage = declare(engineer_client, notify=False)
    assert Incident.objects.get(pk=outage["id"]).audience_frozen_at is None
    assert not IncidentCustomer.objects.filter(incident_id=outage["id"]).exists()

    ticket = raise_ticket(customer_client)

    assert ticket["incident"] == outage["id"]
    listed = customer_client.get(URL).json()["results"]
    assert [i["id"] for i in listed] == [outage["id"]]
    assert engineer_client.get(f"{URL}{outage['id']}/").json()["linked_tickets_count"] == 1


def test_a_scope_not_yet_frozen_does_not_catch_a_customer_outside_it(
    engineer_client, other_customer_user, node, monkeypatch
):
    from conftest import client_for
    from incidents import services

    monkeypatch.setattr(services, "INLINE_FREEZE_LIMIT", 0)
    declare(engineer_client, notify=False)
    ticket = raise_ticket(client_for(other_customer_user))
    assert ticket["incident"] is None
