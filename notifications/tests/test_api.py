"""The notifications API as staff, customers and strangers use it."""

import datetime

import pytest
from django.utils import timezone

from conftest import client_for
from delivery import services as delivery
from delivery.models import Message, MessageStatus, OutboxMessage
from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db
S = MessageStatus
URL = "/api/notifications/"


def draft(client, **fields):
    payload = {
        "title": "Outage at {{ customer.last_mile_site }}",
        "body": "Dear {{ customer.name }}, we are on it.",
        "kind": "outage",
        "channels": ["email", "sms"],
        "audience": {"all": True},
    }
    payload.update(fields)
    response = client.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


class TestWhoMayUseIt:
    def test_anonymous_callers_are_asked_to_sign_in(self, anon_client):
        assert anon_client.get(URL).status_code == 401
        assert anon_client.post(f"{URL}send/", {}, format="json").status_code == 401
        assert anon_client.get("/api/outbox/").status_code == 401

    def test_customers_are_refused(self, customer_client, admin_user, make_notification):
        notification = make_notification()
        assert customer_client.get(URL).status_code == 403
        assert customer_client.get(f"{URL}{notification.pk}/").status_code == 403
        assert customer_client.post(f"{URL}{notification.pk}/send/").status_code == 403
        assert customer_client.get(f"{URL}stats/").status_code == 403
        assert customer_client.get("/api/outbox/").status_code == 403

    def test_a_pending_engineer_is_refused(self, pending_engineer):
        assert client_for(pending_engineer).get(URL).status_code in (401, 403)

    def test_an_unknown_notification_is_404(self, engineer_client):
        assert engineer_client.get(f"{URL}999999/").status_code == 404
        assert engineer_client.post(f"{URL}999999/send/").status_code == 404


class TestDrafting:
    def test_an_engineer_drafts_a_notification(self, engineer_client, engineer):
        body = draft(engineer_client, audience={"location": ["Moscow"]})
        assert body["status"] == "draft"
        assert body["created_by"] == engineer.pk
        assert body["channels"] == ["email", "sms"]
        assert body["audience"]["location"] == ["Moscow"]
        assert body["respect_contact_window"] is True
        assert body["totals"]["total"] == 0
        assert body["sms_preview"]["encoding"] == "GSM-7"
        assert body["sms_preview"]["segments"] == 1
        assert body["sms_preview"]["text"] == "Dear Sample Customer, we are on it."

    def test_the_sms_preview_counts_ucs2_segments(self, engineer_client):
        body = draft(engineer_client, body="Уважаемый {{ customer.name }}, " + "ж" * 60)
        assert body["sms_preview"]["encoding"] == "UCS-2"
        assert body["sms_preview"]["segments"] == 2

    def test_a_template_that_does_not_compile_is_refused_naming_the_error(self, engineer_client):
        response = engineer_client.post(
            URL, {"title": "Hi", "body": "Dear {% if %}", "channels": ["email"]}, format="json"
        )
        assert response.status_code == 400
        assert "does not compile" in response.json()["body"][0]
        assert "if" in response.json()["body"][0]
        assert not Notification.objects.exists()

    def test_template_tags_that_reach_outside_are_refused(self, engineer_client):
        for body, tag in (
            ('{% include "base.html" %}', "include"),
            ("{% load static %}", "load"),
            ('{% extends "x" %}', "extends"),
        ):
            response = engineer_client.post(
                URL, {"title": "Hi", "body": body, "channels": ["email"]}, format="json"
            )
            assert response.status_code == 400, body
            (sentence,) = response.json()["body"]
            assert sentence.startswith("The template does not compile") and tag in sentence
        assert not Notification.objects.exists()

    def test_bad_fields_are_refused_with_a_sentence(self, engineer_client):
        response = engineer_client.post(
            URL,
            {"title": "Hi", "body": "x", "channels": ["fax"], "kind": "gossip"},
            format="json",
        )
        assert response.status_code == 400
        assert "not a channel" in str(response.json()["channels"])
        assert "not a kind" in response.json()["kind"][0]
        response = engineer_client.post(
            URL, {"title": "Hi", "body": "x", "audience": {"planet": ["Mars"]}}, format="json"
        )
        assert response.status_code == 400
        assert "planet" in str(response.json()["audience"])
        assert not Notification.objects.exists()

    def test_the_end_must_follow_the_start(self, engineer_client):
        start = timezone.now() + datetime.timedelta(days=2)
        response = engineer_client.post(
            URL,
            {
                "title": "Hi",
                "body": "x",
                "start_at": start.isoformat(),
                "end_at": (start - datetime.timedelta(hours=1)).isoformat(),
            },
            format="json",
        )
        assert response.status_code == 400 and "after start_at" in response.json()["end_at"][0]

    def test_drafts_are_edited_and_deleted(self, engineer_client):
        body = draft(engineer_client)
        response = engineer_client.patch(
            f"{URL}{body['id']}/", {"title": "Planned works"}, format="json"
        )
        assert response.status_code == 200 and response.json()["title"] == "Planned works"
        bad = engineer_client.patch(f"{URL}{body['id']}/", {"body": "{% for %}"}, format="json")
        assert bad.status_code == 400
        assert "does not compile" in bad.json()["body"][0]
        assert Notification.objects.get().body == "Dear {{ customer.name }}, we are on it."
        assert engineer_client.delete(f"{URL}{body['id']}/").status_code == 204
        assert not Notification.objects.exists()

    def test_a_sent_notification_cannot_be_edited_or_deleted(self, engineer_client, make_customer):
        make_customer()
        body = draft(engineer_client)
        engineer_client.post(f"{URL}{body['id']}/send/")
        response = engineer_client.patch(f"{URL}{body['id']}/", {"title": "x"}, format="json")
        assert response.status_code == 409 and response.json()["code"] == "conflict"
        assert engineer_client.delete(f"{URL}{body['id']}/").status_code == 409
        assert Notification.objects.get().title.startswith("Outage")

    def test_the_list_filters_and_searches(self, engineer_client, admin_client_api, engineer):
        draft(engineer_client, title="Fiber cut", kind="outage")
        draft(admin_client_api, title="Router upgrade", kind="maintenance")
        results = engineer_client.get(f"{URL}?kind=maintenance").json()["results"]
        assert [r["title"] for r in results] == ["Router upgrade"]
        results = engineer_client.get(f"{URL}?search=fiber").json()["results"]
        assert [r["title"] for r in results] == ["Fiber cut"]
        results = engineer_client.get(f"{URL}?created_by={engineer.pk}").json()["results"]
        assert [r["title"] for r in results] == ["Fiber cut"]
        assert engineer_client.get(f"{URL}?status=draft").json()["count"] == 2


