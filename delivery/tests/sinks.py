"""Local stand-ins for the outer boundary, on 127.0.0.1: an SMTP server
(aiosmtpd) and an SMS HTTP gateway, each able to misbehave on purpose.

In a test: `with SmtpSink(temp_fail_ratio=0.1) as sink: ...` (a thread).
For benchmarks, as a separate process: `python -m delivery.tests.sinks smtp 2525`
or `python -m delivery.tests.sinks http 8025`.
"""

import asyncio
import contextlib
import json
import logging
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    to: str
    message_id: str
    subject: str
    text: str
    html: str
    content_type: str
    received_at: float
    raw: bytes = b""  # the message exactly as it arrived (headers and body)
    headers: dict = field(default_factory=dict)


@dataclass
class _SmtpHandler:
    temp_fail_ratio: float = 0.0
    drop_ratio: float = 0.0
    reject: set = field(default_factory=set)
    keep: bool = True
    delay: float = 0.0
    pipelining: bool = True
    seed: int = 7
    received: list = field(default_factory=list)
    connections: int = 0
    temp_failures: int = 0
    drops: int = 0
    rejections: int = 0
    count: int = 0

    def __post_init__(self):
        self.random = random.Random(self.seed)
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            # aiosmtpd reads commands one by one from a buffered stream, so
            # pipelined commands (RFC 2920) are served in order.
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            self.rejections += 1
            return "550 5.1.1 Mailbox unavailable"
        if self.temp_fail_ratio and self.random.random() < self.temp_fail_ratio:
            self.temp_failures += 1
            return "451 4.3.0 Temporary failure, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_ratio and self.random.random() < self.drop_ratio:
            self.drops += 1
            server.transport.close()  # the connection drops before the reply
            return "421 4.4.2 Connection dropped"
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.count += len(envelope.rcpt_tos)
            if self.keep:
                self.received.extend(_parse(envelope))
        return "250 2.0.0 Message accepted"


def _parse(envelope) -> list[Received]:
    message = message_from_bytes(envelope.content, policy=default_policy)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return [
        Received(
            to=rcpt,
            message_id=str(message["Message-ID"] or ""),
            subject=str(message["Subject"] or ""),
            text=text_part.get_content() if text_part else "",
            html=html_part.get_content() if html_part else "",
            content_type=message.get_content_type(),
            received_at=time.time(),
            raw=envelope.original_content or envelope.content,
            headers={name: str(value) for name, value in message.items()},
        )
        for rcpt in envelope.rcpt_tos
    ]


class _CountingSMTP(SMTP):
    def connection_made(self, transport):
        self.event_handler.connections += 1
        super().connection_made(transport)


class SmtpSink:
    """An SMTP server on 127.0.0.1 that records what it accepts.

    temp_fail_ratio: share of RCPTs answered 451; drop_ratio: share of DATA
    commands answered by closing the connection; reject: addresses answered 550;
    pipelining: whether EHLO offers PIPELINING (as most real relays do).
    """

    def __init__(self, *, port: int | None = None, **behaviour):
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # a line per SMTP command
        self.handler = _SmtpHandler(**behaviour)
        self.port = port or free_port()
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def settings(self) -> dict:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
        }

    def env(self) -> dict:
        return {"EMAIL_URL": f"smtp://127.0.0.1:{self.port}"}


class _Controller(Controller):
    def factory(self):
        return _CountingSMTP(self.handler, hostname="sink.local", data_size_limit=10_000_000)


class _GatewayState:
    def __init__(
        self,
        *,
        fail_ratio=0.0,
        reject=(),
        token="",
        keep=True,
        seed=7,
        delay=0.0,
        busy_after=None,
        retry_after="30",
    ):
        # After this many accepted messages, answer 429 with Retry-After.
        self.busy_after = busy_after
        self.retry_after = retry_after
        self.fail_ratio = fail_ratio
        self.reject = set(reject)
        self.token = token
        self.keep = keep
        self.delay = delay
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.received: list[dict] = []
        self.count = 0
        self.connections = 0
        self.failures = 0
        self.unauthorised = 0


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # the status line, headers and body in one write (flushed per request)
    state: _GatewayState

    def setup(self):
        super().setup()
        with self.state.lock:
            self.state.connections += 1

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, code: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(length) or b"{}")
        state = self.state
        if state.token and self.headers.get("Authorization") != f"Bearer {state.token}":
            state.unauthorised += 1
            return self._reply(401, {"error": "bad token"})
        if state.busy_after is not None and state.count >= state.busy_after:
            return self._reply(429, {"error": "slow down"}, {"Retry-After": state.retry_after})
        if data.get("phone") in state.reject:
            return self._reply(400, {"error": "invalid phone number"})
        if state.fail_ratio and state.random.random() < state.fail_ratio:
            state.failures += 1
            return self._reply(503, {"error": "gateway busy"})
        if state.delay:
            time.sleep(state.delay)
        with state.lock:
            state.count += 1
            if state.keep:
                state.received.append(data)
            gateway_id = f"gw-{state.count}"
        return self._reply(200, {"id": gateway_id, "status": "queued"})


class SmsGatewaySink:
    """An HTTP/1.1 keep-alive SMS gateway on 127.0.0.1 taking POST JSON
    {id, phone, text} with a bearer token."""

    def __init__(self, *, port: int | None = None, **behaviour):
        self.state = _GatewayState(**behaviour)
        handler = type("Handler", (_GatewayHandler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "SmsGatewaySink":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def received(self) -> list[dict]:
        with self.state.lock:
            return list(self.state.received)

    def settings(self) -> dict:
        return {"SMS_GATEWAY_URL": self.url, "SMS_GATEWAY_TOKEN": self.state.token}

    def env(self) -> dict:
        return {"SMS_GATEWAY_URL": self.url, "SMS_GATEWAY_TOKEN": self.state.token}


def main(argv: list[str]) -> None:  # pragma: no cover - run by the benchmarks
    kind, port = argv[1], int(argv[2])
    if kind == "smtp":
        sink = SmtpSink(port=port, keep=False)
    else:
        sink = SmsGatewaySink(port=port, keep=False, token=argv[3] if len(argv) > 3 else "")
    with sink:
        print("ready", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(asyncio.Event().wait())


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv)
