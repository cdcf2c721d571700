"""Ticket statistics: response and resolution times, SLA breaches and the
backlog, checked on tickets whose times are set by hand."""

from datetime import UTC, datetime, timedelta

import pytest

from conftest import client_for
from tickets import services
from tickets.models import Ticket
from tickets.tests.conftest import open_ticket

DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _at(ticket: Ticket, **times) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(**times)
    ticket.refresh_from_db()


@pytest.fixture
def three_tickets(customer_user, engineer):
    """Answered after 10, 30 and 50 minutes; the first two resolved after 2 and 4 hours."""
    tickets = []
    for answered, resolved in ((10, 120), (30, 240), (50, None)):
        ticket = open_ticket(customer_user, priority="high")
        services.ticket_accept(ticket=ticket, actor=engineer)
        if resolved:
            services.ticket_resolve(ticket=ticket, actor=engineer, resolution="Fixed")
        _at(
            ticket,
            created_at=DAY,
            accepted_at=DAY + timedelta(minutes=answered),
            resolved_at=DAY + timedelta(minutes=resolved) if resolved else None,
            due_at=DAY + timedelta(hours=3),
        )
        tickets.append(ticket)
    return tickets


@pytest.mark.django_db
class TestTicketStatistics:
    def test_it_gives_medians_and_the_90th_percentile(self, admin_user, three_tickets):
        stats = client_for(admin_user).get(
            "/api/tickets/stats/", {"since": "2026-11-01", "until": "2026-11-03"}
        )
        assert stats.status_code == 200
        body = stats.json()
        high = next(row for row in body["by_priority"] if row["priority"] == "high")
        assert high["first_response"] == {"count": 3, "median_minutes": 30.0, "p90_minutes": 46.0}
        assert high["resolution"] == {"count": 2, "median_minutes": 180.0, "p90_minutes": 228.0}
        assert body["by_engineer"][0]["engineer"] == "eric_engineer"
        assert body["by_engineer"][0]["first_response"]["count"] == 3

    def test_it_counts_sla_breaches(self, admin_user, three_tickets):
        body = (
            client_for(admin_user)
            .get("/api/tickets/stats/", {"since": "2026-11-01", "until": "2026-11-03"})
            .json()
        )
        # High: answer within 60 minutes (all were); resolve by due_at (3 h):
        # one resolved after 4 h, one still open long past it.
        assert body["sla_breaches"] == {"response": 0, "resolution": 2}

    def test_the_backlog_follows_tickets_raised_and_finished(self, admin_user, three_tickets):
        body = (
            client_for(admin_user)
            .get("/api/tickets/stats/", {"since": "2026-11-01", "until": "2026-11-03"})
            .json()
        )
        assert [(p["date"], p["raised"], p["finished"], p["open"]) for p in body["backlog"]] == [
            ("2026-11-01", 0, 0, 0),
            ("2026-11-02", 3, 2, 1),
            ("2026-11-03", 0, 0, 1),
        ]

    def test_a_bad_period_is_refused_with_a_sentence(self, admin_user):
        client = client_for(admin_user)
        assert client.get("/api/tickets/stats/", {"since": "yesterday"}).json() == {
            "since": ["Give a date as YYYY-MM-DD, e.g. 2026-11-01."]
        }
        swapped = client.get("/api/tickets/stats/", {"since": "2026-11-05", "until": "2026-11-01"})
        assert swapped.status_code == 400
        too_long = client.get("/api/tickets/stats/", {"since": "2020-01-01", "until": "2026-11-01"})
        assert too_long.status_code == 400
        for odd in ({"since": "2026-02-30"}, {"since": "9999-12-31", "until": "9999-12-31"}):
            assert client.get("/api/tickets/stats/", odd).status_code == 400

    @pytest.mark.parametrize("who", ["engineer", "customer_user", "other_customer_user"])
    def test_only_administrators_see_them(self, request, who):
        response = client_for(request.getfixturevalue(who)).get("/api/tickets/stats/")
        assert response.status_code == 403

    def test_anonymous_callers_are_asked_to_sign_in(self, anon_client):
        assert anon_client.get("/api/tickets/stats/").status_code == 401

    def test_the_page_draws_the_backlog_as_svg(self, admin_user, three_tickets):
        from django.test import Client

        client = Client()
        client.force_login(admin_user)
        page = client.get("/tickets/stats/?since=2026-11-01&until=2026-11-03").content.decode()
        assert 'data-testid="backlog-chart"' in page and "<polyline" in page
        assert 'data-testid="stats-tickets">3<' in page
        assert "<script" not in page.split("<main", 1)[1]
