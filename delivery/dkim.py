"""DKIM signing (dkimpy) of every email sent over SMTP or captured in the
outbox, when DKIM_PRIVATE_KEY, DKIM_SELECTOR and DKIM_DOMAIN are set. An
email provider reached through anymail signs with its own keys instead."""

import functools
from pathlib import Path

import dkim
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Signed when present: what a receiver shows, and the one-click unsubscribe
# pair, which Gmail and Yahoo expect under the signature.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"auto-submitted",
    b"in-reply-to",
    b"references",
)


@functools.cache
def _private_key(value: str) -> bytes:
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    path = Path(text)
    if not path.is_file():
        raise ImproperlyConfigured(
            "DKIM_PRIVATE_KEY must be a PEM private key or the path to a file holding one."
        )
    return path.read_bytes()


def dkim_enabled() -> bool:
    return bool(settings.DKIM_PRIVATE_KEY and settings.DKIM_SELECTOR and settings.DKIM_DOMAIN)


def dkim_signature(data: bytes) -> bytes:
    """The DKIM-Signature header line for a whole message (CRLF line ends),
    or b"" when signing is not configured."""
    if not dkim_enabled():
        return b""
    present = {
        line.split(b":", 1)[0].strip().lower()
        for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        if b":" in line and not line[:1].isspace()
    }
    return dkim.sign(
        data,
        settings.DKIM_SELECTOR.encode(),
        settings.DKIM_DOMAIN.encode(),
        _private_key(settings.DKIM_PRIVATE_KEY),
        include_headers=[name for name in SIGNED_HEADERS if name in present],
        linesep=b"\r\n",
    )


def dkim_sign(data: bytes) -> bytes:
    """The message with its DKIM-Signature header in front (unchanged when
    signing is not configured)."""
    return dkim_signature(data) + data
