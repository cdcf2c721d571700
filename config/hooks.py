"""Hooks: how a lower layer tells a higher one that something happened
without importing it (the layers are in ARCHITECTURE.md).

The lower app declares a Hook; the higher app connects its service to it in
its AppConfig.ready(). Calling the hook runs every connected receiver in the
caller's process and transaction, in the order they were connected, and an
exception in a receiver reaches the caller: unlike a signal, a hook is part
of the work, not a side effect, and nothing is swallowed.
"""

from collections.abc import Callable


class Hook:
    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[..., object]] = []

    def connect(self, receiver: Callable[..., object]) -> None:
        """Connect a receiver once (ready() may run more than once)."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)

    def disconnect(self, receiver: Callable[..., object]) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    def send(self, **kwargs: object) -> None:
        for receiver in list(self._receivers):
            receiver(**kwargs)

    def __bool__(self) -> bool:
        """True when something is connected."""
        return bool(self._receivers)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._receivers)} receiver(s)>"


class Question:
    """What a lower layer asks a higher one (e.g. notifications asking
    incidents who an incident's notice is for): one answerer, connected in
    the higher app's AppConfig.ready(); asking returns its answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._answerer: Callable[..., object] | None = None

    def answer_with(self, answerer: Callable[..., object]) -> None:
        self._answerer = answerer

    def __bool__(self) -> bool:
        """True when an app above answers it."""
        return self._answerer is not None

    def ask(self, **kwargs: object):
        if self._answerer is None:
            raise LookupError(f"No app answers {self.name}.")
        return self._answerer(**kwargs)

    def __repr__(self) -> str:
        return f"<Question {self.name}>"
