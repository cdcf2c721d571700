"""Email provider webhooks through django-anymail (/anymail/{esp}/tracking/),
fed with the payloads Mailgun and Postmark really send: bounces and
complaints suppress the address and mark the message, deliveries set
delivered_at, and a call that fails authentication changes nothing."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from delivery.models import Message, MessageStatus, Suppression

pytestmark = pytest.mark.django_db

SECRET = "hook-user:hook-pass-42"
MAILGUN_KEY = "mailgun-signing-key"


@pytest.fixture(autouse=True)
def anymail_settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


def basic(secret: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def sent_email(to="ann@example.com", provider_id="") -> Message:
    message = Message.objects.create(
        channel="email", to_address=to, status=MessageStatus.SENT, provider_id=provider_id
    )
    if not provider_id:
        message.provider_id = f"<message-{message.pk}@proactive.local>"
        message.save(update_fields=["provider_id"])
    return message


def mailgun_failed(message: Message, *, severity="permanent", key=MAILGUN_KEY) -> dict:
    timestamp, token = str(int(time.time())), "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": "failed",
            "severity": severity,
            "reason": "bounce" if severity == "permanent" else "generic",
            "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "timestamp": 1521233195.375624,
            "log-level": "error",
            "recipient": message.to_address,
            "recipient-domain": "example.com",
            "envelope": {"transport": "smtp", "sender": "noreply@proactive.local"},
            "delivery-status": {
                "attempt-no": 1,
                "code": 550 if severity == "permanent" else 452,
                "message": "5.1.1 The email account that you tried to reach does not exist.",
                "description": "",
                "mx-host": "mx.example.com",
            },
            "message": {
                "headers": {
                    "to": message.to_address,
                    "message-id": message.provider_id.strip("<>"),
                    "from": "Proactive <noreply@proactive.local>",
                    "subject": "Outage",
                },
                "attachments": [],
                "size": 111,
            },
            "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
            "tags": [],
            "user-variables": {},
        },
    }


def post_mailgun(payload: dict, **extra):
    return Client().post(
        "/anymail/mailgun/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        **{**basic(), **extra},
    )


def postmark(record: dict, **auth):
    return Client().post(
        "/anymail/postmark/tracking/",
        data=json.dumps(record),
        content_type="application/json",
        **(auth if auth else basic()),
    )


def postmark_bounce(message: Message, kind="HardBounce") -> dict:
    return {
        "RecordType": "Bounce",
        "ID": 901542550,
        "Type": kind,
        "TypeCode": 1,
        "ServerID": 23,
        "Name": "Hard bounce",
        "MessageID": message.provider_id,
        "Description": "The server was unable to deliver your message (ex: unknown user, "
        "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": message.to_address,
        "From": "noreply@proactive.local",
        "BouncedAt": "2026-11-22T16:28:50.3963933-04:00",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Outage",
    }


class TestMailgun:
    def test_a_permanent_failure_suppresses_the_address_and_fails_the_message(self):
        message = sent_email()
        response = post_mailgun(mailgun_failed(message))
        assert response.status_code == 200
        entry = Suppression.objects.get()
        assert (entry.channel, entry.address, entry.reason) == (
            "email",
            "ann@example.com",
            "hard_bounce",
        )
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED
        assert message.last_error.startswith("The recipient bounced it")

    def test_a_temporary_failure_changes_nothing(self):
        message = sent_email()
        assert post_mailgun(mailgun_failed(message, severity="temporary")).status_code == 200
        assert not Suppression.objects.exists()
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT

    def test_a_notification_email_is_found_by_its_message_id(self):
        message = Message.objects.create(
            channel="email",
            to_address="ann@example.com",
            status=MessageStatus.SENT,
            notification_id=41,
            customer_id=17,
            provider_id="<notification-41.customer-17@proactive.local>",
        )
        Message.objects.filter(pk=message.pk).update(provider_id="relay-id-elsewhere")
        message.refresh_from_db()
        payload = mailgun_failed(message)
        payload["event-data"]["message"]["headers"]["message-id"] = (
            "notification-41.customer-17@proactive.local"
        )
        post_mailgun(payload)
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED

    def test_a_wrong_signature_or_secret_is_refused_and_changes_nothing(self):
        message = sent_email()
        forged = post_mailgun(mailgun_failed(message, key="guessed"))
        assert forged.status_code == 403
        no_auth = Client().post(
            "/anymail/mailgun/tracking/",
            data=json.dumps(mailgun_failed(message)),
            content_type="application/json",
        )
        assert no_auth.status_code == 401
        wrong_secret = post_mailgun(mailgun_failed(message), **basic("hook-user:wrong"))
        assert wrong_secret.status_code == 403
        assert not Suppression.objects.exists()
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT


class TestPostmark:
    def test_a_hard_bounce_suppresses_the_address(self):
        message = sent_email(provider_id="2706ee8a-737c-4285-b032-ccd317af53ed")
        assert postmark(postmark_bounce(message)).status_code == 200
        assert Suppression.objects.get().reason == "hard_bounce"
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED

    def test_a_soft_bounce_does_not(self):
        message = sent_email(provider_id="2706ee8a-737c-4285-b032-ccd317af53ed")
        assert postmark(postmark_bounce(message, kind="SoftBounce")).status_code == 200
        assert not Suppression.objects.exists()

    def test_a_spam_complaint_suppresses_the_address(self):
        message = sent_email(provider_id="2706ee8a-737c-4285-b032-ccd317af53ed")
        record = {
            "RecordType": "SpamComplaint",
            "ID": 901542550,
            "Type": "SpamComplaint",
            "TypeCode": 512,
            "Name": "Spam complaint",
            "Tag": "Test",
            "MessageID": message.provider_id,
            "ServerID": 1234,
            "Description": "",
            "Details": "Test spam complaint details",
            "Email": "Ann@Example.com",
            "From": "noreply@proactive.local",
            "BouncedAt": "2026-11-22T16:28:50.3963933-04:00",
            "DumpAvailable": True,
            "Inactive": True,
            "CanActivate": False,
            "Subject": "Offers",
        }
        assert postmark(record).status_code == 200
        entry = Suppression.objects.get()
        assert (entry.address, entry.reason) == ("ann@example.com", "complaint")
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT  # it was delivered; they disliked it
        assert "complained" in message.last_error

    def test_a_delivery_sets_delivered_at(self, admin_client_api):
        message = sent_email(provider_id="883953f4-6105-42a2-a16a-77a8eac79483")
        record = {
            "RecordType": "Delivery",
            "ServerId": 23,
            "MessageID": message.provider_id,
            "Recipient": message.to_address,
            "Tag": "welcome-email",
            "Metadata": {"cohort": "2014-08-A"},
            "DeliveredAt": "2026-11-22T13:28:10.2735393-04:00",
            "Details": "Test delivery webhook details",
        }
        assert postmark(record).status_code == 200
        message.refresh_from_db()
        assert message.delivered_at.isoformat() == "2026-11-22T17:28:10.273539+00:00"
        assert not Suppression.objects.exists()

    def test_wrong_credentials_are_refused_and_change_nothing(self):
        message = sent_email(provider_id="2706ee8a-737c-4285-b032-ccd317af53ed")
        assert postmark(postmark_bounce(message), HTTP_X_NOTHING="1").status_code == 401
        assert postmark(postmark_bounce(message), **basic("x:y")).status_code == 403
        assert not Suppression.objects.exists()
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT

    def test_webhooks_are_shut_until_a_secret_is_set(self, settings):
        settings.ANYMAIL = {}
        message = sent_email(provider_id="2706ee8a-737c-4285-b032-ccd317af53ed")
        response = postmark(postmark_bounce(message))
        assert response.status_code == 403
        assert response.json()["code"] == "webhooks_not_configured"
        assert not Suppression.objects.exists()
