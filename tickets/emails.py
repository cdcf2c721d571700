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

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from tickets.models import Ticket

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


def _emails(
    ticket: Ticket, subject: str, text: str, *, customer: bool = False, staff: Iterable[str] = ()
) -> list[TicketEmail]:
    """To the ticket's customer (when `customer`) and to staff addresses. Only
    the customer's copy is linked to their directory record."""

    def body(*, portal: bool) -> str:
        return f"{text}\n\n{ticket.number}: {ticket.title}\n{_link(ticket, portal=portal)}\n"

    subject = f"[{ticket.number}] {subject}"
    emails = []
    if customer:
        to_customer = _addresses([_customer_address(ticket)])
        emails.append(
            TicketEmail(to_customer, subject, body(portal=True), customer=ticket.customer)
        )
    emails.append(TicketEmail(_addresses(staff), subject, body(portal=False)))
    return emails


def _send(
    ticket: Ticket, subject: str, text: str, *, customer: bool = False, staff: Iterable[str] = ()
) -> None:
    ticket_emails_send(_emails(ticket, subject, text, customer=customer, staff=staff))


def email_ticket_created(*, ticket: Ticket) -> None:
    """The customer's receipt and, when it was assigned at once, the
    assignee's notice, queued together."""
    emails = _emails(
        ticket,
        "We received your request",
        f"Your request was registered. We aim to resolve it by {ticket.due_at:%Y-%m-%d %H:%M} UTC.",
        customer=True,
    )
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


def email_status_changed(*, ticket: Ticket, old: str, note: str = "") -> None:
    text = f"The status changed from {old} to {ticket.status}."
    if note:
        text += f"\n\n{note}"
    _send(ticket, "Status changed", text, customer=True, staff=[_assignee_address(ticket)])


def email_ticket_resolved(*, ticket: Ticket) -> None:
    _send(ticket, "Your request is resolved", f"Resolution:\n{ticket.resolution}", customer=True)


def email_public_comment(*, ticket: Ticket, author_id: int | None, body: str) -> None:
    """A public comment goes to the other side: the customer, or the assignee."""
    staff = [_assignee_address(ticket)] if ticket.assignee_id not in (None, author_id) else []
    _send(
        ticket,
        "New comment",
        body,
        customer=ticket.customer.user_id != author_id,
        staff=staff,
    )


def email_ticket_escalated(*, ticket: Ticket, admin_addresses: Iterable[str]) -> None:
    _send(
        ticket,
        f"Overdue ticket escalated to {ticket.priority}",
        f"The ticket passed its due time and is now {ticket.priority} priority.",
        staff=[_assignee_address(ticket), *admin_addresses],
    )
