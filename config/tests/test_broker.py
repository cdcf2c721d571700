"""The embedded default's broker hands a worker whole task files only."""

import threading
from queue import Empty

from kombu import Connection

from config import broker
from config.celery import app


def _connection(folder):
    return Connection(
        "filesystem://",
        transport=broker.Transport,
        transport_options={"data_folder_in": str(folder), "data_folder_out": str(folder)},
    )


def test_the_embedded_default_uses_the_whole_file_transport(settings):
    embedded = settings.CELERY_BROKER_URL.startswith("filesystem://")
    with app.connection_for_write() as connection:
        # A real broker (Redis in the PostgreSQL pass) keeps its own transport.
        assert isinstance(connection.transport, broker.Transport) == embedded


def test_a_worker_polling_during_a_write_never_reads_half_a_task(tmp_path):
    """A writer puts large tasks while a reader polls as fast as it can: every
    task the reader takes parses whole, and none is lost. (kombu's own
    transport writes under the final name, and a reader polling in the middle
    of the write dies on the JSON.)"""
    sent, received, errors = 200, [], []
    body = "x" * 300_000
    done = threading.Event()

    def read() -> None:
        with _connection(tmp_path) as connection:
            channel = connection.channel()
            while len(received) < sent and not errors:
                try:
                    received.append(channel._get("celery")["n"])
                except Empty:
                    if done.is_set() and len(received) < sent:
                        continue
                except Exception as exc:  # a half-written file
                    errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    with _connection(tmp_path) as connection:
        channel = connection.channel()
        for n in range(sent):
            channel._put("celery", {"n": n, "body": body})
    done.set()
    reader.join(timeout=60)
    assert not errors, errors[0]
    assert sorted(received) == list(range(sent))
    assert not list(tmp_path.glob(".*.part"))
