"""The public status page, its JSON and its Atom feed: what they show, what
they never show, and what a crowd of visitors costs the database."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident
from incidents.public_status import public_status_forget
from incidents.tests import outage_helpers as make

ATOM = "{http://www.w3.org/2005/Atom}"
PUBLIC_URLS = ["/status/", "/api/status/", "/status/feed.atom"]


@pytest.fixture(autouse=True)
def fresh_status():
    public_status_forget()
    yield
    public_status_forget()


@pytest.fixture
def scene(db):
    """A public outage in Tver (a private access node and a public POP), an
    upcoming maintenance, and what must stay hidden: a draft, a private
    incident, one resolved long ago."""
    hidden_node = make.site("TVR-AN-017", location="Tver, Zavolzhsky")
    shown_pop = make.site("TVR-POP", location="Tver", public=True)
    fiber = make.service("fiber", "Fibre internet")
    anna = make.customer("ACC-9001", name="Anna Petrova", email="anna@mail.example")
    outage = make.outage(
        "Fibre cut in Tver",
        customers=[anna],
        scope={
            "last_mile_site": [hidden_node.code, shown_pop.code],
            "service_type": [fiber.code],
            "customer_ids": [anna.pk],
        },
        eta=timezone.now() + timedelta(hours=2),
        updates=["Dear {{ customer.name }} ({{ customer.account_number }}), a cable is cut."],
    )
    upcoming = make.maintenance(
        "Core router upgrade",
        scope={"location": ["Moscow"]},
        start=timezone.now() + timedelta(days=1),
        end=timezone.now() + timedelta(days=1, hours=2),
    )
    make.outage("Draft from an alarm", status=Incident.Status.DRAFT, updates=[])
    make.outage("Internal only", public=False, updates=["secret"])
    make.outage(
        "Old and fixed",
        status=Incident.Status.RESOLVED,
        started_at=timezone.now() - timedelta(days=30),
        resolved_at=timezone.now() - timedelta(days=29),
    )
    Incident.objects.filter(title="Old and fixed").update(
        updated_at=timezone.now() - timedelta(days=29)
    )
    return {"outage": outage, "maintenance": upcoming, "anna": anna}


@pytest.mark.django_db
class TestWhatIsShown:
    def test_the_json_is_exactly_the_contract(self, client, scene):
        body = client.get("/api/status/").json()
        assert [i["title"] for i in body["incidents"]] == [
            "Fibre cut in Tver",
            "Core router upgrade",
        ]
        outage = body["incidents"][0]
        assert set(outage) == {
            "id",
            "number",
            "kind",
            "title",
            "impact",
            "status",
            "locations",
            "service_types",
            "started_at",
            "eta",
            "scheduled_start",
            "scheduled_end",
            "updates",
        }
        assert set(outage["updates"][0]) == {"status", "body", "created_at"}
        assert outage["locations"] == ["TVR-POP", "Tver, Zavolzhsky"]
        assert outage["service_types"] == ["Fibre internet"]
        assert body["incidents"][1]["locations"] == ["Moscow"]

    def test_the_page_reads_on_a_phone(self, client, scene):
        page = client.get("/status/").content.decode()
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
        assert "Fibre cut in Tver" in page and "Core router upgrade" in page
        assert "Draft from an alarm" not in page and "Internal only" not in page
        assert "Old and fixed" not in page

    def test_with_nothing_going_on_it_says_so(self, client, db):
        page = client.get("/status/").content.decode()
        assert 'data-testid="all-clear"' in page
        assert client.get("/api/status/").json() == {"incidents": []}

    def test_anyone_may_read_it_even_with_a_bad_credential(self, client, scene):
        for url in PUBLIC_URLS:
            assert client.get(url).status_code == 200
            assert client.get(url, HTTP_AUTHORIZATION="Token nonsense").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_no_public_response_holds_customer_data_or_private_site_codes(client, scene, url):
    anna = scene["anna"]
    text = client.get(url).content.decode()
    for secret in (anna.name, anna.email, anna.phone, anna.account_number, "TVR-AN-017"):
        assert secret not in text
    assert "Internal only" not in text and "secret" not in text
    assert "a cable is cut" in text or url == "/status/feed.atom" and "cable" in text


@pytest.mark.django_db
def test_the_feed_is_valid_atom(client, scene):
    response = client.get("/status/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # noqa: S314 - our own response
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}").text
    assert root.find(f"{ATOM}author/{ATOM}name").text
    assert root.find(f"{ATOM}link[@rel='self']").get("href").endswith("/status/feed.atom")
    entries = root.findall(f"{ATOM}entry")
    titles = [e.find(f"{ATOM}title").text for e in entries]
    assert "Fibre cut in Tver: Investigating" in titles
    assert "Core router upgrade: Scheduled" in titles
    for entry in entries:
        for required in ("id", "title", "updated"):
            assert entry.find(f"{ATOM}{required}").text
    assert len({e.find(f"{ATOM}id").text for e in entries}) == len(entries)


@pytest.mark.django_db
class TestCost:
    def test_a_crowd_costs_nothing_once_the_document_is_built(self, client, scene):
        with CaptureQueriesContext(connection) as first:
            client.get("/api/status/")
        assert len(first) <= 3  # incidents with updates; site and service names
        with CaptureQueriesContext(connection) as crowd:
            for _ in range(100):
                for url in PUBLIC_URLS:
                    assert client.get(url).status_code == 200
        assert len(crowd) == 0

    def test_it_rebuilds_with_one_query_every_ten_seconds(self, client, scene, monkeypatch):
        client.get("/api/status/")
        later = timezone.now() + timedelta(seconds=11)
        monkeypatch.setattr("incidents.public_status.timezone.now", lambda: later)
        from django.core.cache import cache

        cache.delete("public-status:rebuild:v1")  # the lock's own 10 s have passed too
        with CaptureQueriesContext(connection) as next_period:
            for _ in range(50):
                client.get("/status/")
        assert len(next_period) == 1

    def test_news_shows_after_the_cache_period(self, client, scene, monkeypatch):
        client.get("/api/status/")
        assert "Fibre cut in Tver" in client.get("/status/").content.decode()
        Incident.objects.filter(pk=scene["outage"].pk).update(title="Fibre cut, crews on site")
        assert client.get("/api/status/").json()["incidents"][0]["title"] == "Fibre cut in Tver"
        assert "Fibre cut, crews on site" not in client.get("/status/").content.decode()
        later = timezone.now() + timedelta(seconds=11)
        monkeypatch.setattr("incidents.public_status.timezone.now", lambda: later)
        from django.core.cache import cache

        cache.delete("public-status:rebuild:v1")
        titles = [i["title"] for i in client.get("/api/status/").json()["incidents"]]
        assert "Fibre cut, crews on site" in titles
        assert "Fibre cut, crews on site" in client.get("/status/").content.decode()
        feed = client.get("/status/feed.atom").content.decode()
        assert "Fibre cut, crews on site" in feed


@pytest.mark.django_db
@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_a_visitor_with_the_current_document_gets_304(client, scene, url):
    first = client.get(url)
    assert first["Cache-Control"] == "public, max-age=10"
    assert first["ETag"] and first["Last-Modified"]
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304
    assert client.get(url, HTTP_IF_NONE_MATCH='"older"').status_code == 200
