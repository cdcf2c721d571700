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
