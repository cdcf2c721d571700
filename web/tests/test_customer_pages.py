import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import Customer, ServiceType
from customers.services import site_create
from delivery.models import Message

HEADER = "account_number,name,email,phone,last_mile_site,service_type,tags,timezone\n"


@pytest.fixture
def directory(db):
    pop = site_create(code="POP-N", name="North POP")
    leaf = site_create(code="LM-1", name="Street 1", parent=pop)
    other = site_create(code="LM-9", name="Street 9")
    fibre = ServiceType.objects.create(code="fibre", name="Fibre")
    ann = Customer.objects.create(
        account_number="A1",
        name="Ann Lee",
        email="ann@example.com",
        last_mile_site=leaf,
        service_type=fibre,
    )
    bob = Customer.objects.create(
        account_number="B2", name="Bob Ray", phone="+79001234567", last_mile_site=other
    )
    return ann, bob


@pytest.mark.django_db
class TestCustomerList:
    def test_it_searches_and_filters_like_the_api(self, web_client, engineer, directory):
        client = web_client(engineer)
        page = client.get("/customers/").content.decode()
        assert "Ann Lee" in page and "Bob Ray" in page
        assert "2 customers" in page
        by_site = client.get("/customers/?last_mile_site=POP-N").content.decode()
        assert "Ann Lee" in by_site and "Bob Ray" not in by_site
        by_phone = client.get("/customers/?search=9001234567").content.decode()
        assert "Bob Ray" in by_phone and "Ann Lee" not in by_phone
        assert 'href="/api/customers/export/?last_mile_site=POP-N"' in by_site

    def test_an_htmx_request_gets_only_the_rows(self, web_client, engineer, directory):
        response = web_client(engineer).get("/customers/?search=Ann", HTTP_HX_REQUEST="true")
        body = response.content.decode()
        assert "Ann Lee" in body and "<html" not in body

    def test_keyset_pages_do_not_overlap(self, web_client, engineer, db):
        Customer.objects.bulk_create(
            Customer(account_number=f"N{i:03d}", name=f"Name {i:03d}") for i in range(120)
        )
        client = web_client(engineer)
        first = client.get("/customers/")
        names = [c.name for c in first.context["customers"]]
        after = first.context["next_after"]
        second = client.get(f"/customers/?after={after}")
        more = [c.name for c in second.context["customers"]]
        assert names[-1] < more[0]
        assert len(names) == len(more) == 50
        assert not set(names) & set(more)

    def test_keyset_pages_break_ties_between_equal_names(self, web_client, engineer, db):
        Customer.objects.bulk_create(
            Customer(account_number=f"S{i:03d}", name="Same Name") for i in range(120)
        )
        client = web_client(engineer)
        seen, after = [], ""
        for _ in range(3):
            response = client.get(f"/customers/?after={after}")
            seen += [c.pk for c in response.context["customers"]]
            after = response.context["next_after"]
        assert after is None
        assert len(seen) == len(set(seen)) == 120

    def test_the_export_link_returns_the_filtered_csv(self, web_client, engineer, directory):
        response = web_client(engineer).get("/api/customers/export/?last_mile_site=POP-N")
        body = b"".join(response.streaming_content).decode()
        assert "A1" in body and "B2" not in body


@pytest.mark.django_db
class TestCustomerForm:
    def test_it_creates_a_customer_with_normalised_phone(self, web_client, engineer, directory):
        response = web_client(engineer).post(
            "/customers/new/",
            {
                "account_number": "C3",
                "name": "Cid Roe",
                "phone": "79005554433",
                "timezone": "Europe/Moscow",
                "contact_window_start": "22:00",
                "contact_window_end": "06:00",
                "last_mile_site": "LM-1",
                "tags": "vip, north",
                "email_opt_in": "on",
            },
        )
        cid = Customer.objects.get(account_number="C3")
        assert response["Location"] == f"/customers/{cid.pk}/"
        assert cid.phone == "+79005554433"
        assert sorted(t.name for t in cid.tags.all()) == ["north", "vip"]
        assert cid.email_opt_in and not cid.sms_opt_in

    def test_it_shows_each_error_beside_its_field_and_stores_nothing(
        self, web_client, engineer, directory
    ):
        response = web_client(engineer).post(
            "/customers/new/",
            {
                "account_number": "A1",
                "name": "Dup",
                "email": "not-an-email",
                "timezone": "Mars/Base",
                "contact_window_start": "25:00",
                "contact_window_end": "06:00",
                "last_mile_site": "NOPE",
            },
        )
        assert response.status_code == 400
        body = response.content.decode()
        assert 'id="id_timezone_errors"' in body
        assert 'id="id_last_mile_site_errors"' in body
        assert "NOPE" in body
        assert Customer.objects.count() == 2

    def test_it_edits_and_reports_a_duplicate_account(self, web_client, engineer, directory):
        ann, bob = directory
        client = web_client(engineer)
        form = client.get(f"/customers/{ann.pk}/edit/")
        assert form.context["form"].initial["account_number"] == "A1"
        response = client.post(
            f"/customers/{ann.pk}/edit/",
            {
                "account_number": "B2",
                "name": "Ann Lee",
                "timezone": "UTC",
                "contact_window_start": "08:00",
                "contact_window_end": "22:00",
            },
        )
        assert response.status_code == 400
        assert "already used" in response.content.decode()
        client.post(
            f"/customers/{ann.pk}/edit/",
            {
                "account_number": "A1",
                "name": "Ann Lee-Smith",
                "timezone": "UTC",
                "contact_window_start": "08:00",
                "contact_window_end": "22:00",
            },
        )
        ann.refresh_from_db()
        assert ann.name == "Ann Lee-Smith"

    def test_detail_shows_tickets_and_messages(self, web_client, engineer, directory):
        from notifications.models import Notification

        ann, _ = directory
        page = web_client(engineer).get(f"/customers/{ann.pk}/").content.decode()
        assert "<h1>Ann Lee</h1>" in page
        assert "Nothing sent to this customer yet" in page
        n = Notification.objects.create(
            title="Works at {{ customer.last_mile_site }} for {{ customer.name }}",
            body="b",
            channels=["email"],
            status="completed",
        )
        Message.objects.create(notification=n, customer=ann, channel="email", status="sent")
        Message.objects.create(
            customer=ann, channel="email", subject="[T-000009] Resolved", status="sent"
        )
        page = web_client(engineer).get(f"/customers/{ann.pk}/").content.decode()
        assert "Works at Street 1 for Ann Lee" in page
        assert "[T-000009] Resolved" in page


