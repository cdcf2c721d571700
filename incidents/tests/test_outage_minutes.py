"""Outage minutes per customer, checked against a day worked out by hand:
overlapping outages count each minute once, maintenance is apart, the period
clips what ran over its edges, and only staff may read the report."""

import csv
import io
from datetime import UTC, datetime

import pytest

from conftest import client_for
from incidents.models import Incident
from incidents.tests import outage_helpers as make

URL = "/api/reports/outage-minutes/"
DAY = {"from": "2026-11-01", "to": "2026-11-01"}


def at(hh: int, mm: int = 0, *, day: int = 1, month: int = 11) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=UTC)


def resolved_outage(start, end, customers, **extra):
    return make.outage(
        customers=customers,
        status=Incident.Status.RESOLVED,
        started_at=start,
        resolved_at=end,
        **extra,
    )


@pytest.fixture
def day(db):
    """Anna: 10:00–11:00 and 10:30–12:00 overlap (120 min, not 150), 13:00–13:10,
    and a maintenance 02:00–03:00. Boris: 10:30–12:00 and the end of a night
    outage, 23:30 the day before to 00:30 (30 min inside the day). Vera:
    an outage that began at 23:00 and is still going on (60 min to midnight).
    Not counted anywhere: a draft and a cancelled maintenance."""
    anna = make.customer("ACC-1", name="Anna", location="Tver")
    boris = make.customer("ACC-2", name="Boris", location="Tver")
    vera = make.customer("ACC-3", name="Vera", location="Moscow")
    first = resolved_outage(at(10), at(11), [anna])
    second = resolved_outage(at(10, 30), at(12), [anna, boris])
    third = resolved_outage(at(13), at(13, 10), [anna])
    night = resolved_outage(at(23, 30, day=31, month=10), at(0, 30), [boris])
    still = make.outage(customers=[vera], started_at=at(23))
    works = make.maintenance(
        customers=[anna], status=Incident.Status.COMPLETED, start=at(2), end=at(3)
    )
    make.outage(customers=[anna], status=Incident.Status.DRAFT, started_at=at(5))
    make.maintenance(customers=[anna], status=Incident.Status.CANCELLED, start=at(6), end=at(7))
    return {
        "anna": anna,
        "boris": boris,
        "vera": vera,
        "ids": {
            "anna": sorted([first.pk, second.pk, third.pk, works.pk]),
            "boris": sorted([second.pk, night.pk]),
            "vera": [still.pk],
        },
    }


def _rows(response) -> dict[str, dict]:
    assert response.status_code == 200, response.json()
    return {row["account_number"]: row for row in response.json()["results"]}


@pytest.mark.django_db
class TestMinutes:
    def test_overlapping_outages_count_each_minute_once(self, engineer, day):
        rows = _rows(client_for(engineer).get(URL, DAY))
        assert rows["ACC-1"] == {
            "customer": day["anna"].pk,
            "account_number": "ACC-1",
            "name": "Anna",
            "outage_minutes": 130,
            "maintenance_minutes": 60,
            "incidents": day["ids"]["anna"],
        }
        assert rows["ACC-2"]["outage_minutes"] == 90 + 30
        assert rows["ACC-2"]["incidents"] == day["ids"]["boris"]
        assert rows["ACC-3"]["outage_minutes"] == 60
        assert rows["ACC-3"]["maintenance_minutes"] == 0

    def test_a_period_cuts_what_runs_over_its_edges(self, engineer, day):
        morning = {"from": "2026-11-01T10:45:00Z", "to": "2026-11-01T11:15:00Z"}
        rows = _rows(client_for(engineer).get(URL, morning))
        assert rows["ACC-1"]["outage_minutes"] == 30
        assert rows["ACC-2"]["outage_minutes"] == 30
        assert rows["ACC-1"]["maintenance_minutes"] == 0

    def test_the_csv_streams_the_same_rows(self, engineer, day):
        response = client_for(engineer).get(URL, DAY | {"format": "csv"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        text = b"".join(response.streaming_content).decode()
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["account_number"] for r in rows] == ["ACC-1", "ACC-2", "ACC-3"]
        assert rows[0]["outage_minutes"] == "130" and rows[0]["maintenance_minutes"] == "60"
        assert rows[0]["incidents"] == " ".join(str(i) for i in day["ids"]["anna"])

    def test_the_csv_is_the_same_in_small_blocks(self, day):
        from customers.models import Customer
        from incidents.outage_minutes import outage_minutes_rows

        rows = list(
            outage_minutes_rows(
                customers=Customer.objects.all(), since=at(0), until=at(0, day=2), block=1
            )
        )
        assert [r["outage_minutes"] for r in rows] == [130, 120, 60]

    def test_the_customer_lists_filters_apply(self, engineer, day):
        rows = _rows(client_for(engineer).get(URL, DAY | {"location": "Moscow"}))
        assert list(rows) == ["ACC-3"]

    def test_the_customer_page_has_a_line_for_it(self, client, engineer, day):
        client.force_login(engineer)
        page = client.get(f"/customers/{day['vera'].pk}/").content.decode()
        assert 'data-testid="outage-minutes">' in page
        assert " min of outage" in page


@pytest.mark.django_db
class TestRefusals:
    def test_a_bad_date_is_named(self, engineer):
        response = client_for(engineer).get(URL, {"from": "last tuesday"})
        assert response.status_code == 400
        assert response.json() == {"from": ["Give a date (2026-11-01) or an ISO 8601 time."]}
        swapped = client_for(engineer).get(URL, {"from": "2026-11-05", "to": "2026-11-01"})
        assert swapped.status_code == 400 and "swap" in swapped.json()["from"][0]

    @pytest.mark.parametrize(
        "period",
        [
            {"from": "2026-13-45"},
            {"from": "2026-11-01T25:00"},
            {"to": "0001-01-01"},
            {"from": "9999-12-31", "to": "9999-12-31"},
            {"page": "abc"},
        ],
    )
    def test_odd_input_gets_a_4xx_never_a_500(self, engineer, period):
        response = client_for(engineer).get(URL, period)
        assert response.status_code in (200, 400, 404), response.content

    def test_a_bad_date_in_csv_is_still_a_json_400(self, engineer):
        response = client_for(engineer).get(URL, {"from": "x", "format": "csv"})
        assert response.status_code == 400 and "from" in response.json()

    def test_customers_may_not_read_it(self, customer_user, day):
        response = client_for(customer_user).get(URL, DAY)
        assert response.status_code == 403
        csv_response = client_for(customer_user).get(URL, DAY | {"format": "csv"})
        assert csv_response.status_code == 403

    def test_anonymous_callers_are_asked_to_sign_in(self, anon_client, day):
        assert anon_client.get(URL, DAY).status_code == 401

    def test_a_pending_engineer_may_not_read_it(self, pending_engineer, day):
        assert client_for(pending_engineer).get(URL, DAY).status_code in (401, 403)


@pytest.mark.parametrize(
    ("spans", "seconds"),
    [
        ([], 0),
        ([(0, 600)], 600),
        ([(0, 600), (0, 600)], 600),  # the same outage twice
        ([(0, 6000), (60, 120)], 6000),  # one inside another
        ([(0, 60), (60, 120)], 120),  # end to end
        ([(300, 400), (0, 100), (50, 350)], 400),  # out of order, chained
        ([(0, 10), (20, 30)], 20),  # apart
    ],
)
def test_the_union_counts_each_second_once(spans, seconds):
    from incidents.outage_minutes import _union_seconds

    assert _union_seconds(spans) == seconds
