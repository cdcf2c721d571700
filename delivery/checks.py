"""The checks before a message is sent, in the design's order: the
notification's end, the customer's contact window, consent and address.

Pure: `verdict` reads the message, its notification and its customer and
returns what to record instead of sending, or None to send now. Recording it
is `delivery.recording.record_verdict`."""

import datetime
from typing import NamedTuple

from delivery.models import Channel, Message, MessageStatus
from delivery.suppression import (
    SUPPRESSED_INACTIVE,
    SUPPRESSED_NO_ADDRESS,
    SUPPRESSED_NO_MARKETING,
    SUPPRESSED_OPTED_OUT,
)
from delivery.windows import window_next_opening

ENDED = "The notification ended before this message could be delivered."
CUSTOMER_DELETED = "The customer was deleted."
WINDOW_AFTER_END = "The customer's contact window opens only after the end."
OUTSIDE_WINDOW = "Outside the customer's contact window."


class Verdict(NamedTuple):
    """A message a check stopped: it was not tried, so its attempt is given
    back. `retry_at` is when it is due again (None: never)."""

    status: str
    reason: str
    retry_at: datetime.datetime | None = None
    event: str | None = None  # the log event, when not the status itself


def verdict(message: Message, now: datetime.datetime) -> Verdict | None:
    """None when the message should be sent now, else what to record."""
    notification = message.notification
    customer = message.customer
    if notification is not None:
        if notification.end_at and now >= notification.end_at:
            return Verdict(MessageStatus.EXPIRED, ENDED)
        if customer is None:
            return Verdict(MessageStatus.SUPPRESSED, CUSTOMER_DELETED)
        if notification.respect_contact_window:
            opening = window_next_opening(
                now=now,
                tz_name=customer.timezone,
                start=customer.contact_window_start,
                end=customer.contact_window_end,
            )
            if opening is not None:
                if notification.end_at and opening >= notification.end_at:
                    return Verdict(MessageStatus.EXPIRED, WINDOW_AFTER_END)
                return Verdict(
                    MessageStatus.DEFERRED,
                    OUTSIDE_WINDOW,
                    retry_at=opening,
                    event="deferred to the contact window",
                )
        is_email = message.channel == Channel.EMAIL
        opted_in = customer.email_opt_in if is_email else customer.sms_opt_in
        if not opted_in or not customer.is_active:
            reason = SUPPRESSED_OPTED_OUT[message.channel] if not opted_in else SUPPRESSED_INACTIVE
            return Verdict(MessageStatus.SUPPRESSED, reason)
        if notification.category == "marketing" and not customer.marketing_opt_in:
            # Consent withdrawn since the rows were written.
            return Verdict(MessageStatus.SUPPRESSED, SUPPRESSED_NO_MARKETING)
    if not message.to_address:
        return Verdict(MessageStatus.SUPPRESSED, SUPPRESSED_NO_ADDRESS[message.channel])
    return None
