"""Email through Django's configured backend (SMTP, anymail, or the outbox),
one connection reused for a whole batch."""

import contextlib
import smtplib
import socket
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address

from delivery.channels import Outgoing, TransportError
from delivery.channels.mime import address, mime_alternative


def _sender_domain() -> str:
    address = sanitize_address(settings.DEFAULT_FROM_EMAIL, "utf-8")
    return address.rpartition("@")[2].rstrip(">") or "proactive.local"


def classify_error(exc: Exception) -> TransportError:
    """SMTP 5xx and provider 4xx are the recipient's or the content's fault
    (permanent); everything else may pass (transient)."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (451, b""))
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return TransportError(f"SMTP {code} {text}".strip(), permanent=code >= 500)
    if isinstance(exc, smtplib.SMTPDataError):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        permanent = exc.smtp_code >= 500
        return TransportError(f"SMTP {exc.smtp_code} {text}".strip(), permanent=permanent)
    if isinstance(exc, smtplib.SMTPResponseException):
        # Sender refused, HELO, authentication: the server's or our setup's
        # problem, not this recipient's; retrying after a fix will work.
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return TransportError(f"SMTP {exc.smtp_code} {text}".strip())
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransportError(f"SMTP connection dropped: {exc}")
    if isinstance(exc, socket.timeout | TimeoutError):
        return TransportError(f"SMTP timed out: {exc}")
    if isinstance(exc, OSError):
        return TransportError(f"SMTP connection failed: {exc}")
    status = getattr(exc, "status_code", None)  # anymail's API errors
    if isinstance(status, int):
        return TransportError(f"Email provider HTTP {status}: {exc}", permanent=400 <= status < 500)
    if type(exc).__name__ == "AnymailRecipientsRefused":
        return TransportError(f"Email provider refused the recipient: {exc}", permanent=True)
    return TransportError(f"{type(exc).__name__}: {exc}")


def _no_delay(backend) -> None:
    """Disable Nagle's algorithm on an SMTP socket: smtplib writes each
    message in several small pieces, and waiting for the server's delayed
    ACK between them costs milliseconds per message (4× the throughput on a
    local server)."""
    sock = getattr(getattr(backend, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class EmailTransport:
    """Sends multipart (text + HTML) email over one open connection."""

    def __init__(self):
        self.connection = get_connection(fail_silently=False)
        self.domain = _sender_domain()
        self.sender = sanitize_address(settings.DEFAULT_FROM_EMAIL, "utf-8")
        self.is_open = False

    def _open(self) -> None:
        if not self.is_open:
            try:
                self.connection.open()
            except Exception as exc:
                self._reset()
                raise classify_error(exc) from exc
            self.is_open = True
            _no_delay(self.connection)

    def _reset(self) -> None:
        """Forget a connection that failed, so the next message opens a fresh one."""
        with contextlib.suppress(Exception):  # already broken; nothing to save
            self.connection.close()
        if hasattr(self.connection, "connection"):
            self.connection.connection = None
        self.is_open = False

    def build(self, outgoing: Outgoing) -> EmailMultiAlternatives:
        idstring = f"m{outgoing.message_id}" if outgoing.message_id else None
        email = EmailMultiAlternatives(
            subject=outgoing.subject,
            body=outgoing.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[outgoing.to],
            headers={"Message-ID": make_msgid(idstring=idstring, domain=self.domain)},
            connection=self.connection,
        )
        if outgoing.html:
            email.attach_alternative(outgoing.html, "text/html")
        email.proactive_message_id = outgoing.message_id
        return email

    def _smtp(self):
        """The open smtplib session when the backend is Django's SMTP backend."""
        if isinstance(self.connection, SmtpBackend):
            return self.connection.connection
        return None

    def send(self, outgoing: Outgoing) -> str:
        """Hand one message to the server; returns its Message-ID."""
        self._open()
        smtp = self._smtp()
        if smtp is not None:
            return self._send_fast(smtp, outgoing)
        email = self.build(outgoing)
        try:
            sent = self.connection.send_messages([email])
        except Exception as exc:
            error = classify_error(exc)
            if not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
                self._reset()
            raise error from exc
        if not sent:
            self._reset()
            raise TransportError("The email backend did not accept the message.")
        return email.extra_headers["Message-ID"]

    def _send_fast(self, smtp, outgoing: Outgoing) -> str:
        idstring = f"m{outgoing.message_id}" if outgoing.message_id else None
        message_id = make_msgid(idstring=idstring, domain=self.domain)
        recipient = address(outgoing.to)
        data = mime_alternative(
            from_header=self.sender,
            to=recipient,
            subject=outgoing.subject,
            text=outgoing.text,
            html=outgoing.html,
            message_id=message_id,
        )
        try:
            smtp.sendmail(self.sender, [recipient], data)
        except Exception as exc:
            error = classify_error(exc)
            if not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError):
                self._reset()
            raise error from exc
        return message_id

    def close(self) -> None:
        if self.is_open:
            self._reset()
