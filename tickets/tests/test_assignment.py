"""Automatic assignment: least loaded first, ties to the one idle longest,
limits and availability respected, waiting tickets picked up later, and no
overfilling under concurrent creation (PostgreSQL)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from accounts.models import User
from accounts.services import user_decide, user_update
from conftest import client_for
from tickets import services
from tickets.models import Status, Ticket
from tickets.tests.conftest import new_engineer, open_ticket


@pytest.mark.django_db
class TestAutomaticAssignment:
    def test_it_gives_a_new_ticket_to_the_least_loaded_engineer(
        self, customer_user, engineer, other_engineer
    ):
        first = open_ticket(customer_user)
        second = open_ticket(customer_user)
        assert {first.assignee, second.assignee} == {engineer, other_engineer}
        assert first.status == second.status == Status.ASSIGNED

    def test_it_breaks_ties_by_who_has_been_idle_longest(
        self, customer_user, engineer, other_engineer
    ):
        now = timezone.now()
        User.objects.filter(pk=engineer.pk).update(last_assigned_at=now - timedelta(minutes=5))
        User.objects.filter(pk=other_engineer.pk).update(last_assigned_at=now - timedelta(hours=2))
        assert open_ticket(customer_user).assignee == other_engineer

    def test_it_prefers_an_engineer_never_assigned_before(self, customer_user, engineer):
        User.objects.filter(pk=engineer.pk).update(last_assigned_at=timezone.now())
        newcomer = new_engineer("nina_new")
        assert open_ticket(customer_user).assignee == newcomer

    def test_it_skips_unavailable_full_inactive_and_unapproved_engineers(
        self, customer_user, engineer, other_engineer, pending_engineer
    ):
        other_engineer.is_available = False
        other_engineer.save()
        engineer.max_open_tickets = 1
        engineer.save()
        new_engineer("ivan_inactive", is_active=False)
        assert open_ticket(customer_user).assignee == engineer
        waiting = open_ticket(customer_user)
        assert waiting.assignee is None
        assert waiting.status == Status.OPEN

    def test_it_counts_only_unfinished_tickets_as_load(self, customer_user, engineer):
        engineer.max_open_tickets = 1
        engineer.save()
        first = open_ticket(customer_user)
        services.ticket_resolve(ticket=first, actor=engineer, resolution="done")
        assert open_ticket(customer_user).assignee == engineer

    def test_it_records_the_assignment_time_on_the_engineer(self, customer_user, engineer):
        open_ticket(customer_user)
        engineer.refresh_from_db()
        assert engineer.last_assigned_at is not None


@pytest.mark.django_db
class TestWaitingTickets:
    def test_it_assigns_a_waiting_ticket_when_an_engineer_is_approved(
        self, customer_user, pending_engineer, admin_user, django_capture_on_commit_callbacks
    ):
        waiting = open_ticket(customer_user)
        assert waiting.status == Status.OPEN
        with django_capture_on_commit_callbacks(execute=True):
            user_decide(user=pending_engineer, approved=True, decided_by=admin_user)
        waiting.refresh_from_db()
        assert (waiting.assignee, waiting.status) == (pending_engineer, Status.ASSIGNED)

    def test_it_assigns_waiting_tickets_when_an_engineer_becomes_available(
        self, customer_user, engineer, django_capture_on_commit_callbacks
    ):
        user_update(user=engineer, data={"is_available": False})
        waiting = [open_ticket(customer_user) for _ in range(3)]
        assert all(t.assignee is None for t in waiting)
        with django_capture_on_commit_callbacks(execute=True):
            user_update(user=engineer, data={"is_available": True, "max_open_tickets": 2})
        assigned = Ticket.objects.filter(assignee=engineer).count()
        assert assigned == 2
        assert Ticket.objects.filter(status=Status.OPEN, assignee=None).count() == 1

    def test_it_assigns_the_earliest_due_waiting_ticket_when_a_ticket_closes(
        self, customer_user, engineer, django_capture_on_commit_callbacks
    ):
        engineer.max_open_tickets = 1
        engineer.save()
        busy = open_ticket(customer_user)
        low = open_ticket(customer_user, priority="low")
        critical = open_ticket(customer_user, priority="critical")
        with django_capture_on_commit_callbacks(execute=True):
            client_for(engineer).post(
                f"/api/tickets/{busy.pk}/resolve/", {"resolution": "Replaced the cable"}
            )
        critical.refresh_from_db()
        low.refresh_from_db()
        assert critical.assignee == engineer
        assert low.assignee is None

    def test_the_periodic_task_assigns_waiting_tickets(self, customer_user, engineer):
        from tickets.tasks import assign_waiting_tickets

        User.objects.filter(pk=engineer.pk).update(is_available=False)
        waiting = open_ticket(customer_user)
        assert assign_waiting_tickets() == 0
        User.objects.filter(pk=engineer.pk).update(is_available=True)
        assert assign_waiting_tickets() == 1
        waiting.refresh_from_db()
        assert waiting.assignee == engineer
        assert waiting.events.filter(kind="assigned").count() == 1

    def test_waiting_tickets_follow_the_rule_of_new_ones_load_then_longest_idle(
        self, customer_user, engineer, other_engineer
    ):
        """One rule gives both: the least loaded first, ties to the one idle
        longest; and each given ticket counts towards the next choice."""
        User.objects.filter(pk__in=[engineer.pk, other_engineer.pk]).update(is_available=False)
        waiting = [open_ticket(customer_user) for _ in range(3)]
        now = timezone.now()
        User.objects.filter(pk=engineer.pk).update(
            is_available=True, last_assigned_at=now - timedelta(minutes=5)
        )
        User.objects.filter(pk=other_engineer.pk).update(
            is_available=True, last_assigned_at=now - timedelta(hours=2)
        )
        assert services.tickets_assign_waiting() == 3
        given = [Ticket.objects.get(pk=t.pk).assignee for t in waiting]
        # Equal loads: the one idle longest; then the other (less loaded);
        # then equal loads again, both just assigned: the lower id.
        assert given == [other_engineer, engineer, engineer]

    def test_a_waiting_ticket_and_a_new_one_leave_the_same_assignment_in_their_trail(
        self, customer_user, engineer
    ):
        User.objects.filter(pk=engineer.pk).update(is_available=False)
        waiting = open_ticket(customer_user)
        User.objects.filter(pk=engineer.pk).update(is_available=True)
        services.tickets_assign_waiting()
        fresh = open_ticket(customer_user)

        def assignment(ticket):
            event = ticket.events.get(kind="assigned")
            return event.actor_id, sorted(
                event.changes.values_list("field", "old_value", "new_value")
            )

        expected = (None, [("assignee", None, engineer.username), ("status", "open", "assigned")])
        assert assignment(waiting) == assignment(fresh) == expected


@pytest.mark.django_db
class TestAdminAssignment:
    def test_it_reassigns_and_frees_the_previous_engineer(
        self, ticket_of_a, admin_user, other_engineer
    ):
        response = client_for(admin_user).post(
            f"/api/tickets/{ticket_of_a.pk}/assign/", {"assignee": other_engineer.pk}
        )
        assert response.status_code == 200
        assert response.json()["assignee"] == other_engineer.pk
        assert response.json()["status"] == "assigned"
        change = ticket_of_a.events.last().changes.get(field="assignee")
        assert (change.old_value, change.new_value) == ("eric_engineer", "yuri_engineer")

    def test_it_refuses_a_customer_or_unknown_user_as_assignee(
        self, ticket_of_a, admin_user, customer_user
    ):
        client = client_for(admin_user)
        url = f"/api/tickets/{ticket_of_a.pk}/assign/"
        assert client.post(url, {"assignee": customer_user.pk}).status_code == 400
        assert client.post(url, {"assignee": 99999}).status_code == 400
        ticket_of_a.refresh_from_db()
        assert ticket_of_a.assignee.username == "eric_engineer"

    def test_it_refuses_to_assign_a_finished_ticket(self, ticket_of_a, admin_user, other_engineer):
        Ticket.objects.filter(pk=ticket_of_a.pk).update(status=Status.CLOSED)
        response = client_for(admin_user).post(
            f"/api/tickets/{ticket_of_a.pk}/assign/", {"assignee": other_engineer.pk}
        )
        assert response.status_code == 409
        ticket_of_a.refresh_from_db()
        assert ticket_of_a.assignee.username == "eric_engineer"
        assert ticket_of_a.status == Status.CLOSED
        assert (
            not ticket_of_a.events.filter(changes__field="assignee")
            .exclude(changes__new_value="eric_engineer")
            .exists()
        )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_never_overfill_an_engineer(postgres, customer_user):
    engineers = [new_engineer(f"eng{i}", max_open_tickets=5) for i in range(3)]
    customer = customer_user.customer
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def create_five():
        try:
            barrier.wait()
            for n in range(5):
                services.ticket_create(actor=customer_user, customer=customer, title=f"t{n}")
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create_five) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert connection.vendor == "postgresql"
    assert Ticket.objects.count() == 50
    loads = [Ticket.objects.filter(assignee=e, status="assigned").count() for e in engineers]
    assert max(loads) <= 5
    assert max(loads) - min(loads) <= 1
    assert sum(loads) == 15
    assert Ticket.objects.filter(status="open", assignee=None).count() == 35
