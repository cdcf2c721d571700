"""Email through Django's configured backend (SMTP, anymail, or the outbox),
one connection reused for a whole batch."""

import contextlib
import re
import smtplib
import socket
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address

from delivery.channels import Outgoing, TransportError
from delivery.channels.mime import address, mime_alternative
from delivery.dkim import dkim_sign
from delivery.headers import message_id_domain


def classify_error(exc: Exception) -> TransportError:
    """SMTP 5xx and provider 4xx are the recipient's or the content's fault
    (permanent); everything else may pass (transient)."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (451, b""))
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return TransportError(
            f"SMTP {code} {text}".strip(), permanent=code >= 500, recipient_unknown=code >= 500
        )
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
        return TransportError(
            f"Email provider refused the recipient: {exc}", permanent=True, recipient_unknown=True
        )
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


_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
_BARE_EOL = re.compile(rb"\r\n|\r|\n")


def _envelope(address: str) -> bytes:
    """MAIL FROM / RCPT TO argument: `<local@domain>`."""
    if "<" not in address and " " not in address:
        return f"<{address}>".encode()
    return smtplib.quoteaddr(address).encode()


def _content(data: bytes) -> bytes:
    """Message bytes as SMTP DATA: CRLF line ends, leading dots doubled,
    ended by the lone dot. Our own MIME has CRLF ends already and rarely a
    line starting with a dot: counting is cheaper than substituting."""
    line_ends = data.count(b"\r\n")
    if data.count(b"\n") != line_ends or data.count(b"\r") != line_ends:
        data = _BARE_EOL.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b".") or b"\n." in data:
        data = _LEADING_DOT.sub(b"..", data)
    return data + b".\r\n"


Replies = tuple[tuple[int, bytes], tuple[int, bytes], tuple[int, bytes]]


class _PipelinedSession:
    """SMTP over a server that offers PIPELINING (RFC 2920): one round trip
    per message. The write that carries a message's content also carries the
    next message's MAIL, RCPT and DATA. The content reply is read before the
    call returns, so at any moment at most one accepted message is not yet
    recorded; the next envelope's replies are read when that message is sent.

    An envelope opened for a message that is then not sent (cancelled,
    failed to render) is abandoned by closing the connection: after DATA's
    354 only the final dot would end it, and that would deliver it."""

    def __init__(self, smtp: smtplib.SMTP, sender: str):
        self.smtp = smtp
        self.mail_from = b"MAIL FROM:" + _envelope(sender) + b"\r\n"
        self.sender = sender
        # The key of the message whose envelope went out last, replies unread.
        self.opened: object | None = None

    def _envelope_command(self, recipient: str) -> bytes:
        return self.mail_from + b"RCPT TO:" + _envelope(recipient) + b"\r\nDATA\r\n"

    def _replies(self) -> Replies:
        getreply = self.smtp.getreply
        return getreply(), getreply(), getreply()

    def send(
        self, key: object, recipient: str, data: bytes, next_message: tuple[object, str] | None
    ):
        """Deliver `data` to `recipient`; `next_message` = (key, recipient) of
        the message that comes next, whose envelope goes along."""
        # The caller hangs up first if the open envelope is for another message.
        if self.opened is None or self.opened != key:
            self.smtp.send(self._envelope_command(recipient))
        # An envelope sent along with the last message is answered by now:
        # its replies were left to arrive while the caller recorded that one.
        replies = self._replies()
        self.opened = None
        self._check_envelope(recipient, replies)
        payload = _content(data)
        if next_message is not None:
            payload += self._envelope_command(next_message[1])
        self.smtp.send(payload)
        code, reply = self.smtp.getreply()
        if next_message is not None:
            self.opened = next_message[0]  # its replies are read when it is sent
        if code != 250:
            if code == 421:
                self.smtp.close()
                raise smtplib.SMTPServerDisconnected(f"421 {reply.decode(errors='replace')}")
            raise smtplib.SMTPDataError(code, reply)

    def _check_envelope(self, recipient: str, replies: Replies) -> None:
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = replies
        for code, reply in replies:
            if code == 421:  # the server is closing the connection
                self.smtp.close()
                raise smtplib.SMTPServerDisconnected(f"421 {reply.decode(errors='replace')}")
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            # A server that opens DATA with no valid recipient: end it empty.
            self.smtp.send(b".\r\n")
            self.smtp.getreply()
            data_code = 503
        if data_code != 354:
            self.smtp.rset()  # forget the half-open transaction before the next message
            if mail_code != 250:
                raise smtplib.SMTPSenderRefused(mail_code, mail_reply, self.sender)
            if rcpt_code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (rcpt_code, rcpt_reply)})
            raise smtplib.SMTPDataError(data_code, data_reply)


class EmailTransport:
    """Sends multipart (text + HTML) email over one open connection."""

    def __init__(self):
        self.connection = get_connection(fail_silently=False)
        self.domain = message_id_domain()
        self.sender = sanitize_address(settings.DEFAULT_FROM_EMAIL, "utf-8")
        self.is_open = False
        self.session: _PipelinedSession | None = None

    def _open(self) -> None:
        if not self.is_open:
            try:
                self.connection.open()
                smtp = self._smtp()
                if smtp is not None:
                    smtp.ehlo_or_helo_if_needed()  # learn what the server offers
            except Exception as exc:
                self._reset()
                raise classify_error(exc) from exc
            self.is_open = True
            _no_delay(self.connection)
            if smtp is not None and smtp.does_esmtp and smtp.has_extn("pipelining"):
                self.session = _PipelinedSession(smtp, self.sender)

    def _reset(self) -> None:
        """Forget a connection that failed, so the next message opens a fresh one."""
        smtp = self._smtp()
        if self.session is not None and self.session.opened is not None and smtp is not None:
            # Inside DATA a QUIT would become message text: just hang up.
            smtp.close()
        self.session = None
        with contextlib.suppress(Exception):  # already broken; nothing to save
            self.connection.close()
        if hasattr(self.connection, "connection"):
            self.connection.connection = None
        self.is_open = False

    def build(self, outgoing: Outgoing) -> EmailMultiAlternatives:
        email = EmailMultiAlternatives(
            subject=outgoing.subject,
            body=outgoing.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[outgoing.to],
            headers=self._headers(outgoing),
            connection=self.connection,
        )
        if outgoing.html:
            email.attach_alternative(outgoing.html, "text/html")
        email.proactive_message_id = outgoing.message_id
        return email

    def _headers(self, outgoing: Outgoing) -> dict[str, str]:
        headers = dict(outgoing.headers)
        if "Message-ID" not in headers:
            idstring = f"m{outgoing.message_id}" if outgoing.message_id else None
            headers["Message-ID"] = make_msgid(idstring=idstring, domain=self.domain)
        return headers

    def _smtp(self):
        """The open smtplib session when the backend is Django's SMTP backend."""
        if isinstance(self.connection, SmtpBackend):
            return self.connection.connection
        return None

    def send(self, outgoing: Outgoing, *, next_message: tuple[int, str] | None = None) -> str:
        """Hand one message to the server; returns its Message-ID.
        `next_message`, (message id, address) of the message the caller will
        send next, lets a pipelining server open its envelope in the same
        round trip."""
        opened = self.session.opened if self.session is not None else None
        if opened is not None and opened != outgoing.message_id:
            self._reset()  # the message it was opened for is not coming
        self._open()
        smtp = self._smtp()
        if smtp is not None:
            return self._send_fast(smtp, outgoing, next_message)
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
        # A provider's own id when it gives one (anymail), so its webhook
        # events find the message; else our Message-ID.
        provider_id = getattr(getattr(email, "anymail_status", None), "message_id", None)
        return str(provider_id) if provider_id else email.extra_headers["Message-ID"]

    def smtp_data(self, outgoing: Outgoing) -> tuple[str, str, bytes]:
        """(recipient, Message-ID, bytes) of the email as it goes over SMTP."""
        headers = self._headers(outgoing)
        message_id = headers.pop("Message-ID")
        recipient = address(outgoing.to)
        data = mime_alternative(
            from_header=self.sender,
            to=recipient,
            subject=outgoing.subject,
            text=outgoing.text,
            html=outgoing.html,
            message_id=message_id,
            extra_headers=headers,
        )
        return recipient, message_id, dkim_sign(data)

    def _send_fast(self, smtp, outgoing: Outgoing, next_message: tuple[int, str] | None) -> str:
        recipient, message_id, data = self.smtp_data(outgoing)
        try:
            if self.session is not None:
                following = None
                if next_message is not None and outgoing.message_id is not None:
                    following = (next_message[0], address(next_message[1]))
                self.session.send(outgoing.message_id, recipient, data, following)
            else:
                smtp.sendmail(self.sender, [recipient], data)
        except Exception as exc:
            error = classify_error(exc)
            refused = isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError)
            if not refused or smtp.sock is None:
                self._reset()
            raise error from exc
        return message_id

    def abandon(self) -> None:
        """The message announced as `next_message` will not be sent: make sure its
        envelope cannot turn into a delivery."""
        if self.session is not None and self.session.opened is not None:
            self._reset()

    def close(self) -> None:
        if self.is_open:
            self._reset()
