"""Comments, internal notes, the audit trail and the emails about them."""

import pytest
from django.core import mail

from conftest import client_for
from delivery.models import Message
from tickets import emails, services
from tickets.models import Comment, TicketEvent
from tickets.tests.conftest import open_ticket


@pytest.mark.django_db
class TestComments:
    def test_a_customer_comment_is_seen_by_the_engineer(self, ticket_of_a, customer_user, engineer):
        client_for(customer_user).post(
            f"/api/tickets/{ticket_of_a.pk}/comments/", {"body": "Still down"}
        )
        comments = client_for(engineer).get(f"/api/tickets/{ticket_of_a.pk}/comments/").json()
        assert [(c["body"], c["author"], c["internal"]) for c in comments["results"]] == [
            ("Still down", customer_user.pk, False)
        ]

    def test_it_refuses_an_empty_comment(self, ticket_of_a, customer_user):
        response = client_for(customer_user).post(
            f"/api/tickets/{ticket_of_a.pk}/comments/", {"body": ""}
        )
        assert response.status_code == 400
        assert "body" in response.json()
        assert not Comment.objects.exists()

    def test_a_customer_cannot_write_an_internal_note(self, ticket_of_a, customer_user):
        response = client_for(customer_user).post(
            f"/api/tickets/{ticket_of_a.pk}/comments/", {"body": "psst", "internal": True}
        )
        assert response.status_code == 403
        assert not Comment.objects.exists()

    def test_a_public_comment_emails_the_other_side(self, ticket_of_a, engineer):
        Message.objects.all().delete()
        services.comment_create(ticket=ticket_of_a, author=engineer, body="On my way")
        assert list(Message.objects.values_list("to_address", flat=True)) == [
            "carol_customer@example.com"
        ]
        assert "On my way" in Message.objects.get().body

    def test_an_internal_note_emails_nobody(self, ticket_of_a, engineer):
        Message.objects.all().delete()
        services.comment_create(ticket=ticket_of_a, author=engineer, body="x", internal=True)
        assert not Message.objects.exists()


@pytest.mark.django_db
class TestAuditTrail:
    def test_it_records_who_changed_what_with_old_and_new_values(
        self, ticket_of_a, engineer, admin_user, other_engineer, fiber
    ):
        client_for(engineer).post(f"/api/tickets/{ticket_of_a.pk}/accept/")
        client_for(engineer).patch(
            f"/api/tickets/{ticket_of_a.pk}/",
            {"title": "Fiber cut", "priority": "high", "service_type": "fiber"},
        )
        client_for(admin_user).post(
            f"/api/tickets/{ticket_of_a.pk}/assign/", {"assignee": other_engineer.pk}
        )
        events = client_for(admin_user).get(f"/api/tickets/{ticket_of_a.pk}/events/").json()
        trail = [
            (
                e["kind"],
                e["actor_username"],
                {c["field"]: (c["old"], c["new"]) for c in e["changes"]},
            )
            for e in events["results"]
        ]
        assert trail[0][0] == "created"
        assert trail[1] == (
            "assigned",
            None,
            {"assignee": (None, "eric_engineer"), "status": ("open", "assigned")},
        )
        assert trail[2][0:2] == ("accepted", "eric_engineer")
        assert trail[2][2]["status"] == ("assigned", "in_progress")
        assert trail[3][0:2] == ("updated", "eric_engineer")
        assert trail[3][2]["title"] == ("No internet", "Fiber cut")
        assert trail[3][2]["priority"] == ("medium", "high")
        assert trail[3][2]["service_type"] == (None, "fiber")
        assert trail[4] == (
            "assigned",
            "alice_admin",
            {"assignee": ("eric_engineer", "yuri_engineer"), "status": ("in_progress", "assigned")},
        )

    def test_an_unchanged_edit_records_nothing(self, ticket_of_a, engineer):
        before = TicketEvent.objects.count()
        client_for(engineer).patch(f"/api/tickets/{ticket_of_a.pk}/", {"title": "No internet"})
        assert TicketEvent.objects.count() == before

    def test_the_admin_shows_the_trail(self, ticket_of_a, admin_user, client):
        admin_user.is_staff = admin_user.is_superuser = True
        admin_user.save()
        client.force_login(admin_user)
        page = client.get(f"/admin/tickets/ticket/{ticket_of_a.pk}/change/")
        assert page.status_code == 200
        assert "assignee: — → eric_engineer" in page.content.decode()
        listing = client.get("/admin/tickets/ticket/?q=internet")
        assert ticket_of_a.title in listing.content.decode()


@pytest.mark.django_db
class TestTicketEmails:
    def _messages(self):
        return sorted(Message.objects.values_list("to_address", "subject"))

    def test_creation_emails_the_customer_and_the_assignee(self, customer_user, engineer):
        ticket = open_ticket(customer_user)
        assert self._messages() == [
            ("carol_customer@example.com", f"[{ticket.number}] We received your request"),
            ("eric_engineer@example.com", f"[{ticket.number}] A ticket was assigned to you"),
        ]
        customer_copy = Message.objects.get(to_address="carol_customer@example.com")
        assert customer_copy.customer == customer_user.customer

    def test_status_changes_and_resolution_email_the_customer(self, ticket_of_a, engineer):
        Message.objects.all().delete()
        services.ticket_status_change(ticket=ticket_of_a, actor=engineer, status="on_hold")
        services.ticket_resolve(ticket=ticket_of_a, actor=engineer, resolution="New ONT")
        subjects = self._messages()
        on_hold = f"[{ticket_of_a.number}] Your request is on hold"
        assert ("carol_customer@example.com", on_hold) in subjects
        told = Message.objects.get(subject=on_hold).body
        assert "on_hold" not in told and "status" not in told.lower()
        resolved = Message.objects.get(subject__endswith="Your request is resolved")
        assert resolved.to_address == "carol_customer@example.com"
        assert "New ONT" in resolved.body

    def test_nothing_is_sent_when_the_change_is_rolled_back(self, customer_user, engineer):
        from django.db import transaction

        with pytest.raises(RuntimeError), transaction.atomic():
            open_ticket(customer_user)
            raise RuntimeError("database trouble")
        assert not Message.objects.exists()

    def test_without_the_pipeline_it_uses_django_email_after_commit(
        self, monkeypatch, customer_user, engineer, django_capture_on_commit_callbacks
    ):
        monkeypatch.setattr(emails, "transactional_emails_enqueue", None)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            open_ticket(customer_user)
        assert mail.outbox == []  # not inside the request's transaction
        for callback in callbacks:
            callback()
        assert sorted(m.to[0] for m in mail.outbox) == [
            "carol_customer@example.com",
            "eric_engineer@example.com",
        ]