@pytest.mark.django_db
class TestImport:
    def test_bad_rows_are_reported_and_good_ones_stored(self, web_client, engineer, directory):
        csv_bytes = (
            HEADER
            + "N1,New One,new1@example.com,79001112233,LM-1,fibre,a;b,Europe/Moscow\n"
            + "N2,Bad Zone,,,,,,Nowhere/City\n"
            + "N3,Bad Site,,,ZZZ,,,UTC\n"
        ).encode()
        client = web_client(engineer)
        response = client.post(
            "/customers/import/",
            {"file": SimpleUploadedFile("c.csv", csv_bytes, "text/csv")},
            HTTP_HX_REQUEST="true",
        )
        body = response.content.decode()
        assert "<strong>1</strong> created" in body
        assert "<strong>2</strong> rejected" in body
        assert "ZZZ" in body
        assert Customer.objects.filter(account_number="N1").exists()
        assert not Customer.objects.filter(account_number__in=["N2", "N3"]).exists()
        report = client.get("/customers/import/report.csv").content.decode()
        assert report.splitlines()[0] == "row,field,error"
        assert "3,timezone," in report and "4,last_mile_site," in report

    def test_a_file_that_is_not_csv_is_refused_in_one_sentence(
        self, web_client, engineer, directory
    ):
        response = web_client(engineer).post(
            "/customers/import/",
            {"file": SimpleUploadedFile("c.csv", b"\xff\xfe\x00bad", "text/csv")},
        )
        assert response.status_code == 400
        assert "UTF-8" in response.content.decode()

    def test_no_report_without_an_import(self, web_client, engineer):
        assert web_client(engineer).get("/customers/import/report.csv").status_code == 404


@pytest.mark.django_db
class TestCustomerActions:
    def test_staff_open_a_ticket_and_log_a_call_for_a_customer(
        self, web_client, engineer, directory
    ):
        from tickets.models import Interaction, Ticket

        ann, _ = directory
        client = web_client(engineer)
        response = client.post(
            f"/customers/{ann.pk}/ticket/",
            {"title": "Called about slow speed", "priority": "medium"},
        )
        ticket = Ticket.objects.get()
        assert response["Location"] == f"/tickets/{ticket.pk}/"
        assert ticket.customer == ann and ticket.created_by == engineer
        client.post(
            f"/customers/{ann.pk}/interaction/",
            {"kind": "call", "duration_minutes": 2, "notes": "Slow"},
        )
        assert Interaction.objects.get().customer == ann
        page = client.get(f"/customers/{ann.pk}/").content.decode()
        assert ticket.number in page and "Slow" in page
        stats = client.get("/interactions/?days=7").content.decode()
        assert "Slow" in stats and "eric_engineer" in stats

    def test_a_customer_with_tickets_is_not_deleted(self, web_client, engineer, directory):
        ann, bob = directory
        client = web_client(engineer)
        client.post(f"/customers/{ann.pk}/ticket/", {"title": "x", "priority": "low"})
        refused = client.post(f"/customers/{ann.pk}/delete/", follow=True)
        assert "cannot be deleted" in refused.content.decode()
        assert Customer.objects.filter(pk=ann.pk).exists()
        assert client.post(f"/customers/{bob.pk}/delete/")["Location"] == "/customers/"
        assert not Customer.objects.filter(pk=bob.pk).exists()


@pytest.mark.django_db
class TestLiveValidation:
    def test_it_flags_the_field_just_left_and_filled_fields_only(
        self, web_client, engineer, directory
    ):
        response = web_client(engineer).post(
            "/customers/validate/",
            {"account_number": "", "name": "", "timezone": "Mars/Base", "phone": "12"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_TRIGGER_NAME="phone",
        )
        body = response.content.decode()
        assert 'id="id_timezone_feedback" aria-live="polite" hx-swap-oob="true"><ul' in body
        assert 'id="id_phone_feedback" aria-live="polite" hx-swap-oob="true"><ul' in body
        assert 'id="id_name_feedback" aria-live="polite" hx-swap-oob="true"></div>' in body
        assert Customer.objects.count() == 2

    def test_an_existing_customer_keeps_their_own_account_number(
        self, web_client, engineer, directory
    ):
        ann, _ = directory
        body = (
            web_client(engineer)
            .post(
                f"/customers/{ann.pk}/validate/",
                {
                    "account_number": "A1",
                    "name": "Ann Lee",
                    "timezone": "UTC",
                    "contact_window_start": "08:00",
                    "contact_window_end": "22:00",
                },
                HTTP_HX_REQUEST="true",
            )
            .content.decode()
        )
        assert "<ul" not in body
