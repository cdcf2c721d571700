"""The embedded default's "transport": email and SMS are stored in the
outbox table instead of leaving the machine.

The outbox is the embedded default's mail server, and like one it takes
each message once. A copy is committed before its message is marked sent
(the mark is a later commit, and SQLite's write-ahead log never keeps a
later commit without the earlier ones), so a message is never recorded
sent without its copy. When the disk fills up between the two commits the
message stays claimed and goes out again after its lease: its copy is
then found and not written twice. A copy that cannot be written because
the disk is full fails the send with a "Disk full" error that is retried
without spending one of the message's attempts."""

import errno
from email.utils import formatdate

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DatabaseError, connection

from delivery.channels import TransportError
from delivery.dkim import dkim_enabled, dkim_signature
from delivery.models import Channel, OutboxMessage

# SQLite's SQLITE_FULL; PostgreSQL's disk_full SQLSTATE.
_SQLITE_FULL = 13
_POSTGRES_DISK_FULL = "53100"


def disk_full(exc: BaseException) -> bool:
    """Whether an error (or one it was raised from) says the disk is full."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        if getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if getattr(exc, "sqlstate", None) == _POSTGRES_DISK_FULL:
            return True
        text = str(exc).lower()
        if "disk is full" in text or "no space left on device" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _insert_once(row: OutboxMessage) -> int | None:
    """INSERT one message's copy unless it has one already, in one statement
    (a copy per message costs what it did without the check); the new row's
    id, or None when the copy was there."""
    fields = [field for field in OutboxMessage._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    table = quote(OutboxMessage._meta.db_table)
    message = quote(OutboxMessage._meta.get_field("message").column)
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(field.column) for field in fields)}) "  # noqa: S608
        f"SELECT {', '.join(['%s'] * len(fields))} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {message} = %s) RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, row.message_id])
        inserted = cursor.fetchone()
    return inserted[0] if inserted else None


def outbox_store(rows: list[OutboxMessage]) -> list[int]:
    """Write the copies; a message whose copy is already there (its send's
    "sent" mark was lost) keeps that one. Returns each row's id, in order.
    A full disk becomes a transient TransportError that names the cause."""
    try:
        ids = []
        for row in rows:
            if row.message_id is None:
                row.save(force_insert=True)
                ids.append(row.pk)
                continue
            pk = _insert_once(row)
            if pk is None:
                pk = OutboxMessage.objects.filter(message_id=row.message_id).values_list(
                    "pk", flat=True
                )[0]
            ids.append(pk)
    except DatabaseError as exc:
        if not disk_full(exc):
            raise
        retry = settings.DELIVERY_RETRY_BASE_SECONDS
        raise TransportError(
            f"Disk full: the outbox could not store the message ({exc}). Free space under "
            f"{settings.DATA_DIR}; it is tried again in {retry} s.",
            retry_after=retry,
        ) from exc
    return ids


def email_html_part(email) -> str:
    for content, mimetype in getattr(email, "alternatives", None) or []:
        if mimetype == "text/html":
            return content
    return ""


def email_headers(email) -> dict[str, str]:
    """Every header of the email as it would leave, DKIM signature included
    when signing is configured. Without signing they are written down
    directly: building the whole MIME message for them would double the
    cost of capturing an email."""
    if dkim_enabled():
        message = email.message()
        headers = {name: str(value) for name, value in message.items()}
        signature = dkim_signature(message.as_bytes(linesep="\r\n")).decode("ascii")
        name, _, value = signature.partition(":")
        return {name: " ".join(value.split()), **headers}
    alternative = bool(email_html_part(email))
    return {
        "Content-Type": "multipart/alternative" if alternative else 'text/plain; charset="utf-8"',
        "MIME-Version": "1.0",
        "Subject": str(email.subject),
        "From": str(email.from_email),
        "To": ", ".join(email.to),
        "Date": formatdate(localtime=False),
        **{name: str(value) for name, value in email.extra_headers.items()},
    }


class OutboxEmailBackend(BaseEmailBackend):
    """A Django email backend that writes each EmailMessage to the outbox.

    The delivery pipeline tags the EmailMessage with `proactive_message_id`
    so the outbox row links back to its Message."""

    def send_messages(self, email_messages) -> int:
        rows = [
            OutboxMessage(
                channel=Channel.EMAIL,
                to=", ".join(email.recipients())[:1000],
                subject=str(email.subject),
                body=str(email.body),
                html=email_html_part(email),
                headers=email_headers(email),
                message_id=getattr(email, "proactive_message_id", None),
            )
            for email in email_messages
            if email.recipients()
        ]
        outbox_store(rows)
        return len(rows)
