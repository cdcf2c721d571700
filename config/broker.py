"""The embedded default's broker: kombu's filesystem transport, with each
task file written whole before a worker can see it.

kombu writes a task straight under its final `*.msg` name, so a worker that
polls in the middle of the write moves away and parses half a file and dies
on the JSON (then `make run` restarts it, and the task is gone with it). Here
the task is written under a hidden name no queue matches and renamed into
place: a rename within one folder is atomic, so a worker sees the whole file
or none of it."""

import contextlib
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{uuid.uuid4()}.part")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            folder = self.data_folder_out
            raise ChannelError(f"Cannot add a task file to {folder!r}: {exc}") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def use_for_filesystem_urls() -> None:
    """`filesystem://` means this transport, in every process and whatever
    broker URL a process ends up with (kombu picks a transport by the URL's
    scheme, through this table)."""
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
