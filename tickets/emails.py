"""Every email about a ticket leaves through `ticket_emails_send`, so the way
it is delivered can change in one place.

With the delivery pipeline installed, the emails become Message rows (one
INSERT for all the copies of one change) that the dispatcher sends with
retries; otherwise they are handed to Django's email framework after the
transaction commits. Either way nothing is sent inside the request's
transaction, and a rolled-back change sends nothing.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from config.env import env_int
from tickets import wording
from tickets.models import Status, Ticket

logger = logging.getLogger(__name__)

try:  # the delivery pipeline's transactional email channel
    from delivery.services import TransactionalEmail, transactional_emails_enqueue
except ImportError:  # pragma: no cover - depends on which apps are installed
    TransactionalEmail = transactional_emails_enqueue = None


@dataclass(frozen=True)
class TicketEmail:
    """One text to some addresses; `customer` links the copies to a
    directory record."""

    recipients: tuple[str, ...]
    subject: str
    body: str
    customer: object = None


def ticket_emails_send(emails: Iterable[TicketEmail]) -> None:
    emails = [email for email in emails if email.recipients]
    if not emails:
        return
    if transactional_emails_enqueue is not None:
        transactional_emails_enqueue(
            emails=[
                TransactionalEmail(
                    to=address, subject=email.subject, body=email.body, customer=email.customer
                )
                for email in emails
                for address in email.recipients
            ]
        )
        return

    def _send() -> None:
        for email in emails:
            try:
                send_mail(email.subject, email.body, None, list(email.recipients))
            except Exception:  # a mail server problem must not fail the ticket change
                logger.exception("ticket email failed", extra={"subject": email.subject})

    transaction.on_commit(_send)


def _link(ticket: Ticket, *, portal: bool = False) -> str:
    """The ticket's page: the portal's for the customer (the staff page is
    closed to them), the staff page for engineers and admins."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/portal/tickets/{ticket.pk}/" if portal else f"{base}/tickets/{ticket.pk}/"


def _customer_address(ticket: Ticket) -> str:
    customer = ticket.customer
    if customer.email:
        return customer.email
    return customer.user.email if customer.user_id else ""


def _assignee_address(ticket: Ticket) -> str:
    return ticket.assignee.email if ticket.assignee_id else ""


def _addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({address for address in addresses if address}))


def _customer_time(ticket: Ticket, moment: datetime) -> str:
    """A moment as the customer reads it: in their own zone, with its abbreviation."""
    try:
        zone = ZoneInfo(ticket.customer.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _engineer_name(ticket: Ticket) -> str:
    return wording.display_name(ticket.assignee, "an engineer") if ticket.assignee_id else ""


def _to_customer(ticket: Ticket, subject: str, text: str) -> TicketEmail:
    """The customer's copy: plain words and the portal's page of the ticket."""
    body = f"{text}\n\n{ticket.number}: {ticket.title}\n{_link(ticket, portal=True)}\n"
    return TicketEmail(
        _addresses([_customer_address(ticket)]),
        f"[{ticket.number}] {subject}",
        body,
        customer=ticket.customer,
    )


def _emails(
    ticket: Ticket, subject: str, text: str, *, customer: bool = False, staff: Iterable[str] = ()
) -> list[TicketEmail]:
    """To the ticket's customer (when `customer`) and to staff addresses. Only
    the customer's copy is linked to their directory record."""
    emails = [_to_customer(ticket, subject, text)] if customer else []
    body = f"{text}\n\n{ticket.number}: {ticket.title}\n{_link(ticket)}\n"
    emails.append(TicketEmail(_addresses(staff), f"[{ticket.number}] {subject}", body))
    return emails


def _send(
    ticket: Ticket, subject: str, text: str, *, customer: bool = False, staff: Iterable[str] = ()
) -> None:
    ticket_emails_send(_emails(ticket, subject, text, customer=customer, staff=staff))


def email_ticket_created(*, ticket: Ticket) -> None:
    """The customer's receipt and, when it was assigned at once, the
    assignee's notice, queued together."""
    text = "We received your request."
    if ticket.assignee_id:
        text += f" {_engineer_name(ticket)} will look after it."
    text += f" We aim to resolve it by {_customer_time(ticket, ticket.due_at)}."
    emails = [_to_customer(ticket, "We received your request", text)]
    if ticket.assignee_id:
        emails += _assigned_emails(ticket)
    ticket_emails_send(emails)


def _assigned_emails(ticket: Ticket) -> list[TicketEmail]:
    return _emails(
        ticket,
        "A ticket was assigned to you",
        f"Priority {ticket.priority}, due {ticket.due_at:%Y-%m-%d %H:%M} UTC."
        f"\n\n{ticket.description}",
        staff=[_assignee_address(ticket)],
    )


def email_ticket_assigned(*, ticket: Ticket) -> None:
    ticket_emails_send(_assigned_emails(ticket))


def _status_subject(ticket: Ticket, old: str) -> str:
    new = ticket.status
    if old == Status.RESOLVED and new != Status.CLOSED:
        return "Your request is reopened"
    if new == Status.IN_PROGRESS:
        if old == Status.ON_HOLD:
            return "Work on your request has resumed"
        if ticket.assignee_id:
            return f"Your request is being worked on by {_engineer_name(ticket)}"
    return f"Your request is {wording.status_words(new)}"


def email_status_changed(*, ticket: Ticket, old: str, note: str = "") -> None:
    """The customer is told what it means for them; the assignee what changed."""
    subject = _status_subject(ticket, old)
    text = f"{subject}."
    if note:
        text += f"\n\n{note}"
    staff_text = (
        f"The ticket is now {wording.status_words(ticket.status)} "
        f"(it was {wording.status_words(old)})."
    )
    if note:
        staff_text += f"\n\n{note}"
    emails = [_to_customer(ticket, subject, text)]
    emails += _emails(
        ticket, "Ticket status changed", staff_text, staff=[_assignee_address(ticket)]
    )
    ticket_emails_send(emails)


def email_ticket_resolved(*, ticket: Ticket) -> None:
    who = _engineer_name(ticket) or "We"
    text = (
        f"{who} resolved your request:\n\n{ticket.resolution}\n\n"
        f"If the problem is still there, reply on the ticket page within "
        f"{reopen_days()} days and we will reopen it."
    )
    ticket_emails_send([_to_customer(ticket, "Your request is resolved", text)])


def email_public_comment(*, ticket: Ticket, author_id: int | None, body: str) -> None:
    """A public comment goes to the other side: the customer, or the assignee."""
    emails = []
    if ticket.customer.user_id != author_id:
        who = _engineer_name(ticket) if ticket.assignee_id == author_id else "Our team"
        emails.append(_to_customer(ticket, f"{who} replied to your request", body))
    if ticket.assignee_id not in (None, author_id):
        emails += _emails(ticket, "New comment", body, staff=[_assignee_address(ticket)])
    ticket_emails_send(emails)


def email_ticket_escalated(*, ticket: Ticket, admin_addresses: Iterable[str]) -> None:
    _send(
        ticket,
        f"Overdue ticket escalated to {ticket.priority}",
        f"The ticket passed its due time and is now {ticket.priority} priority.",
        staff=[_assignee_address(ticket), *admin_addresses],
    )


def reopen_days() -> int:
    """How long after its resolution a customer's reply reopens a ticket."""
    return env_int("TICKET_REOPEN_DAYS", 14, minimum=0)
