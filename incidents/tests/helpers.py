"""Shared steps for the incident tests: declaring through the API and
delivering what is due."""

import datetime

from django.utils import timezone

from delivery import services as delivery
from delivery.models import Message, MessageStatus, OutboxMessage

URL = "/api/incidents/"


def declare(client, **fields) -> dict:
    payload = {
        "kind": "outage",
        "title": "Fibre cut on the north ring",
        "impact": "major",
        "scope": {"last_mile_site": ["NODE-1"]},
        "channels": ["email"],
        "body": "Dear {{ customer.name }}, your service is down; we are investigating.",
    }
    payload.update(fields)
    response = client.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def deliver() -> None:
    """Send everything due, as the workers would."""
    for _ in range(10):
        if not delivery.message_batch_deliver().claimed:
            return


def statuses(notification_id: int) -> dict[int, str]:
    return dict(
        Message.objects.filter(notification_id=notification_id).values_list("customer_id", "status")
    )


def emails_to(address: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(to=address).order_by("created_at", "id"))


def closed_window_now() -> dict:
    """A contact window (UTC) that is closed at this moment."""
    now = timezone.now()
    start = (now + datetime.timedelta(hours=2)).time().replace(minute=0, second=0, microsecond=0)
    end = (now + datetime.timedelta(hours=3)).time().replace(minute=0, second=0, microsecond=0)
    return {"timezone": "UTC", "contact_window_start": start, "contact_window_end": end}


SENT = MessageStatus.SENT
