"""The state machine, every pair: legal transitions succeed, illegal ones
are 409 naming the allowed statuses, and nothing changes."""

import pytest

from conftest import client_for
from tickets.models import Status, Ticket, TicketEvent
from tickets.transitions import TRANSITIONS

ALL = [s.value for s in Status]
PAIRS = [(current, target) for current in ALL for target in ALL]


def _put_in(ticket: Ticket, status: str, engineer) -> Ticket:
    assignee = None if status == Status.OPEN else engineer
    Ticket.objects.filter(pk=ticket.pk).update(status=status, assignee=assignee)
    ticket.refresh_from_db()
    return ticket


@pytest.mark.django_db
@pytest.mark.parametrize("current,target", PAIRS, ids=[f"{c}->{t}" for c, t in PAIRS])
def test_it_allows_exactly_the_transitions_of_the_table(ticket_of_a, engineer, current, target):
    ticket = _put_in(ticket_of_a, current, engineer)
    response = client_for(engineer).post(
        f"/api/tickets/{ticket.pk}/status/", {"status": target, "note": "checked the line"}
    )
    ticket.refresh_from_db()
    if target in TRANSITIONS[current]:
        assert response.status_code == 200, response.json()
        assert ticket.status == target
        assert response.json()["status"] == target
        change = TicketEvent.objects.filter(ticket=ticket).last().changes.get(field="status")
        assert (change.old_value, change.new_value) == (current, target)
    else:
        assert response.status_code == 409
        body = response.json()
        assert body["code"] == "illegal_transition"
        assert body["allowed"] == [str(s) for s in TRANSITIONS[current]]
        assert "allowed:" in body["detail"]
        assert ticket.status == current


@pytest.mark.django_db
@pytest.mark.parametrize("current", ALL)
def test_it_accepts_only_from_open_assigned_or_on_hold(ticket_of_a, engineer, current):
    ticket = _put_in(ticket_of_a, current, engineer)
    response = client_for(engineer).post(f"/api/tickets/{ticket.pk}/accept/")
    ticket.refresh_from_db()
    if current in (Status.OPEN, Status.ASSIGNED, Status.ON_HOLD):
        assert response.status_code == 200
        assert ticket.status == Status.IN_PROGRESS
        assert ticket.assignee == engineer
        assert ticket.accepted_at is not None
    else:
        assert response.status_code == 409
        assert ticket.status == current


@pytest.mark.django_db
@pytest.mark.parametrize("current", ALL)
def test_it_resolves_only_work_in_hand(ticket_of_a, engineer, current):
    ticket = _put_in(ticket_of_a, current, engineer)
    response = client_for(engineer).post(
        f"/api/tickets/{ticket.pk}/resolve/", {"resolution": "Replaced the ONT"}
    )
    ticket.refresh_from_db()
    if current in (Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD):
        assert response.status_code == 200
        assert ticket.status == Status.RESOLVED
        assert ticket.resolution == "Replaced the ONT"
        assert ticket.resolved_at is not None
    else:
        assert response.status_code == 409
        assert ticket.status == current
        assert ticket.resolution == ""


@pytest.mark.django_db
class TestTransitionDetails:
    def test_it_makes_the_accepting_engineer_the_assignee_of_a_waiting_ticket(
        self, ticket_of_a, other_engineer
    ):
        ticket = _put_in(ticket_of_a, Status.OPEN, None)
        response = client_for(other_engineer).post(f"/api/tickets/{ticket.pk}/accept/")
        assert response.status_code == 200
        assert response.json()["assignee"] == other_engineer.pk

    def test_it_refuses_an_admin_starting_work_on_an_unassigned_ticket(
        self, ticket_of_a, admin_user
    ):
        ticket = _put_in(ticket_of_a, Status.OPEN, None)
        response = client_for(admin_user).post(
            f"/api/tickets/{ticket.pk}/status/", {"status": "in_progress"}
        )
        assert response.status_code == 400
        assert "Assign an engineer" in response.json()["status"][0]

    def test_it_reopens_a_resolved_ticket_and_clears_the_resolution_time(
        self, ticket_of_a, engineer
    ):
        client = client_for(engineer)
        client.post(f"/api/tickets/{ticket_of_a.pk}/resolve/", {"resolution": "Rebooted"})
        response = client.post(f"/api/tickets/{ticket_of_a.pk}/status/", {"status": "in_progress"})
        assert response.status_code == 200
        assert response.json()["resolved_at"] is None

    def test_it_uses_the_note_as_resolution_when_resolving_through_status(
        self, ticket_of_a, engineer
    ):
        response = client_for(engineer).post(
            f"/api/tickets/{ticket_of_a.pk}/status/", {"status": "resolved", "note": "Fixed"}
        )
        assert response.json()["resolution"] == "Fixed"

    def test_it_requires_a_resolution_text(self, ticket_of_a, engineer):
        response = client_for(engineer).post(f"/api/tickets/{ticket_of_a.pk}/resolve/", {})
        assert response.status_code == 400
        assert "resolution" in response.json()

    def test_it_rejects_an_unknown_status_with_400(self, ticket_of_a, engineer):
        response = client_for(engineer).post(
            f"/api/tickets/{ticket_of_a.pk}/status/", {"status": "done"}
        )
        assert response.status_code == 400
        assert "status" in response.json()

    def test_it_lets_a_customer_cancel_their_waiting_ticket(self, ticket_of_a, customer_user):
        response = client_for(customer_user).post(
            f"/api/tickets/{ticket_of_a.pk}/status/", {"status": "cancelled"}
        )
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"

    def test_it_refuses_other_statuses_to_customers(self, ticket_of_a, customer_user):
        response = client_for(customer_user).post(
            f"/api/tickets/{ticket_of_a.pk}/status/", {"status": "resolved"}
        )
        assert response.status_code == 403
        ticket_of_a.refresh_from_db()
        assert ticket_of_a.status == Status.ASSIGNED

    def test_it_refuses_patching_the_status(self, ticket_of_a, engineer):
        response = client_for(engineer).patch(
            f"/api/tickets/{ticket_of_a.pk}/", {"status": "closed"}
        )
        assert response.status_code == 400
        assert "/status/" in response.json()["status"][0]

    def test_it_accepts_an_unchanged_status_echoed_back_in_a_patch(self, ticket_of_a, engineer):
        response = client_for(engineer).patch(
            f"/api/tickets/{ticket_of_a.pk}/",
            {"status": "assigned", "title": "Router dead"},
        )
        assert response.status_code == 200
        assert response.json()["title"] == "Router dead"
