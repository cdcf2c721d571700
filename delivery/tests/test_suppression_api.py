"""/api/suppressions/, /api/sms/inbound/ and /api/sms/receipts/: who may
call them, and what each call changes."""

import pytest
from rest_framework.test import APIClient

from conftest import client_for
from delivery.models import Message, MessageStatus, Suppression

pytestmark = pytest.mark.django_db

GATEWAY_TOKEN = "gateway-secret-123"


@pytest.fixture
def gateway(settings):
    settings.SMS_INBOUND_TOKEN = GATEWAY_TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {GATEWAY_TOKEN}")
    return client


def listed(channel="sms", address="+79001234567"):
    return Suppression.objects.filter(channel=channel, address=address).first()


class TestSuppressionList:
    def test_it_refuses_anonymous_callers_and_customers(self, anon_client, customer_client):
        assert anon_client.get("/api/suppressions/").status_code == 401
        assert customer_client.get("/api/suppressions/").status_code == 403
        response = customer_client.post(
            "/api/suppressions/", {"channel": "email", "address": "a@example.com"}, format="json"
        )
        assert response.status_code == 403
        assert not Suppression.objects.exists()

    def test_staff_add_and_read_entries_with_filters(self, engineer_client):
        response = engineer_client.post(
            "/api/suppressions/",
            {"channel": "email", "address": "Ann@Example.com", "detail": "asked by phone"},
            format="json",
        )
        assert response.status_code == 201
        body = response.json()
        assert body["address"] == "ann@example.com" and body["reason"] == "manual"
        engineer_client.post(
            "/api/suppressions/",
            {"channel": "sms", "address": "79001234567", "reason": "sms_stop"},
            format="json",
        )
        every = engineer_client.get("/api/suppressions/").json()
        assert every["count"] == 2
        sms = engineer_client.get("/api/suppressions/?channel=sms").json()["results"]
        assert [e["address"] for e in sms] == ["+79001234567"]
        by_reason = engineer_client.get("/api/suppressions/?reason=manual").json()["results"]
        assert [e["address"] for e in by_reason] == ["ann@example.com"]
        by_address = engineer_client.get("/api/suppressions/?address=ann@").json()["results"]
        assert len(by_address) == 1

    def test_it_says_what_is_wrong_with_a_bad_entry(self, engineer_client):
        bad_email = engineer_client.post(
            "/api/suppressions/", {"channel": "email", "address": "not-an-email"}, format="json"
        )
        assert bad_email.status_code == 400 and "address" in bad_email.json()
        bad_reason = engineer_client.post(
            "/api/suppressions/",
            {"channel": "email", "address": "a@example.com", "reason": "bored"},
            format="json",
        )
        assert bad_reason.status_code == 400 and "reason" in bad_reason.json()
        assert not Suppression.objects.exists()

    def test_a_second_entry_for_the_same_address_is_a_conflict(self, engineer_client):
        entry = {"channel": "email", "address": "a@example.com"}
        assert engineer_client.post("/api/suppressions/", entry, format="json").status_code == 201
        again = engineer_client.post("/api/suppressions/", entry, format="json")
        assert again.status_code == 409 and again.json()["code"] == "already_suppressed"
        assert Suppression.objects.count() == 1

    def test_only_admins_remove_entries(self, engineer_client, admin_client_api):
        entry = Suppression.objects.create(
            channel="email", address="a@example.com", reason="manual"
        )
        refused = engineer_client.delete(f"/api/suppressions/{entry.pk}/")
        assert refused.status_code == 403 and refused.json()["detail"]
        assert Suppression.objects.filter(pk=entry.pk).exists()
        assert admin_client_api.delete(f"/api/suppressions/{entry.pk}/").status_code == 204
        assert not Suppression.objects.exists()
        assert admin_client_api.delete(f"/api/suppressions/{entry.pk}/").status_code == 404


