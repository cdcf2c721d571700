"""Customer interactions: logging them, the recent list, and statistics by
kind and by engineer over a period, computed in the database."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import client_for
from tickets.models import Interaction


def _log(client, **fields):
    return client.post("/api/interactions/", fields, format="json")


@pytest.mark.django_db
class TestLogging:
    def test_it_links_the_interaction_to_the_tickets_customer(self, ticket_of_a, engineer):
        response = _log(
            client_for(engineer), ticket=ticket_of_a.pk, kind="call", duration_seconds=300
        )
        assert response.status_code == 201
        body = response.json()
        assert body["customer"] == ticket_of_a.customer_id
        assert body["created_by"] == engineer.pk
        assert body["kind"] == "call"

    def test_it_accepts_a_customer_without_a_ticket(self, customer_user, engineer):
        response = _log(
            client_for(engineer), customer=customer_user.customer.pk, kind="visit", notes="Fixed"
        )
        assert response.status_code == 201
        assert response.json()["ticket"] is None

    @pytest.mark.parametrize(
        "fields,field",
        [
            ({"kind": "call"}, "customer"),
            ({"kind": "fax", "customer": "{c}"}, "kind"),
            ({"kind": "call", "customer": "{c}", "duration_seconds": -5}, "duration_seconds"),
            ({"kind": "call", "customer": "{other}", "ticket": "{t}"}, "ticket"),
        ],
    )
    def test_it_rejects_bad_input_with_400(
        self, ticket_of_a, engineer, other_customer_user, fields, field
    ):
        ids = {
            "{c}": ticket_of_a.customer_id,
            "{other}": other_customer_user.customer.pk,
            "{t}": ticket_of_a.pk,
        }
        data = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
        response = _log(client_for(engineer), **data)
        assert response.status_code == 400
        assert field in response.json()
        assert not Interaction.objects.exists()

    def test_it_filters_the_list_by_kind_and_customer(
        self, ticket_of_a, engineer, other_customer_user
    ):
        client = client_for(engineer)
        _log(client, ticket=ticket_of_a.pk, kind="call")
        _log(client, customer=other_customer_user.customer.pk, kind="sms")
        calls = client.get("/api/interactions/?kind=call").json()["results"]
        theirs = client.get(
            f"/api/interactions/?customer={other_customer_user.customer.pk}"
        ).json()["results"]
        assert [i["kind"] for i in calls] == ["call"]
        assert [i["kind"] for i in theirs] == ["sms"]


@pytest.mark.django_db
class TestRecentAndStats:
    @pytest.fixture
    def history(self, customer_user, engineer, other_engineer):
        customer = customer_user.customer
        now = timezone.now()
        rows = [
            ("call", 120, engineer, 1),
            ("call", 60, engineer, 2),
            ("visit", 1800, other_engineer, 3),
            ("email", 0, other_engineer, 5),
            ("call", 999, engineer, 40),  # outside a 30-day period
        ]
        for kind, seconds, who, days_ago in rows:
            interaction = Interaction.objects.create(
                customer=customer, kind=kind, duration_seconds=seconds, created_by=who
            )
            Interaction.objects.filter(pk=interaction.pk).update(
                created_at=now - timedelta(days=days_ago)
            )

    def test_recent_lists_the_last_days_newest_first(self, history, engineer):
        response = client_for(engineer).get("/api/interactions/recent/?days=4")
        results = response.json()["results"]
        assert [(i["kind"], i["duration_seconds"]) for i in results] == [
            ("call", 120),
            ("call", 60),
            ("visit", 1800),
        ]

    def test_recent_rejects_a_non_numeric_period(self, history, engineer):
        response = client_for(engineer).get("/api/interactions/recent/?days=week")
        assert response.status_code == 400

    def test_stats_count_and_sum_by_kind_and_engineer(self, history, engineer, other_engineer):
        since = (timezone.now() - timedelta(days=30)).date().isoformat()
        stats = client_for(engineer).get(f"/api/interactions/stats/?since={since}").json()
        assert stats["total"] == {
            "count": 4,
            "total_duration_seconds": 1980,
            "average_duration_seconds": 495.0,
        }
        assert stats["by_kind"]["call"] == {
            "count": 2,
            "total_duration_seconds": 180,
            "average_duration_seconds": 90.0,
        }
        assert stats["by_kind"]["chat"]["count"] == 0
        by_engineer = {row["username"]: row for row in stats["by_engineer"]}
        assert by_engineer["eric_engineer"]["count"] == 2
        assert by_engineer["yuri_engineer"]["total_duration_seconds"] == 1800
        assert by_engineer["yuri_engineer"]["average_duration_seconds"] == 900.0

    def test_stats_read_a_time_without_offset_as_utc(self, history, engineer):
        since = (timezone.now() - timedelta(days=4)).strftime("%Y-%m-%dT%H:%M")
        stats = client_for(engineer).get(f"/api/interactions/stats/?since={since}").json()
        assert stats["total"]["count"] == 3
        assert stats["since"].endswith("Z")

    def test_stats_default_to_the_last_30_days(self, history, engineer):
        stats = client_for(engineer).get("/api/interactions/stats/").json()
        assert stats["total"]["count"] == 4

    def test_stats_reject_a_bad_since(self, history, engineer):
        response = client_for(engineer).get("/api/interactions/stats/?since=last-week")
        assert response.status_code == 400
        assert "since" in response.json()


@pytest.mark.django_db
class TestEngineers:
    def test_it_lists_approved_engineers_with_their_load(
        self, ticket_of_a, engineer, other_engineer, pending_engineer
    ):
        body = client_for(engineer).get("/api/engineers/").json()
        loads = {e["username"]: e["open_tickets"] for e in body["results"]}
        assert loads == {"eric_engineer": 1, "yuri_engineer": 0}

    def test_available_leaves_out_full_and_unavailable_engineers(
        self, ticket_of_a, engineer, other_engineer, admin_user
    ):
        engineer.max_open_tickets = 1
        engineer.save()
        client = client_for(admin_user)
        names = [e["username"] for e in client.get("/api/engineers/available/").json()["results"]]
        assert names == ["yuri_engineer"]
        other_engineer.is_available = False
        other_engineer.save()
        assert client.get("/api/engineers/available/").json()["count"] == 0
        full = client.get(f"/api/engineers/{engineer.pk}/").json()
        assert (full["open_tickets"], full["available"]) == (1, False)


@pytest.mark.django_db
class TestEngineerAvailability:
    def test_an_engineer_sets_their_own_availability_and_gets_waiting_work(
        self, engineer, customer_user, django_capture_on_commit_callbacks
    ):
        from tickets.tests.conftest import open_ticket

        client = client_for(engineer)
        assert (
            client.patch(f"/api/engineers/{engineer.pk}/", {"is_available": False}).json()[
                "available"
            ]
            is False
        )
        waiting = open_ticket(customer_user)
        assert waiting.assignee is None
        with django_capture_on_commit_callbacks(execute=True):
            response = client.patch(f"/api/engineers/{engineer.pk}/", {"is_available": True})
        assert response.json()["available"] is True
        assert client.get(f"/api/engineers/{engineer.pk}/").json()["open_tickets"] == 1
        waiting.refresh_from_db()
        assert waiting.assignee == engineer

    def test_an_engineer_cannot_change_a_limit_or_a_colleague(self, engineer, other_engineer):
        client = client_for(engineer)
        own_limit = client.patch(f"/api/engineers/{engineer.pk}/", {"max_open_tickets": 99})
        colleague = client.patch(f"/api/engineers/{other_engineer.pk}/", {"is_available": False})
        assert (own_limit.status_code, colleague.status_code) == (403, 403)
        other_engineer.refresh_from_db()
        engineer.refresh_from_db()
        assert (engineer.max_open_tickets, other_engineer.is_available) == (10, True)

    def test_an_admin_sets_the_limit(self, admin_user, engineer, customer_user):
        response = client_for(admin_user).patch(
            f"/api/engineers/{engineer.pk}/", {"max_open_tickets": 3}
        )
        assert response.status_code == 200
        assert response.json()["max_open_tickets"] == 3
        assert (
            client_for(customer_user)
            .patch(f"/api/engineers/{engineer.pk}/", {"is_available": False})
            .status_code
            == 403
        )

    def test_it_rejects_a_negative_limit(self, admin_user, engineer):
        response = client_for(admin_user).patch(
            f"/api/engineers/{engineer.pk}/", {"max_open_tickets": -1}
        )
        assert response.status_code == 400
        assert "max_open_tickets" in response.json()
