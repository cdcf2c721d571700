"""Before they ask: the portal shows a customer the outages affecting them,
and the new-ticket page asks whether to raise one anyway, counting those who
chose to wait once each."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from customers.models import Customer
from incidents.models import Incident
from incidents.tests import outage_helpers as make
from tickets.models import OutageDeflection, Ticket

ETA = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)


@pytest.fixture
def carol(customer_user):
    customer = Customer.objects.get(user=customer_user)
    customer.timezone = "Europe/Moscow"
    customer.save()
    return customer


@pytest.fixture
def cut(carol):
    return make.outage(
        "Fibre cut in Tver",
        customers=[carol],
        eta=ETA,
        updates=["Crews found the cut.", "Splicing, {{ customer.name }}; nearly done."],
    )


@pytest.mark.django_db
class TestPortalShowsTheOutage:
    def test_the_home_page_shows_status_eta_in_my_zone_and_the_last_update(
        self, web_client, customer_user, carol, cut
    ):
        page = web_client(customer_user).get("/portal/").content.decode()
        assert "Fibre cut in Tver" in page
        assert 'data-testid="outage-status">Investigating<' in page
        assert 'data-testid="outage-eta">2026-12-01 18:30 MSK<' in page
        assert f"Splicing, {carol.name}; nearly done." in page
        assert "Crews found the cut." not in page

    def test_a_customer_outside_the_audience_sees_nothing(
        self, web_client, other_customer_user, cut
    ):
        page = web_client(other_customer_user).get("/portal/").content.decode()
        assert "Fibre cut in Tver" not in page and 'data-testid="no-outage"' in page
        form = web_client(other_customer_user).get("/portal/tickets/new/").content.decode()
        assert "raise a ticket anyway" not in form and 'name="title"' in form

    def test_a_resolved_outage_is_no_longer_shown(self, web_client, customer_user, cut):
        Incident.objects.filter(pk=cut.pk).update(
            status=Incident.Status.RESOLVED, resolved_at=timezone.now()
        )
        page = web_client(customer_user).get("/portal/").content.decode()
        assert "Fibre cut in Tver" not in page

    def test_maintenance_does_not_ask_the_question(self, web_client, customer_user, carol):
        make.maintenance(
            customers=[carol],
            status=Incident.Status.IN_PROGRESS,
            start=timezone.now() - timedelta(hours=1),
            end=timezone.now() + timedelta(hours=1),
        )
        page = web_client(customer_user).get("/portal/tickets/new/").content.decode()
        assert "raise a ticket anyway" not in page


@pytest.mark.django_db
class TestTheQuestion:
    def test_it_asks_before_showing_the_form(self, web_client, customer_user, cut):
        page = web_client(customer_user).get("/portal/tickets/new/").content.decode()
        assert "We already know about this outage — raise a ticket anyway?" in page
        assert "Fibre cut in Tver" in page
        assert 'name="title"' not in page
        anyway = web_client(customer_user).get("/portal/tickets/new/?anyway=1").content.decode()
        assert 'name="title"' in anyway and "Fibre cut in Tver" in anyway

    def test_raising_it_anyway_works(self, web_client, customer_user, engineer, cut):
        response = web_client(customer_user).post(
            "/portal/tickets/new/", {"title": "Still down", "priority": "medium"}
        )
        assert response.status_code == 302
        assert Ticket.objects.get().title == "Still down"
        cut.refresh_from_db()
        assert cut.deflected_count == 0

    def test_waiting_counts_once_per_customer_however_often(
        self, web_client, customer_user, other_customer_user, carol, cut
    ):
        client = web_client(customer_user)
        for _ in range(3):
            client.get("/portal/tickets/new/")
            response = client.post("/portal/tickets/new/wait/")
            assert response["Location"] == "/portal/"
        cut.refresh_from_db()
        assert cut.deflected_count == 1
        dave = Customer.objects.get(user=other_customer_user)
        make.outage("Another", customers=[dave])
        web_client(other_customer_user).post("/portal/tickets/new/wait/")
        cut.refresh_from_db()
        assert cut.deflected_count == 1  # Dave is not in this outage's audience
        assert OutageDeflection.objects.count() == 2
        assert not Ticket.objects.exists()

    def test_only_a_customer_can_say_they_wait(self, web_client, engineer, cut):
        assert web_client(engineer).post("/portal/tickets/new/wait/").status_code == 403
        assert web_client().post("/portal/tickets/new/wait/").status_code == 302
        cut.refresh_from_db()
        assert cut.deflected_count == 0

    def test_a_get_never_counts(self, web_client, customer_user, cut):
        assert web_client(customer_user).get("/portal/tickets/new/wait/").status_code == 405
        cut.refresh_from_db()
        assert cut.deflected_count == 0
