"""SMS through the HTTP gateway (POST JSON {id, phone, text} with a bearer
token; 2xx = sent) over one keep-alive session, or into the outbox when no
gateway is configured. Also: how many SMS segments a text takes."""

import datetime
import math
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from django.conf import settings

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


class GatewaySmsTransport:
    def __init__(self):
        self.url = settings.SMS_GATEWAY_URL
        self.timeout = settings.SMS_GATEWAY_TIMEOUT
        self.session = _session_for(self.url)
        if settings.SMS_GATEWAY_TOKEN:
            self.session.headers["Authorization"] = f"Bearer {settings.SMS_GATEWAY_TOKEN}"

    def send(self, outgoing: Outgoing) -> str:
        payload = {"id": outgoing.message_id, "phone": outgoing.to, "text": outgoing.text}
        try:
            response = self.session.post(self.url, json=payload, timeout=self.timeout)
        except requests.Timeout as exc:
            raise TransportError(f"SMS gateway timed out: {exc}") from exc
        except requests.RequestException as exc:
            raise TransportError(f"SMS gateway unreachable: {exc}") from exc
        if 200 <= response.status_code < 300:
            return _provider_id(response) or str(outgoing.message_id or "")
        reply = response.text[:500]
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        message = f"SMS gateway HTTP {response.status_code}: {reply}"
        retry_after = _retry_after(response) if response.status_code == 429 else None
        raise TransportError(message, permanent=permanent, retry_after=retry_after)

    def close(self) -> None:
        self.session.close()


# A 429 without a usable Retry-After waits this long; a huge one is capped.
DEFAULT_RETRY_AFTER = 30.0
MAX_RETRY_AFTER = 3600.0


def _retry_after(response: requests.Response) -> float:
    """Retry-After in seconds (RFC 9110: delay-seconds or an HTTP date)."""
    value = (response.headers.get("Retry-After") or "").strip()
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


def _provider_id(response: requests.Response) -> str:
    try:
        data = response.json()
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
