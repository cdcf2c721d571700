"""What providers tell us after sending: inbound SMS keywords (STOP/START),
SMS delivery receipts, and email tracking events from django-anymail
(bounces, complaints, deliveries). Each is a service; the HTTP views and the
anymail signal receiver only translate into these calls."""

import datetime
import logging
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from delivery.headers import message_id_domain
from delivery.models import Channel, Message, MessageStatus, SuppressionReason
from delivery.suppression import suppression_add, suppression_remove

logger = logging.getLogger("proactive.delivery")

# The keywords carriers and regulators expect (CTIA; the same words most
# gateways act on), any case, surrounding whitespace ignored.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})


def sms_inbound_handle(*, phone: str, text: str) -> str:
    """An SMS a customer sent us. Returns what was done: "suppressed",
    "lifted" or "ignored"."""
    word = (text or "").strip().upper()
    if word in STOP_WORDS:
        suppression_add(
            channel=Channel.SMS,
            address=phone,
            reason=SuppressionReason.SMS_STOP,
            detail=f"The customer texted {word}.",
        )
        return "suppressed"
    if word in START_WORDS:
        suppression_remove(
            channel=Channel.SMS, address=phone, reasons=(SuppressionReason.SMS_STOP,)
        )
        logger.info("sms stop lifted", extra={"keyword": word})
        return "lifted"
    return "ignored"


def _sms_message(*, gateway_id: str, message_id: int | None) -> Message | None:
    messages = Message.objects.filter(channel=Channel.SMS)
    if message_id is not None:
        found = messages.filter(pk=message_id).first()
        if found is not None:
            return found
    if gateway_id:
        return messages.filter(provider_id=gateway_id).order_by("-pk").first()
    return None


def sms_receipt_record(
    *,
    gateway_id: str,
    message_id: int | None,
    delivered: bool,
    at: datetime.datetime | None = None,
    error: str = "",
) -> Message | None:
    """A delivery receipt from the SMS gateway: delivered sets delivered_at;
    a final failure marks the message failed with the gateway's words."""
    message = _sms_message(gateway_id=gateway_id, message_id=message_id)
    if message is None:
        return None
    now = timezone.now()
    if delivered:
        Message.objects.filter(pk=message.pk).update(delivered_at=at or now, updated_at=now)
    else:
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENT).update(
            status=MessageStatus.FAILED,
            last_error=f"The SMS gateway could not deliver it: {error or 'no reason given'}",
            updated_at=now,
        )
    message.refresh_from_db()
    return message


# --- email tracking (anymail) ---------------------------------------------

_OUR_ID = re.compile(
    r"^<?(?:notification-(?P<notification>\d+)\.customer-(?P<customer>\d+)"
    r"|message-(?P<message>\d+))@(?P<domain>[^>]+)>?$"
)


def email_message_find(*, provider_id: str, message_id_header: str = "") -> Message | None:
    """The email a provider's event is about: by the id the provider gave
    when it took the message, else by our own Message-ID."""
    emails = Message.objects.filter(channel=Channel.EMAIL)
    for value in (provider_id, message_id_header):
        value = (value or "").strip()
        if not value:
            continue
        bare = value.strip("<>")
        found = emails.filter(provider_id__in=[value, bare, f"<{bare}>"]).order_by("-pk").first()
        if found is not None:
            return found
        match = _OUR_ID.match(value)
        if match and match["domain"] == message_id_domain():
            if match["message"]:
                return emails.filter(pk=int(match["message"])).first()
            return emails.filter(
                notification_id=int(match["notification"]), customer_id=int(match["customer"])
            ).first()
    return None


@dataclass(frozen=True)
class TrackingEvent:
    """The parts of an anymail tracking event that matter here."""

    event_type: str  # anymail's normalised type: delivered, bounced, complained, ...
    recipient: str
    provider_id: str
    message_id_header: str
    description: str
    timestamp: datetime.datetime | None
    permanent: bool = True  # a soft bounce is reported as a bounce too


BOUNCE_EVENTS = {"bounced", "rejected"}
COMPLAINT_EVENTS = {"complained"}


@transaction.atomic
def email_tracking_record(*, event: TrackingEvent) -> Message | None:
    """Bounces and complaints put the address on the suppression list and
    mark the message failed; a delivery sets delivered_at."""
    message = email_message_find(
        provider_id=event.provider_id, message_id_header=event.message_id_header
    )
    address = event.recipient or (message.to_address if message else "")
    now = timezone.now()
    if event.event_type in BOUNCE_EVENTS and not event.permanent:
        return message  # the provider retries; nothing to act on yet
    if event.event_type in BOUNCE_EVENTS | COMPLAINT_EVENTS:
        complaint = event.event_type in COMPLAINT_EVENTS
        reason = SuppressionReason.COMPLAINT if complaint else SuppressionReason.HARD_BOUNCE
        if address:
            suppression_add(
                channel=Channel.EMAIL,
                address=address,
                reason=reason,
                detail=event.description or f"Reported {event.event_type} by the provider.",
            )
        if message is not None:
            what = "complained about" if complaint else "bounced"
            error = f"The recipient {what} it: {event.description}".rstrip(": ")
            fields = {"last_error": error[:2000], "updated_at": now}
            if not complaint:
                fields["status"] = MessageStatus.FAILED
            Message.objects.filter(pk=message.pk).update(**fields)
    elif event.event_type == "delivered" and message is not None:
        Message.objects.filter(pk=message.pk).update(
            delivered_at=event.timestamp or now, updated_at=now
        )
    else:
        return message
    logger.info(
        "email tracking event recorded",
        extra={"event": event.event_type, "message_id": getattr(message, "pk", None)},
    )
    if message is not None:
        message.refresh_from_db()
    return message


def _header_message_id(esp_event) -> str:
    """The Message-ID header when the provider's raw event carries it."""
    if not isinstance(esp_event, dict):
        return ""
    for key in ("smtp-id", "Message-ID", "Message-Id", "message-id"):
        value = esp_event.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


# Bounce types providers report as "bounced" that are not the address's end.
_SOFT_BOUNCES = {"SoftBounce", "Transient", "DnsError", "soft-bounce", "temporary"}


def _permanent(esp_event) -> bool:
    if not isinstance(esp_event, dict):
        return True
    data = esp_event.get("event-data") if isinstance(esp_event.get("event-data"), dict) else {}
    kinds = {esp_event.get("Type"), esp_event.get("type"), data.get("severity")}
    return not (kinds & _SOFT_BOUNCES)


def on_anymail_tracking(sender, event, esp_name, **kwargs) -> None:
    """anymail's `tracking` signal → email_tracking_record (connected in
    DeliveryConfig.ready): the only way anymail hands over its events."""
    email_tracking_record(
        event=TrackingEvent(
            event_type=str(event.event_type or ""),
            recipient=event.recipient or "",
            provider_id=str(event.message_id or ""),
            message_id_header=_header_message_id(event.esp_event),
            description=str(event.description or event.mta_response or ""),
            timestamp=event.timestamp,
            permanent=_permanent(event.esp_event),
        )
    )
