"""Due dates per priority (configurable), the overdue filter, and escalation
that raises priority one step once per level and tells the assignee and the
administrators."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from conftest import client_for
from delivery.models import Message
from tickets import services
from tickets.models import Status, Ticket, TicketEscalation
from tickets.sla import sla_target
from tickets.tasks import escalate_overdue_tickets
from tickets.tests.conftest import open_ticket

EXPECTED_HOURS = {"low": 120, "medium": 72, "high": 24, "critical": 4}


@pytest.mark.django_db
@pytest.mark.parametrize("priority,hours", EXPECTED_HOURS.items())
def test_it_sets_the_due_time_from_the_priority(customer_user, priority, hours):
    before = timezone.now()
    response = client_for(customer_user).post(
        "/api/tickets/", {"title": "Outage", "priority": priority}
    )
    assert response.status_code == 201
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert ticket.due_at - ticket.created_at == timedelta(hours=hours)
    assert before <= ticket.created_at <= timezone.now()


@pytest.mark.django_db
def test_it_reads_targets_from_the_environment(customer_user, monkeypatch):
    monkeypatch.setenv("TICKET_SLA_CRITICAL_RESOLUTION_MINUTES", "90")
    monkeypatch.setenv("TICKET_SLA_CRITICAL_RESPONSE_MINUTES", "5")
    ticket = open_ticket(customer_user, priority="critical")
    assert ticket.due_at - ticket.created_at == timedelta(minutes=90)
    assert sla_target(priority="critical").response == timedelta(minutes=5)


def test_it_refuses_a_bad_target_in_the_environment(monkeypatch):
    monkeypatch.setenv("TICKET_SLA_LOW_RESOLUTION_MINUTES", "soon")
    with pytest.raises(ImproperlyConfigured, match="TICKET_SLA_LOW_RESOLUTION_MINUTES"):
        sla_target(priority="low")


@pytest.mark.django_db
def test_it_moves_the_due_time_when_staff_change_the_priority(ticket_of_a, engineer):
    response = client_for(engineer).patch(
        f"/api/tickets/{ticket_of_a.pk}/", {"priority": "critical"}
    )
    assert response.status_code == 200
    ticket_of_a.refresh_from_db()
    assert ticket_of_a.due_at - ticket_of_a.created_at == timedelta(hours=4)
    fields = set(ticket_of_a.events.last().changes.values_list("field", flat=True))
    assert fields == {"priority", "due_at"}


def _make_overdue(ticket: Ticket, *, by: timedelta = timedelta(minutes=1)) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(due_at=timezone.now() - by)


@pytest.mark.django_db
class TestOverdue:
    def test_it_lists_only_active_overdue_tickets(self, customer_user, engineer, admin_user):
        late = open_ticket(customer_user)
        late_but_done = open_ticket(customer_user)
        on_time = open_ticket(customer_user)
        _make_overdue(late)
        _make_overdue(late_but_done)
        Ticket.objects.filter(pk=late_but_done.pk).update(status=Status.RESOLVED)
        client = client_for(admin_user)
        overdue = client.get("/api/tickets/?overdue=true").json()["results"]
        not_overdue = client.get("/api/tickets/?overdue=false").json()["results"]
        assert [t["id"] for t in overdue] == [late.pk]
        assert overdue[0]["is_overdue"] is True
        assert {t["id"] for t in not_overdue} == {late_but_done.pk, on_time.pk}


@pytest.mark.django_db
class TestEscalation:
    def test_it_raises_priority_one_step_and_notifies_assignee_and_admins(
        self, ticket_of_a, admin_user
    ):
        _make_overdue(ticket_of_a)
        Message.objects.all().delete()
        assert escalate_overdue_tickets() == 1
        ticket_of_a.refresh_from_db()
        assert ticket_of_a.priority == "high"
        assert ticket_of_a.escalation_level == 1
        # The raised priority's response target is the new deadline.
        assert ticket_of_a.due_at > timezone.now() + timedelta(minutes=55)
        event = ticket_of_a.events.get(kind="escalated")
        change = event.changes.get(field="priority")
        assert (change.old_value, change.new_value) == ("medium", "high")
        recipients = set(Message.objects.values_list("to_address", flat=True))
        assert recipients == {"eric_engineer@example.com", admin_user.email}

    def test_it_escalates_each_level_only_once(self, ticket_of_a, admin_user):
        _make_overdue(ticket_of_a)
        assert services.tickets_escalate_overdue() == 1
        assert services.tickets_escalate_overdue() == 0
        # Even if the deadline passes again at the same level.
        _make_overdue(ticket_of_a)
        Ticket.objects.filter(pk=ticket_of_a.pk).update(priority="medium")
        assert services.tickets_escalate_overdue() == 0
        ticket_of_a.refresh_from_db()
        assert ticket_of_a.priority == "medium"
        assert ticket_of_a.events.filter(kind="escalated").count() == 1

    def test_it_climbs_one_level_per_missed_deadline(self, ticket_of_a, admin_user):
        levels = []
        for _ in range(4):
            _make_overdue(ticket_of_a)
            services.tickets_escalate_overdue()
            ticket_of_a.refresh_from_db()
            levels.append(ticket_of_a.priority)
        assert levels == ["high", "critical", "critical", "critical"]
        assert set(TicketEscalation.objects.values_list("level", flat=True)) == {
            "high",
            "critical",
        }

    def test_it_notifies_once_about_an_overdue_critical_ticket(self, customer_user, admin_user):
        ticket = open_ticket(customer_user, priority="critical")
        _make_overdue(ticket, by=timedelta(hours=1))
        Message.objects.all().delete()
        assert services.tickets_escalate_overdue() == 1
        assert services.tickets_escalate_overdue(now=timezone.now() + timedelta(days=1)) == 0
        ticket.refresh_from_db()
        assert ticket.priority == "critical"
        assert Message.objects.filter(to_address=admin_user.email).count() == 1

    def test_it_leaves_finished_and_on_time_tickets_alone(self, customer_user, admin_user):
        done = open_ticket(customer_user)
        _make_overdue(done)
        Ticket.objects.filter(pk=done.pk).update(status=Status.CLOSED)
        open_ticket(customer_user)
        assert services.tickets_escalate_overdue() == 0
        assert not TicketEscalation.objects.exists()
