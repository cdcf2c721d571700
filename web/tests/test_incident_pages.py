"""The incident pages as an engineer uses them: declare from the site tree
or a filtered customer list, follow each notice's delivery, post updates,
resolve, publish the root cause; maintenance in the customers' own zones."""

import datetime
import re

import pytest
from django.utils import timezone

from customers.models import Customer, ServiceType
from customers.services import site_create
from delivery.models import Message, MessageStatus
from delivery.services import message_batch_deliver
from incidents.models import Incident, IncidentUpdate
from incidents.services import incident_declare
from notifications.models import Notification
from web.tests.test_page_titles import plain_title

pytestmark = pytest.mark.django_db


@pytest.fixture
def north(db, settings):
    settings.EMAIL_BACKEND = "delivery.outbox.OutboxEmailBackend"
    pop = site_create(code="POP-N", name="North POP", location="Moscow")
    leaf = site_create(code="LM-1", name="Street 1", parent=pop)
    site_create(code="LM-9", name="Far street", location="Tver")
    fibre = ServiceType.objects.create(code="fibre", name="Fibre")
    people = {}
    for i, zone in enumerate(["UTC", "Europe/Moscow", "Asia/Yekaterinburg"]):
        people[zone] = Customer.objects.create(
            account_number=f"N{i}",
            name=f"North {i}",
            email=f"north{i}@example.com",
            last_mile_site=leaf,
            service_type=fibre,
            location="Moscow",
            timezone=zone,
            contact_window_start="00:00",
            contact_window_end="00:00",
        )
    return people


def outage(**overrides) -> dict:
    data = {
        "kind": "outage",
        "title": "Fibre cut on the north ring",
        "impact": "major",
        "last_mile_site": ["POP-N"],
        "channels": ["email"],
        "respect_contact_window": "on",
        "body": "Dear {{ customer.name }}, your service is down; we are on it.",
        "sms_body": "",
        "notify": "on",
    }
    data.update(overrides)
    return data


def deliver() -> None:
    while message_batch_deliver().claimed:
        pass


def declared(client, **overrides) -> Incident:
    response = client.post("/incidents/new/", outage(**overrides))
    assert response.status_code == 302, response.content.decode()[:3000]
    incident = Incident.objects.get()
    assert response["Location"] == f"/incidents/{incident.pk}/"
    return incident


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