class TestSending:
    def test_send_now_writes_the_messages_and_answers_202(self, engineer_client, make_customer):
        make_customer(location="Moscow")
        make_customer(location="Moscow", phone="")
        make_customer(location="Kazan")
        body = draft(engineer_client, audience={"location": ["Moscow"]})
        response = engineer_client.post(f"{URL}{body['id']}/send/")
        assert response.status_code == 202
        assert response.json() == {"notification": body["id"], "queued": 2, "status": "sending"}
        assert Message.objects.count() == 4
        assert Message.objects.filter(status=S.SUPPRESSED).count() == 1
        detail = engineer_client.get(f"{URL}{body['id']}/").json()
        assert detail["totals"]["total"] == 4
        assert detail["totals"]["by_status"]["pending"] == 3

    def test_a_future_start_schedules_it(self, engineer_client, make_customer):
        make_customer()
        start = timezone.now() + datetime.timedelta(hours=1)
        body = draft(engineer_client, start_at=start.isoformat())
        response = engineer_client.post(f"{URL}{body['id']}/send/")
        assert response.status_code == 202 and response.json()["status"] == "scheduled"
        assert not Message.objects.exists()
        again = engineer_client.post(f"{URL}{body['id']}/send/")
        assert again.status_code == 202 and again.json()["status"] == "scheduled"
        assert not Message.objects.exists()

    def test_a_large_audience_is_left_to_a_task(
        self, engineer_client, make_customer, monkeypatch, django_capture_on_commit_callbacks
    ):
        monkeypatch.setattr(services, "INLINE_MATERIALISE_LIMIT", 1)
        make_customer()
        make_customer()
        body = draft(engineer_client)
        with django_capture_on_commit_callbacks() as callbacks:
            response = engineer_client.post(f"{URL}{body['id']}/send/")
        assert response.status_code == 202 and response.json()["queued"] == 2
        assert not Message.objects.exists()
        assert callbacks  # the materialisation task was enqueued after the commit
        from notifications.tasks import materialise_notification

        assert materialise_notification(body["id"]) == 4
        assert Message.objects.count() == 4

    def test_send_to_customers_sends_to_exactly_those(self, engineer_client, make_customer):
        chosen = [make_customer(), make_customer()]
        make_customer()
        body = draft(engineer_client, channels=["email"])
        ids = [c.pk for c in chosen]
        response = engineer_client.post(
            f"{URL}send/", {"notification": body["id"], "customers": ids}, format="json"
        )
        assert response.status_code == 202
        assert response.json() == {"notification": body["id"], "queued": 2}
        assert sorted(Message.objects.values_list("customer_id", flat=True)) == sorted(ids)
        again = engineer_client.post(
            f"{URL}send/", {"notification": body["id"], "customers": ids}, format="json"
        )
        assert again.status_code == 202
        assert Message.objects.count() == 2

    def test_send_to_unknown_customers_lists_them(self, engineer_client, make_customer):
        known = make_customer()
        body = draft(engineer_client)
        response = engineer_client.post(
            f"{URL}send/",
            {"notification": body["id"], "customers": [known.pk, 424242, 434343]},
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["customers"] == ["Unknown customer ids: 424242, 434343."]
        assert not Message.objects.exists()
        assert Notification.objects.get().status == "draft"
        missing = engineer_client.post(
            f"{URL}send/", {"notification": 999999, "customers": [known.pk]}, format="json"
        )
        assert missing.status_code == 400 and "notification" in missing.json()

    def test_cancel_turns_undelivered_messages_cancelled(self, engineer_client, make_customer):
        make_customer()
        make_customer()
        body = draft(engineer_client, channels=["email"])
        engineer_client.post(f"{URL}{body['id']}/send/")
        delivery.message_batch_deliver(limit=1)
        response = engineer_client.post(f"{URL}{body['id']}/cancel/")
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        statuses = sorted(Message.objects.values_list("status", flat=True))
        assert statuses in (["cancelled", "sent"], ["cancelled", "cancelled"])
        delivery.message_batch_deliver()
        assert OutboxMessage.objects.count() <= 1
        assert engineer_client.post(f"{URL}{body['id']}/cancel/").status_code == 200

    def test_a_completed_notification_cannot_be_cancelled(self, engineer_client, make_customer):
        make_customer()
        body = draft(engineer_client, channels=["email"])
        engineer_client.post(f"{URL}{body['id']}/send/")
        delivery.message_batch_deliver()
        assert Notification.objects.get().status == "completed"
        assert engineer_client.post(f"{URL}{body['id']}/cancel/").status_code == 409

    def test_a_test_send_reaches_the_caller_outside_the_statistics(self, engineer_client, engineer):
        sms_only = draft(engineer_client, channels=["sms"])
        response = engineer_client.post(f"{URL}{sms_only['id']}/test/", {}, format="json")
        assert response.status_code == 400 and "phone" in response.json()
        body = draft(engineer_client, channels=["email", "sms"])
        response = engineer_client.post(
            f"{URL}{body['id']}/test/", {"phone": "79001234567"}, format="json"
        )
        assert response.status_code == 200, response.json()
        sent = response.json()["messages"]
        assert {m["status"] for m in sent} == {"sent"}
        email = OutboxMessage.objects.get(channel="email")
        assert email.to == engineer.email and email.subject.startswith("[Test] Outage at")
        assert OutboxMessage.objects.get(channel="sms").to == "+79001234567"
        assert engineer_client.get(f"{URL}{body['id']}/stats/").json()["total"] == 0
        only_email = engineer_client.post(
            f"{URL}{body['id']}/test/", {"email": "qa@example.com"}, format="json"
        )
        assert only_email.json()["messages"][0]["to_address"] == "qa@example.com"
        bad = engineer_client.post(f"{URL}{body['id']}/test/", {"phone": "12"}, format="json")
        assert bad.status_code == 400
        assert list(bad.json()) == ["phone"]


class TestStatistics:
    def test_general_and_detailed_statistics_count_by_status_and_channel(
        self, engineer_client, make_customer
    ):
        make_customer()
        make_customer(phone="")
        body = draft(engineer_client, channels=["email", "sms"])
        other = draft(engineer_client, title="Unsent")
        engineer_client.post(f"{URL}{body['id']}/send/")
        delivery.message_batch_deliver()
        general = engineer_client.get(f"{URL}stats/").json()["results"]
        row = next(r for r in general if r["id"] == body["id"])
        assert row["total"] == 4 and row["status"] == "completed"
        assert row["by_status"]["sent"] == 3 and row["by_status"]["suppressed"] == 1
        assert next(r for r in general if r["id"] == other["id"])["total"] == 0
        detail = engineer_client.get(f"{URL}{body['id']}/stats/").json()
        assert detail["total"] == 4
        assert detail["by_channel"]["sms"]["suppressed"] == 1
        assert detail["by_channel"]["email"]["sent"] == 2
        assert detail["first_sent_at"] and detail["last_sent_at"] >= detail["first_sent_at"]

    def test_messages_are_listed_and_filtered(self, engineer_client, make_customer):
        ann = make_customer()
        make_customer(phone="")
        body = draft(engineer_client, channels=["email", "sms"])
        engineer_client.post(f"{URL}{body['id']}/send/")
        listing = engineer_client.get(f"{URL}{body['id']}/messages/").json()
        assert listing["count"] == 4
        assert set(listing["results"][0]) >= {
            "id",
            "notification",
            "customer",
            "channel",
            "status",
            "attempts",
            "last_error",
            "next_attempt_at",
            "sent_at",
            "created_at",
        }
        sms = engineer_client.get(f"{URL}{body['id']}/messages/?channel=sms").json()
        assert sms["count"] == 2
        suppressed = engineer_client.get(f"{URL}{body['id']}/messages/?status=suppressed").json()
        assert suppressed["count"] == 1
        mine = engineer_client.get(f"{URL}{body['id']}/messages/?customer={ann.pk}").json()
        assert mine["count"] == 2
        bad = engineer_client.get(f"{URL}{body['id']}/messages/?status=lost")
        assert bad.status_code == 400
        assert "lost" in str(bad.json()["status"])


class TestOutbox:
    def test_staff_read_the_outbox_newest_first_and_filter_it(self, engineer_client):
        delivery.transactional_email_enqueue(to="ann@example.com", subject="One", body="1")
        delivery.transactional_sms_enqueue(to="+79001234567", text="Two")
        delivery.message_batch_deliver()
        rows = engineer_client.get("/api/outbox/").json()["results"]
        assert [r["to"] for r in rows] == ["+79001234567", "ann@example.com"]
        sms, email = rows
        assert (sms["channel"], sms["subject"], sms["body"]) == ("sms", "", "Two")
        assert (email["channel"], email["subject"], email["body"]) == ("email", "One", "1")
        assert sms["created_at"] >= email["created_at"]
        assert rows[0]["message"] == Message.objects.get(channel="sms").pk
        assert rows[1]["headers"]["Subject"] == "One" and rows[0]["headers"] == {}
        emails = engineer_client.get("/api/outbox/?channel=email").json()["results"]
        assert [r["subject"] for r in emails] == ["One"]
        ann = engineer_client.get("/api/outbox/?to=ann@example.com").json()["results"]
        assert len(ann) == 1
        one = engineer_client.get(f"/api/outbox/{ann[0]['id']}/")
        assert one.status_code == 200 and one.json()["body"] == "1"


class TestEmptyVariables:
    def test_a_body_naming_end_at_without_an_end_is_refused(self, engineer_client):
        response = engineer_client.post(
            URL,
            {
                "title": "Works",
                "body": "Service is restored by {{ end_at }}.",
                "channels": ["email"],
            },
            format="json",
        )
        assert response.status_code == 400
        assert "{{ end_at }}" in response.json()["body"][0]
        assert Notification.objects.count() == 0

    def test_the_same_body_with_an_end_is_accepted(self, engineer_client):
        end = (timezone.now() + datetime.timedelta(hours=2)).isoformat()
        draft(engineer_client, body="Service is restored by {{ end_at }}.", end_at=end)

    def test_a_guarded_variable_is_accepted(self, engineer_client):
        draft(engineer_client, body="Works.{% if end_at %} Until {{ end_at }}.{% endif %}")

    def test_the_incident_filter_lists_an_incidents_notices(self, engineer_client):
        from customers.models import Customer
        from incidents.services import incident_declare

        Customer.objects.create(account_number="A1", name="Anna", location="Moscow")
        incident = incident_declare(
            created_by=None,
            kind="outage",
            title="Down",
            scope={"location": ["Moscow"]},
            body="Down.",
        )
        draft(engineer_client)
        response = engineer_client.get(f"{URL}?incident={incident.pk}")
        assert response.status_code == 200
        [notice] = response.json()["results"]
        assert notice["incident"] == incident.pk
