"""The cancel fence: once a cancel commits, no worker hands over another
message of that notification.

On PostgreSQL a worker holds a shared advisory lock on the notification
while it sends a short run of its messages, and checks the status after
taking it; a cancel takes the same lock exclusively. So a cancel waits for
the run in progress, and once it commits no worker can hand over another of
its messages. One status read per run instead of a locked read per message
keeps the per-message cost at one UPDATE. SQLite has a single writer."""

import time

from django.db import connection

from delivery.models import Message
from delivery.recording import SentRecorder

# Advisory lock namespace for the cancel fence (the other key is the
# notification id).
CANCEL_FENCE_NAMESPACE = 0x5052
# A worker re-checks its notification at least this often: every so many
# messages or seconds, whichever comes first; a cancel waits at most that long.
FENCE_MESSAGES = 100
FENCE_SECONDS = 0.25


def cancel_fence_close(*, notification_id: int) -> None:
    """Inside the cancelling transaction: wait until no worker is in the
    middle of sending this notification's messages, and keep them out until
    the cancel commits (PostgreSQL; SQLite has a single writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [CANCEL_FENCE_NAMESPACE, notification_id % 2**31],
            )


class CancelFence:
    """Before each send: is the notification still being sent?"""

    def __init__(self, recorder: SentRecorder):
        self.recorder = recorder
        self.notification_id: int | None = None
        self.open = False
        self.sent_in_run = 0
        self.run_started = 0.0
        self.postgres = connection.vendor == "postgresql"

    def admit(self, message: Message) -> bool:
        notification_id = message.notification_id
        if notification_id is None:
            return True
        stale = (
            self.sent_in_run >= FENCE_MESSAGES
            or time.monotonic() - self.run_started > FENCE_SECONDS
        )
        if notification_id != self.notification_id or stale:
            self.release()
            self._enter(notification_id)
        self.sent_in_run += 1
        return self.open

    def _enter(self, notification_id: int) -> None:
        from notifications.models import Notification

        if self.postgres:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_lock_shared(%s, %s)",
                    [CANCEL_FENCE_NAMESPACE, notification_id % 2**31],
                )
        self.notification_id = notification_id
        self.open = Notification.objects.filter(
            pk=notification_id, status=Notification.Status.SENDING
        ).exists()
        self.sent_in_run = 0
        self.run_started = time.monotonic()

    def pause(self, message: Message, seconds: float) -> bool:
        """After `admit(message)`: sleep `seconds` (a wait for a send slot).
        A pause that would take the run past FENCE_SECONDS lets go of the
        fence first and passes it again after, so a cancel never waits out a
        rate limit's pause. False when the notification stopped sending
        meanwhile."""
        if seconds <= 0:
            return True
        notification_id = message.notification_id
        if notification_id is None or (
            time.monotonic() + seconds - self.run_started <= FENCE_SECONDS
        ):
            time.sleep(seconds)
            return True
        self.release()
        time.sleep(seconds)
        self._enter(notification_id)
        return self.open

    def release(self) -> None:
        # The run's sent records first: a cancel that gets in next must find
        # every message handed over so far already recorded as sent.
        self.recorder.settle()
        if self.notification_id is not None and self.postgres:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock_shared(%s, %s)",
                    [CANCEL_FENCE_NAMESPACE, self.notification_id % 2**31],
                )
        self.notification_id = None