class TestDeclare:
    def test_it_declares_an_outage_from_the_site_tree(self, web_client, engineer, north):
        client = web_client(engineer)
        tree = client.get("/sites/").content.decode()
        assert 'href="/incidents/new/?last_mile_site=POP-N"' in tree
        form = text(client.get("/incidents/new/?last_mile_site=POP-N"))
        assert 'name="last_mile_site" value="POP-N" checked' in form
        assert 'value="Outage at North POP"' in form
        assert '<select name="last_mile_site"' not in form  # no 360-option list box
        incident = declared(client)
        assert incident.scope["last_mile_site"] == ["POP-N"]
        assert incident.status == "investigating" and incident.created_by == engineer
        page = text(client.get(f"/incidents/{incident.pk}/"))
        assert f"{incident.number} is declared; 3 customers are being told." in page
        assert 'hx-trigger="every 5s"' in page  # the page follows the notice going out
        deliver()
        page = text(client.get(f"/incidents/{incident.pk}/"))
        assert "<span>3 sent</span>" in page and "of 3 messages" in page
        assert 'hx-trigger="every 5s"' not in page  # and stops once it is out
        partial = text(client.get(f"/incidents/{incident.pk}/timeline/"))
        assert (
            partial.strip().startswith('<ol class="timeline" id="timeline"') and "3 sent" in partial
        )

    def test_it_prefills_the_scope_from_a_filtered_customer_list(self, web_client, engineer, north):
        client = web_client(engineer)
        rows = client.get("/customers/?service_type=fibre&location=Moscow").content.decode()
        assert 'href="/incidents/new/?service_type=fibre&amp;location=Moscow"' in rows
        form = text(client.get("/incidents/new/?service_type=fibre&location=Moscow"))
        assert 'value="fibre" checked' in form.replace('id="id_service_type_0" ', "")
        assert 'name="location" value="Moscow"' in form
        named = client.get("/incidents/new/?search=North 1").content.decode()
        assert re.search(
            r">\s*N1</textarea>", named
        )  # a search the scope cannot say names the customers

    def test_the_site_picker_searches_on_the_server(self, web_client, engineer, north):
        client = web_client(engineer)
        found = text(client.get("/incidents/sites/?q=street"))
        assert "Street 1" in found and "Far street" in found and "North POP" not in found
        assert "/incidents/sites/chip/?code=LM-1" in found
        chip = text(client.get("/incidents/sites/chip/?code=LM-1"))
        assert 'name="last_mile_site" value="LM-1" checked' in chip
        assert client.get("/incidents/sites/chip/?code=NOPE").status_code == 404
        assert "No site matches" in text(client.get("/incidents/sites/?q=zzz"))
        assert client.get("/incidents/sites/?q=" + "x" * 5000).status_code == 200
        assert client.get("/incidents/sites/?q=st%00reet").status_code == 200
        assert client.get("/incidents/sites/chip/?code=%00").status_code == 404
        refused = client.post("/incidents/new/preview/", outage(tag="a\x00b"))
        assert "Tags: Null characters are not allowed." in text(refused)
        assert client.post("/incidents/new/sms-count/", {"sms_body": "a\x00"}).status_code == 200
        assert client.post("/incidents/new/", outage(title="a\x00b")).status_code == 400

    def test_it_counts_sms_segments_as_you_type(self, web_client, engineer, north):
        client = web_client(engineer)
        short = text(client.post("/incidents/new/sms-count/", {"sms_body": "Outage, sorry."}))
        assert "14 characters (GSM-7) · <strong>1 SMS segment</strong>" in short
        long = text(client.post("/incidents/new/sms-count/", {"sms_body": "x" * 400}))
        assert "3 SMS segments" in long and "shorten it to stay within 2" in long
        cyrillic = text(client.post("/incidents/new/sms-count/", {"sms_body": "Авария"}))
        assert "UCS-2" in cyrillic
        broken = text(client.post("/incidents/new/sms-count/", {"sms_body": "{% if %}"}))
        assert 'class="error"' in broken

    def test_it_shows_who_the_scope_reaches_before_declaring(self, web_client, engineer, north):
        client = web_client(engineer)
        reach = text(client.post("/incidents/new/preview/", outage()))
        assert '<span class="stat">3</span> customers' in reach
        nobody = text(client.post("/incidents/new/preview/", outage(last_mile_site=[])))
        assert "Pick a site" in nobody

    @pytest.mark.parametrize(
        "junk,field,sentence",
        [
            ({"last_mile_site": []}, "scope", "Name who is affected"),
            ({"last_mile_site": ["NOWHERE"]}, "last_mile_site", "not one of the available"),
            ({"account_numbers": "N0\nNOPE-1", "last_mile_site": []}, "", "NOPE-1"),
            ({"kind": "party"}, "kind", "not one of the available"),
            ({"channels": ["fax"]}, "channels", "not one of the available"),
            ({"body": ""}, "body", "required"),
            ({"body": "{% if %}"}, "body", "does not compile"),
            ({"eta": "tomorrow-ish"}, "eta", "valid date"),
            ({"kind": "maintenance"}, "scheduled_start", "window"),
            ({"title": "x" * 500}, "title", "at most 200"),
        ],
    )
    def test_it_refuses_junk_with_a_sentence_and_stores_nothing(
        self, web_client, engineer, north, junk, field, sentence
    ):
        response = web_client(engineer).post("/incidents/new/", outage(**junk))
        assert response.status_code == 400
        assert sentence in response.content.decode()
        assert not Incident.objects.exists() and not Notification.objects.exists()


