"""Transports: one small module per channel. A transport raises
TransportError(message, permanent=...) and the pipeline decides whether to
retry."""

from dataclasses import dataclass, field


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent

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
    # Email headers chosen by the pipeline: Message-ID, and In-Reply-To /
    # References threading an incident's notices.
    headers: dict = field(default_factory=dict)