class TestInboundSms:
    def test_it_refuses_calls_without_the_gateway_token(self, settings, engineer):
        settings.SMS_INBOUND_TOKEN = GATEWAY_TOKEN
        payload = {"phone": "+79001234567", "text": "STOP"}
        assert APIClient().post("/api/sms/inbound/", payload, format="json").status_code == 401
        wrong = APIClient()
        wrong.credentials(HTTP_AUTHORIZATION="Bearer guessed")
        assert wrong.post("/api/sms/inbound/", payload, format="json").status_code == 401
        staff = client_for(engineer).post("/api/sms/inbound/", payload, format="json")
        assert staff.status_code == 401
        assert not Suppression.objects.exists()

    def test_it_is_shut_while_no_token_is_configured(self, settings):
        settings.SMS_INBOUND_TOKEN = ""
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer ")
        response = client.post("/api/sms/inbound/", {"phone": "+79001234567", "text": "STOP"})
        assert response.status_code == 401
        assert not Suppression.objects.exists()

    @pytest.mark.parametrize(
        "text", ["STOP", "stop", "  Stop \n", "STOPALL", "unsubscribe", "Cancel", "END", "quit"]
    )
    def test_stop_and_its_synonyms_suppress_the_phone(self, gateway, text):
        response = gateway.post(
            "/api/sms/inbound/", {"phone": "79001234567", "text": text}, format="json"
        )
        assert response.status_code == 200
        assert response.json() == {"phone": "+79001234567", "action": "suppressed"}
        assert listed().reason == "sms_stop"

    @pytest.mark.parametrize("text", ["START", "unstop", " yes "])
    def test_start_lifts_a_stop(self, gateway, text):
        gateway.post("/api/sms/inbound/", {"phone": "+79001234567", "text": "STOP"}, format="json")
        response = gateway.post(
            "/api/sms/inbound/", {"phone": "+79001234567", "text": text}, format="json"
        )
        assert response.json()["action"] == "lifted"
        assert listed() is None

    def test_start_does_not_lift_what_staff_listed(self, gateway):
        Suppression.objects.create(channel="sms", address="+79001234567", reason="manual")
        gateway.post("/api/sms/inbound/", {"phone": "+79001234567", "text": "START"}, format="json")
        assert listed().reason == "manual"

    def test_other_texts_change_nothing(self, gateway):
        response = gateway.post(
            "/api/sms/inbound/",
            {"phone": "+79001234567", "text": "stop the outage!"},
            format="json",
        )
        assert response.json()["action"] == "ignored"
        assert not Suppression.objects.exists()

    def test_a_bad_phone_is_a_400(self, gateway):
        response = gateway.post(
            "/api/sms/inbound/", {"phone": "abc", "text": "STOP"}, format="json"
        )
        assert response.status_code == 400 and "phone" in response.json()


class TestSmsReceipts:
    def sent_sms(self) -> Message:
        return Message.objects.create(
            channel="sms", to_address="+79001234567", status=MessageStatus.SENT, provider_id="gw-7"
        )

    def test_a_delivered_receipt_sets_delivered_at(self, gateway):
        message = self.sent_sms()
        response = gateway.post(
            "/api/sms/receipts/",
            {"id": "gw-7", "status": "delivered", "delivered_at": "2026-11-22T09:00:00Z"},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["delivered_at"] == "2026-11-22T09:00:00Z"
        message.refresh_from_db()
        assert message.delivered_at.isoformat() == "2026-11-22T09:00:00+00:00"

    def test_a_receipt_by_our_own_id_works_too(self, gateway):
        message = self.sent_sms()
        gateway.post(
            "/api/sms/receipts/", {"message_id": message.pk, "status": "delivered"}, format="json"
        )
        message.refresh_from_db()
        assert message.delivered_at is not None

    def test_a_receipt_needs_the_gateway_token_and_a_known_message(self, gateway):
        message = self.sent_sms()
        anonymous = APIClient().post("/api/sms/receipts/", {"id": "gw-7", "status": "delivered"})
        assert anonymous.status_code == 401
        unknown = gateway.post(
            "/api/sms/receipts/", {"id": "gw-999", "status": "delivered"}, format="json"
        )
        assert unknown.status_code == 404
        empty = gateway.post("/api/sms/receipts/", {"status": "delivered"}, format="json")
        assert empty.status_code == 400
        message.refresh_from_db()
        assert message.delivered_at is None
