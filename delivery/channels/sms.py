"""SMS through the HTTP gateway (POST JSON {id, phone, text} with a bearer
token; 2xx = sent) over one keep-alive session, or into the outbox when no
gateway is configured. Also: how many SMS segments a text takes."""

import datetime
import http.client
import json
import math
import os
import select
import ssl
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from delivery.channels import Outgoing, TransportError
from delivery.models import Channel, OutboxMessage
from delivery.outbox import outbox_store

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # code units: septets for GSM-7, UTF-16 units for UCS-2
    segments: int


def sms_size(text: str) -> SmsSize:
    """Segments as a phone network counts them: 160 GSM-7 septets (153 per
    part when concatenated), or 70 UCS-2 units (67 per part)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = math.ceil(units / part)
    return SmsSize(encoding=encoding, characters=units, segments=segments)


def _session_for(url: str) -> requests.Session:
    """A keep-alive session with the environment's proxy and CA settings
    read once, not on every request: requests otherwise walks the whole
    environment (and looks for a .netrc) per call, which costs more than
    the request itself on a local gateway."""
    session = requests.Session()
    environment = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(environment["proxies"] or {})
    session.verify = environment["verify"]
    session.trust_env = False
    return session


class _DirectConnection:
    """One keep-alive HTTP/1.1 connection straight to the gateway through
    the standard library's http.client: a third of the CPU per message of
    a requests session, whose request preparation, hooks and connection
    pool cost more than the request itself on a near gateway. Used when no
    proxy stands between us and the gateway (`requests` handles proxies)."""

    def __init__(self, url: str, *, timeout: float, verify):
        parts = urlsplit(url)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "https":
            context = ssl.create_default_context()
            if verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:  # True: the same bundle requests uses; else a file or folder
                where = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
                if os.path.isdir(where):
                    context.load_verify_locations(capath=where)
                else:
                    context.load_verify_locations(cafile=where)
            self.connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=context
            )
        else:
            self.connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=timeout
            )

    @staticmethod
    def suits(url: str, proxies: dict) -> bool:
        parts = urlsplit(url)
        return (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and not parts.username
            and not (proxies.get(parts.scheme) or proxies.get("all"))
        )

    def post(self, body: bytes, headers: dict) -> tuple[int, object, bytes]:
        """(status, headers, body) of the gateway's answer."""
        sock = self.connection.sock
        if sock is not None and select.select([sock], [], [], 0)[0]:
            # Readable while idle: the gateway hung up (or said something
            # unasked). Start afresh rather than write into a dead connection.
            self.connection.close()
        try:
            self.connection.request("POST", self.path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except TimeoutError as exc:
            self.connection.close()
            raise TransportError(f"SMS gateway timed out: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            raise TransportError(f"SMS gateway unreachable: {exc}") from exc
        if response.will_close:
            self.connection.close()
        return response.status, response.headers, data

    def close(self) -> None:
        self.connection.close()


class GatewaySmsTransport:
    def __init__(self):
        self.url = settings.SMS_GATEWAY_URL
        self.timeout = settings.SMS_GATEWAY_TIMEOUT
        self.session = _session_for(self.url)
        self.headers = {"Content-Type": "application/json"}
        if settings.SMS_GATEWAY_TOKEN:
            self.headers["Authorization"] = f"Bearer {settings.SMS_GATEWAY_TOKEN}"
        self.session.headers.update(self.headers)
        self.direct = (
            _DirectConnection(self.url, timeout=self.timeout, verify=self.session.verify)
            if _DirectConnection.suits(self.url, self.session.proxies)
            else None
        )

    def send(self, outgoing: Outgoing) -> str:
        payload = {"id": outgoing.message_id, "phone": outgoing.to, "text": outgoing.text}
        if self.direct is not None:
            body = json.dumps(payload).encode()
            status, headers, data = self.direct.post(body, self.headers)
        else:
            status, headers, data = self._post_through_session(payload)
        if 200 <= status < 300:
            return _provider_id(data) or str(outgoing.message_id or "")
        reply = data.decode(errors="replace")[:500]
        permanent = 400 <= status < 500 and status not in (408, 429)
        message = f"SMS gateway HTTP {status}: {reply}"
        retry_after = _retry_after(headers.get("Retry-After")) if status == 429 else None
        raise TransportError(message, permanent=permanent, retry_after=retry_after)

    def _post_through_session(self, payload: dict) -> tuple[int, object, bytes]:
        try:
            response = self.session.post(self.url, json=payload, timeout=self.timeout)
        except requests.Timeout as exc:
            raise TransportError(f"SMS gateway timed out: {exc}") from exc
        except requests.RequestException as exc:
            raise TransportError(f"SMS gateway unreachable: {exc}") from exc
        return response.status_code, response.headers, response.content

    def close(self) -> None:
        if self.direct is not None:
            self.direct.close()
        self.session.close()


# A 429 without a usable Retry-After waits this long; a huge one is capped.
DEFAULT_RETRY_AFTER = 30.0
MAX_RETRY_AFTER = 3600.0


def _retry_after(header: str | None) -> float:
    """Retry-After in seconds (RFC 9110: delay-seconds or an HTTP date)."""
    value = (header or "").strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    seconds = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _provider_id(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if isinstance(data, dict):
        for key in ("id", "message_id", "sid"):
            if data.get(key) not in (None, ""):
                return str(data[key])[:255]
    return ""


class OutboxSmsTransport:
    """The embedded default: the SMS is stored in the outbox."""

    def send(self, outgoing: Outgoing) -> str:
        row = OutboxMessage(
            channel=Channel.SMS, to=outgoing.to, body=outgoing.text, message_id=outgoing.message_id
        )
        return f"outbox-{outbox_store([row])[0]}"

    def close(self) -> None:
        pass


def sms_transport():
    return GatewaySmsTransport() if settings.SMS_GATEWAY_URL else OutboxSmsTransport()
