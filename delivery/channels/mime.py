"""A lean multipart/alternative writer for the SMTP fast path.

Django's EmailMessage goes through the standard library's email package,
which costs about as much per message as the SMTP exchange itself. For plain
text + HTML with no attachments the format is simple enough to write
directly; the result is standard MIME (checked by parsing it back in the
tests)."""

import base64
import random
import time
from email.header import Header
from email.utils import formatdate

from django.core.mail.message import sanitize_address


def address(value: str) -> str:
    """A plain ASCII address as is; anything else (names, IDN) the Django way."""
    if value.isascii() and not any(c in value for c in '<>"\r\n,;'):
        return value
    return sanitize_address(value, "utf-8")


def _header(value: str) -> str:
    if value.isascii() and "\n" not in value and "\r" not in value:
        return value
    return Header(value.replace("\r", " ").replace("\n", " "), "utf-8").encode(linesep="\r\n")


def _part(content: str, subtype: str) -> bytes:
    lines = content.splitlines()
    if content.isascii() and all(len(line) <= 900 for line in lines):
        encoding = "7bit"
        payload = ("\r\n".join(lines) + "\r\n").encode("ascii")
    else:
        encoding = "base64"
        payload = base64.encodebytes(content.encode("utf-8")).replace(b"\n", b"\r\n")
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + payload


_date: tuple[int, str] = (0, "")


def _date_header() -> str:
    """The Date header, formatted once a second rather than per email."""
    global _date
    second = int(time.time())
    if _date[0] != second:
        _date = (second, formatdate(second))
    return _date[1]


def mime_alternative(
    *,
    from_header: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    """The bytes of a text (+ HTML) email, ready for SMTP DATA. `from_header`
    and `to` are already sanitised addresses."""
    extra = "".join(
        f"{name}: {_header(value)}\r\n" for name, value in (extra_headers or {}).items()
    )
    headers = (
        f"From: {from_header}\r\n"
        f"To: {to}\r\n"
        f"Subject: {_header(subject)}\r\n"
        f"Date: {_date_header()}\r\n"
        f"Message-ID: {message_id}\r\n"
        f"{extra}"
        "MIME-Version: 1.0\r\n"
    ).encode("ascii")
    if not html:
        return headers + _part(text, "plain")
    # Random enough not to occur in the content, as the standard library's
    # own boundaries (no system call per email for it).
    boundary = f"=_{random.getrandbits(128):032x}"
    return b"".join(
        [
            headers,
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
            f"--{boundary}\r\n".encode(),
            _part(text, "plain"),
            f"--{boundary}\r\n".encode(),
            _part(html, "html"),
            f"--{boundary}--\r\n".encode(),
        ]
    )