class TestIncidentPage:
    def test_post_update_resolve_and_root_cause_from_one_page(self, web_client, engineer, north):
        client = web_client(engineer)
        incident = declared(client)
        page = text(client.get(f"/incidents/{incident.pk}/"))
        # The one "Post update" form starts from the previous text and status.
        assert "your service is down; we are on it.</textarea>" in page
        assert '<option value="investigating" selected>' in page
        assert "Publish root cause" not in page
        response = client.post(
            f"/incidents/{incident.pk}/updates/",
            {"status": "identified", "body": "Found the cut; splicing now.", "notify": "on"},
        )
        assert response.status_code == 302
        incident.refresh_from_db()
        assert incident.status == "identified"
        client.post(f"/incidents/{incident.pk}/resolve/", {"body": "Fixed; sorry."})
        incident.refresh_from_db()
        assert incident.status == "resolved"
        page = text(client.get(f"/incidents/{incident.pk}/"))
        assert "Post update" not in page and "Resolve outage" not in page
        assert "Publish root cause" in page
        client.post(f"/incidents/{incident.pk}/rca/", {"body": "A digger cut the ring."})
        incident.refresh_from_db()
        assert incident.rca_published_at is not None
        page = text(client.get(f"/incidents/{incident.pk}/"))
        # The timeline shows each text as a customer read it, its template one click away.
        assert '<div class="body">Dear Sample Customer, your service is down' in page
        assert "{{ incident.title }}" not in page.split("Timeline")[1].split("<details")[0]
        kinds = re.findall(r"<strong>(Declaration|Update|Resolution|Root cause)</strong>", page)
        assert kinds == ["Declaration", "Update", "Resolution", "Root cause"]

    def test_the_root_cause_before_resolution_is_refused_with_a_sentence(
        self, web_client, engineer, north
    ):
        client = web_client(engineer)
        incident = declared(client)
        response = client.post(f"/incidents/{incident.pk}/rca/", {"body": "Too early"}, follow=True)
        assert "once the incident is resolved or completed" in response.content.decode()
        incident.refresh_from_db()
        assert incident.rca_published_at is None

    def test_each_notice_shows_deferred_until_local_time_and_superseded(
        self, web_client, engineer, north
    ):
        moscow = north["Europe/Moscow"]
        now = timezone.now().astimezone(datetime.UTC)
        closed_from = (now + datetime.timedelta(hours=2)).replace(minute=0, second=0)
        Customer.objects.filter(pk=moscow.pk).update(
            contact_window_start=closed_from.time(),
            contact_window_end=(closed_from + datetime.timedelta(hours=1)).time(),
            timezone="UTC",
        )
        client = web_client(engineer)
        incident = declared(client)
        deliver()
        page = text(client.get(f"/incidents/{incident.pk}/"))
        opening = closed_from.strftime("%H:%M")
        assert f"<span>2 sent</span> · <span>1 deferred until {opening} local</span>" in page
        client.post(f"/incidents/{incident.pk}/updates/", {"body": "Still on it.", "notify": "on"})
        first = IncidentUpdate.objects.filter(incident=incident).order_by("id").first()
        assert (
            Message.objects.get(notification=first.notification, customer=moscow).status
            == MessageStatus.SUPERSEDED
        )
        page = text(client.get(f"/incidents/{incident.pk}/"))
        assert "<span>2 sent</span> · <span>1 superseded</span>" in page

    def test_it_shows_the_frozen_audience_and_linked_tickets(self, web_client, engineer, north):
        from tickets.models import Ticket

        client = web_client(engineer)
        incident = declared(client)
        Ticket.objects.create(
            title="No internet", customer=north["UTC"], incident=incident, due_at=timezone.now()
        )
        page = text(client.get(f"/incidents/{incident.pk}/"))
        assert "1 complaint linked" in page
        assert f'href="/incidents/{incident.pk}/audience/"' in page
        audience = text(client.get(f"/incidents/{incident.pk}/audience/"))
        assert "3 customers, frozen when it was declared" in audience
        assert "North 0" in audience and "North 2" in audience

    def test_maintenance_shows_its_window_in_the_customers_zones_and_what_each_notice_will_do(
        self, web_client, engineer, north
    ):
        start = (timezone.now() + datetime.timedelta(days=3)).replace(
            hour=2, minute=0, second=0, microsecond=0
        )
        Customer.objects.filter(pk=north["Asia/Yekaterinburg"].pk).update(
            contact_window_start="08:00", contact_window_end="20:00"
        )
        client = web_client(engineer)
        response = client.post(
            "/incidents/new/",
            outage(
                kind="maintenance",
                title="Core router upgrade",
                body="Planned work on {{ incident.scheduled_start }}.",
                scheduled_start=start.strftime("%Y-%m-%dT%H:%M"),
                scheduled_end=(start + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
                reminder_minutes_before="",
            ),
        )
        assert response.status_code == 302, text(response)[:2000]
        incident = Incident.objects.get()
        page = text(client.get(f"/incidents/{incident.pk}/"))
        day = start.strftime("%a %d %b")
        assert f'<strong>{day} 02:00–04:00 UTC</strong> <span class="muted">for 1 customer' in page
        assert f"= {day} 05:00–07:00 MSK for 1 customer" in page
        # The start notice at 02:00 UTC: 07:00 in Yekaterinburg, before its window opens
        # at 08:00 local, which is still inside the window (ends 04:00 UTC = 09:00 local).
        assert "<strong>Start notice</strong> at" in page
        assert "2 now · 1 deferred to 08:00 local" in page
        # The end notice at 04:00 UTC = 09:00 local goes to everyone at once.
        assert "3 now" in page

    def test_cancel_asks_first_and_then_cancels(self, web_client, engineer, north):
        start = timezone.now() + datetime.timedelta(days=2)
        client = web_client(engineer)
        client.post(
            "/incidents/new/",
            outage(
                kind="maintenance",
                scheduled_start=start.strftime("%Y-%m-%dT%H:%M"),
                scheduled_end=(start + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            ),
        )
        incident = Incident.objects.get()
        detail = text(client.get(f"/incidents/{incident.pk}/"))
        assert f'href="/incidents/{incident.pk}/cancel/"' in detail
        asking = text(client.get(f"/incidents/{incident.pk}/cancel/"))
        assert f"Cancel {incident.number}?" in asking and "Yes, cancel it" in asking
        incident.refresh_from_db()
        assert incident.status == "scheduled"
        client.post(f"/incidents/{incident.pk}/cancel/", {"body": "Postponed, sorry."})
        incident.refresh_from_db()
        assert incident.status == "cancelled"
        waiting = Notification.objects.filter(incident=incident, status="scheduled")
        assert not waiting.exists()

    def test_delete_draft_asks_first_and_then_deletes(self, web_client, engineer, north):
        client = web_client(engineer)
        draft = incident_declare(
            created_by=engineer,
            kind="outage",
            title="Alarm: link down",
            scope={"last_mile_site": ["POP-N"]},
            body="Link down.",
            status="draft",
        )
        detail = text(client.get(f"/incidents/{draft.pk}/"))
        assert f'href="/incidents/{draft.pk}/delete/"' in detail and "Delete draft" in detail
        asking = text(client.get(f"/incidents/{draft.pk}/delete/"))
        assert f"Delete the draft {draft.number}?" in asking and "Yes, delete it" in asking
        assert Incident.objects.filter(pk=draft.pk).exists()
        response = client.post(f"/incidents/{draft.pk}/delete/")
        assert response.status_code == 302 and response["Location"] == "/incidents/"
        assert not Incident.objects.filter(pk=draft.pk).exists()
        assert f"The draft {draft.number} is deleted." in text(client.get("/incidents/"))

    def test_an_announced_outage_offers_no_delete_and_refuses_it(self, web_client, engineer, north):
        client = web_client(engineer)
        incident = declared(client)
        assert "Delete draft" not in text(client.get(f"/incidents/{incident.pk}/"))
        response = client.post(f"/incidents/{incident.pk}/delete/")
        assert response.status_code == 302
        page = text(client.get(response["Location"]))
        assert "not a draft" in page
        assert Incident.objects.filter(pk=incident.pk, status="investigating").exists()

    def test_the_list_puts_active_incidents_first_and_filters(self, web_client, engineer, north):
        client = web_client(engineer)
        old = declared(client, title="Old cut")
        client.post(f"/incidents/{old.pk}/resolve/", {"body": ""})
        client.post("/incidents/new/", outage(title="New cut", last_mile_site=["LM-1"]))
        page = text(client.get("/incidents/"))
        assert page.index("New cut") < page.index("Old cut")
        resolved = text(client.get("/incidents/?status=resolved"))
        assert "Old cut" in resolved and "New cut" not in resolved
        maintenance = text(client.get("/incidents/?kind=maintenance"))
        assert "No incident matches." in maintenance
        assert client.get("/incidents/?kind=<script>&status=zzz&page=-5").status_code == 200

    def test_the_dashboard_shows_active_outages_first(self, web_client, engineer, north):
        client = web_client(engineer)
        declared(client, title="Ring cut")
        page = text(client.get("/"))
        assert page.index("Active outages") < page.index("Open tickets")
        assert "Ring cut" in page
        assert '<a href="/incidents/">Incidents</a>' in page


INCIDENT_PAGES = [
    ("get", "/incidents/"),
    ("get", "/incidents/new/"),
    ("get", "/incidents/sites/?q=a"),
    ("get", "/incidents/sites/chip/?code=POP-N"),
    ("post", "/incidents/new/preview/"),
    ("post", "/incidents/new/sms-count/"),
    ("get", "/incidents/{id}/"),
    ("get", "/incidents/{id}/audience/"),
    ("get", "/incidents/{id}/timeline/"),
    ("get", "/incidents/{id}/cancel/"),
    ("get", "/incidents/{id}/complete/"),
]
INCIDENT_ACTIONS = [
    ("/incidents/new/", outage()),
    ("/incidents/{id}/updates/", {"body": "Hacked", "status": "monitoring"}),
    ("/incidents/{id}/resolve/", {"body": "Hacked"}),
    ("/incidents/{id}/rca/", {"body": "Hacked"}),
    ("/incidents/{id}/cancel/", {"body": "Hacked"}),
    ("/incidents/{id}/complete/", {}),
]


@pytest.fixture
def incident(web_client, engineer, north):
    return declared(web_client(engineer))


class TestPermissions:
    @pytest.mark.parametrize("method,url", INCIDENT_PAGES)
    def test_anonymous_visitors_are_sent_to_sign_in(self, client, incident, method, url):
        response = getattr(client, method)(url.format(id=incident.pk))
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")

    @pytest.mark.parametrize("method,url", INCIDENT_PAGES)
    def test_customers_never_see_incident_pages(
        self, web_client, customer_user, incident, method, url
    ):
        response = getattr(web_client(customer_user), method)(url.format(id=incident.pk))
        assert response.status_code == 403

    @pytest.mark.parametrize("url,data", INCIDENT_ACTIONS)
    def test_customers_change_nothing(self, web_client, customer_user, incident, url, data):
        before = (Incident.objects.count(), IncidentUpdate.objects.count(), incident.status)
        response = web_client(customer_user).post(url.format(id=incident.pk), data)
        assert response.status_code == 403
        incident.refresh_from_db()
        after = (Incident.objects.count(), IncidentUpdate.objects.count(), incident.status)
        assert after == before

    @pytest.mark.parametrize("method,url", INCIDENT_PAGES)
    def test_admins_see_incident_pages(self, web_client, admin_user, incident, method, url):
        response = getattr(web_client(admin_user), method)(url.format(id=incident.pk))
        assert response.status_code == 200
        if b"<html" in response.content:
            plain_title(response.content)

    @pytest.mark.parametrize(
        "url", ["/incidents/999999/", "/incidents/999999/audience/", "/incidents/999999/cancel/"]
    )
    def test_missing_incidents_are_404(self, web_client, engineer, url):
        assert web_client(engineer).get(url).status_code == 404

    def test_actions_refuse_a_get_and_junk_without_a_500(self, web_client, engineer, incident):
        client = web_client(engineer)
        assert client.get(f"/incidents/{incident.pk}/updates/").status_code == 405
        for data in (
            {"status": "nonsense", "body": "x"},
            {"body": "", "eta": "yesterday"},
            {"body": "x" * 100_000, "sms_body": "y" * 5000},
            {"status": "resolved", "body": "skip the resolve form"},
        ):
            response = client.post(f"/incidents/{incident.pk}/updates/", data)
            assert response.status_code == 400, data
        incident.refresh_from_db()
        assert incident.status == "investigating"
        assert client.post(f"/incidents/{incident.pk}/complete/").status_code == 302
        incident.refresh_from_db()
        assert incident.status == "investigating"  # an outage is resolved, not completed


class TestNoticeTitles:
    def test_a_notice_is_listed_by_its_incidents_title_not_its_template(
        self, web_client, engineer, north
    ):
        client = web_client(engineer)
        incident = declared(client)
        notice = Notification.objects.get(incident=incident)
        assert "{{ incident.title }}" in notice.title  # what it is stored as
        shown = "Fibre cut on the north ring"
        detail = text(client.get(f"/notifications/{notice.pk}/"))
        assert f"<h1>{shown}</h1>" in detail and "<h1>{{" not in detail
        listed = text(client.get("/notifications/"))
        assert f'<a href="/notifications/{notice.pk}/">{shown}</a>' in listed
        dashboard = text(client.get("/"))
        assert f'<a href="/notifications/{notice.pk}/">{shown}</a>' in dashboard

    def test_what_differs_per_customer_stays_as_written(self, north):
        from notifications.templating import notification_title_shown

        incident = Incident.objects.create(
            kind="outage", title="Fibre <cut>", status="investigating"
        )
        notice = Notification(
            title="{{ incident.title }} for {{ customer.name }}", incident=incident, body="b"
        )
        assert notification_title_shown(notification=notice) == (
            "Fibre <cut> for {{ customer.name }}"
        )
        notice.title = "{% if %}"  # no longer compiles: shown as written
        assert notification_title_shown(notification=notice) == "{% if %}"
        plain = Notification(title="Planned works {{ customer.name }}", body="b")
        assert notification_title_shown(notification=plain) == plain.title
