"""Transports: one small module per channel. A transport raises
TransportError(message, permanent=...) and the pipeline decides whether to
retry."""

from dataclasses import dataclass, field


class TransportError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        recipient_unknown: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        # Seconds the other side asked us to wait (HTTP 429 Retry-After).
        self.retry_after = retry_after
        # The server refused the address itself (5xx on RCPT): it will never work.
        self.recipient_unknown = recipient_unknown

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Outgoing:
    """A fully rendered message, ready to hand to a transport."""

    message_id: int | None
    to: str
    subject: str
    text: str
    html: str
    # Extra email headers (Message-ID, List-Unsubscribe, Auto-Submitted…).
    headers: dict[str, str] = field(default_factory=dict)
