"""Email through a real local SMTP server and SMS through a real local HTTP
gateway: one connection per batch, transient vs permanent errors, retries."""

import datetime
import time

import pytest
from django.utils import timezone

from customers.models import Customer
from delivery import services
from delivery.channels import Outgoing, TransportError
from delivery.channels.email import EmailTransport, classify_error
from delivery.channels.sms import GatewaySmsTransport
from delivery.models import Message, MessageStatus
from delivery.tests.conftest import started
from delivery.tests.sinks import SmsGatewaySink, SmtpSink, free_port

pytestmark = pytest.mark.django_db
S = MessageStatus


def settings_for(settings, sink: SmtpSink) -> None:
    for name, value in sink.settings().items():
        setattr(settings, name, value)


@pytest.fixture(params=[True, False], ids=["pipelining", "no-pipelining"])
def smtp(settings, request):
    """A local SMTP server; every email test runs against one that offers
    PIPELINING (two round trips per message) and one that does not."""

    def start(**behaviour) -> SmtpSink:
        behaviour.setdefault("pipelining", request.param)
        sink = SmtpSink(**behaviour).__enter__()
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        started_sinks.append(sink)
        return sink

    started_sinks: list[SmtpSink] = []
    yield start
    for sink in started_sinks:
        sink.__exit__(None, None, None)


@pytest.fixture
def gateway(settings):
    def start(**behaviour) -> SmsGatewaySink:
        sink = SmsGatewaySink(token="s3cret", **behaviour).__enter__()
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        settings.SMS_GATEWAY_TIMEOUT = 2
        started_sinks.append(sink)
        return sink

    started_sinks: list[SmsGatewaySink] = []
    yield start
    for sink in started_sinks:
        sink.__exit__(None, None, None)


def notify(make_notification, count, make_customer, channels=("email",), **customer_fields):
    for _ in range(count):
        make_customer(**customer_fields)
    notification = started(make_notification(channels=list(channels)))
    services.messages_materialise(
        notification=notification, customers=Customer.objects.all(), channels=list(channels)
    )
    return notification


def test_a_batch_goes_out_as_multipart_email_over_one_smtp_connection(
    smtp, make_customer, make_notification
):
    sink = smtp()
    connections_before = sink.handler.connections
    notify(make_notification, 5, make_customer)
    services.message_batch_deliver()
    assert Message.objects.filter(status=S.SENT).count() == 5
    assert sink.handler.connections - connections_before == 1
    received = sink.received
    assert len(received) == 5
    first = received[0]
    assert first.content_type == "multipart/alternative"
    assert first.text.startswith("Dear Customer") and "<p>Dear Customer" in first.html
    message = Message.objects.get(to_address=first.to)
    assert first.message_id == message.provider_id
    assert len({r.message_id for r in received}) == 5


def test_a_451_defers_with_backoff_and_a_later_attempt_delivers(
    settings, smtp, make_customer, make_notification
):
    settings.DELIVERY_RETRY_BASE_SECONDS = 60
    sink = smtp(temp_fail_ratio=1.0)
    notify(make_notification, 1, make_customer)
    before = timezone.now()
    services.message_batch_deliver()
    message = Message.objects.get()
    assert message.status == S.DEFERRED and message.attempts == 1
    assert message.last_error.startswith("SMTP 451 4.3.0 Temporary failure")
    assert before + datetime.timedelta(seconds=30) <= message.next_attempt_at
    assert message.next_attempt_at <= before + datetime.timedelta(seconds=61)
    sink.handler.temp_fail_ratio = 0
    Message.objects.update(next_attempt_at=timezone.now())
    services.message_batch_deliver()
    message.refresh_from_db()
    assert message.status == S.SENT and message.attempts == 2 and message.last_error == ""


def test_a_550_fails_at_once_and_the_rest_of_the_batch_still_goes(
    smtp, make_customer, make_notification
):
    make_customer(email="gone@example.com")
    sink = smtp(reject={"gone@example.com"})
    notify(make_notification, 2, make_customer)
    before = sink.handler.connections
    services.message_batch_deliver()
    assert sink.handler.connections - before == 1  # a refusal does not cost the session
    failed = Message.objects.get(to_address="gone@example.com")
    assert failed.status == S.FAILED and failed.attempts == 1
    assert failed.last_error == "SMTP 550 5.1.1 Mailbox unavailable"
    assert Message.objects.filter(status=S.SENT).count() == 2
    assert {r.to for r in sink.received} == set(
        Message.objects.filter(status=S.SENT).values_list("to_address", flat=True)
    )


def test_a_dropped_connection_defers_that_message_and_reconnects_for_the_next(
    smtp, make_customer, make_notification
):
    sink = smtp(drop_ratio=1.0)
    notify(make_notification, 3, make_customer)
    before = sink.handler.connections
    services.message_batch_deliver()
    assert Message.objects.filter(status=S.DEFERRED).count() == 3
    assert "SMTP connection dropped" in Message.objects.first().last_error
    assert sink.handler.connections - before == 3  # a fresh connection after each drop


def test_a_down_smtp_server_delays_messages_and_never_loses_them(
    settings, make_customer, make_notification
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    notify(make_notification, 2, make_customer)
    services.message_batch_deliver()
    assert set(Message.objects.values_list("status", flat=True)) == {S.DEFERRED}
    assert "SMTP connection failed" in Message.objects.first().last_error


def test_a_batch_stops_sending_at_half_its_lease_and_gives_the_rest_back(
    settings, make_customer, make_notification
):
    """A slow server must not outlast the lease: another worker would claim
    the rows still in this batch and send them too."""
    settings.DELIVERY_LEASE_SECONDS = 5  # sends for 2.5 s
    with SmtpSink(delay=0.6) as sink:
        settings_for(settings, sink)
        notify(make_notification, 6, make_customer)
        services.message_batch_deliver()
        sent = Message.objects.filter(status=S.SENT)
        released = Message.objects.filter(status=S.PENDING)
        assert 3 <= sent.count() <= 5 and released.count() == 6 - sent.count()
        assert all(m.attempts == 0 and m.next_attempt_at <= timezone.now() for m in released)
        assert len(sink.received) == sent.count()
        services.message_batch_deliver()
        assert Message.objects.filter(status=S.SENT).count() == 6
        received = [r.to for r in sink.received]
        assert sorted(received) == sorted(set(received)) and len(received) == 6


def test_retries_are_bounded_then_the_message_fails(
    settings, smtp, make_customer, make_notification
):
    settings.DELIVERY_MAX_ATTEMPTS = 3
    smtp(temp_fail_ratio=1.0)
    notify(make_notification, 1, make_customer)
    for _ in range(3):
        Message.objects.filter(status=S.DEFERRED).update(next_attempt_at=timezone.now())
        services.message_batch_deliver()
    message = Message.objects.get()
    assert message.status == S.FAILED and message.attempts == 3
    assert "gave up after 3 attempts" in message.last_error


def test_a_retry_that_would_fall_after_the_end_expires_instead(
    settings, smtp, make_customer, make_notification
):
    settings.DELIVERY_RETRY_BASE_SECONDS = 3600
    smtp(temp_fail_ratio=1.0)
    notification = notify(make_notification, 1, make_customer)
    notification.end_at = timezone.now() + datetime.timedelta(minutes=5)
    notification.save()
    services.message_batch_deliver()
    assert Message.objects.get().status == S.EXPIRED


def test_sms_go_through_the_gateway_with_the_token_over_one_keep_alive_connection(
    gateway, make_customer, make_notification
):
    sink = gateway()
    notify(make_notification, 4, make_customer, channels=("sms",))
    services.message_batch_deliver()
    sent = Message.objects.filter(status=S.SENT)
    assert sent.count() == 4
    assert sink.state.connections == 1
    assert sink.state.unauthorised == 0
    first = sink.received[0]
    message = Message.objects.get(pk=first["id"])
    assert first["phone"] == message.to_address
    assert first["text"].startswith("Dear Customer")
    assert message.provider_id.startswith("gw-") and message.segments == 1


def test_a_gateway_5xx_defers_and_a_4xx_fails(gateway, make_customer, make_notification):
    make_customer(phone="+79990000000")
    sink = gateway(reject={"+79990000000"})
    notify(make_notification, 1, make_customer, channels=("sms",))
    sink.state.fail_ratio = 1.0
    services.message_batch_deliver()
    rejected = Message.objects.get(to_address="+79990000000")
    assert rejected.status == S.FAILED
    assert rejected.last_error.startswith("SMS gateway HTTP 400")
    busy = Message.objects.exclude(pk=rejected.pk).get()
    assert busy.status == S.DEFERRED and busy.last_error.startswith("SMS gateway HTTP 503")


def test_a_gateway_timeout_or_refusal_is_transient(settings, gateway):
    sink = gateway(delay=1.5)
    settings.SMS_GATEWAY_TIMEOUT = 0.2
    outgoing = Outgoing(message_id=1, to="+79001234567", subject="", text="hi", html="")
    with pytest.raises(TransportError) as timeout:
        GatewaySmsTransport().send(outgoing)
    assert not timeout.value.permanent and "timed out" in str(timeout.value)
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{free_port()}/send"
    with pytest.raises(TransportError) as refused:
        GatewaySmsTransport().send(outgoing)
    assert not refused.value.permanent and "unreachable" in str(refused.value)
    assert sink.state.count <= 1


def test_smtp_errors_are_classified_by_code():
    import smtplib

    assert classify_error(smtplib.SMTPDataError(554, b"spam")).permanent
    assert not classify_error(smtplib.SMTPDataError(452, b"full")).permanent
    assert not classify_error(smtplib.SMTPSenderRefused(550, b"no", "a@b")).permanent
    assert not classify_error(smtplib.SMTPServerDisconnected("gone")).permanent
    assert not classify_error(TimeoutError("slow")).permanent

    class ProviderError(Exception):
        status_code = 422

    assert classify_error(ProviderError("bad address")).permanent
    assert not classify_error(RuntimeError("odd")).permanent


def test_an_email_transport_can_be_reused_after_close(smtp):
    sink = smtp()
    transport = EmailTransport()
    outgoing = Outgoing(message_id=None, to="a@example.com", subject="s", text="t", html="")
    transport.send(outgoing)
    transport.close()
    transport.send(outgoing)
    transport.close()
    assert len(sink.received) == 2
    assert sink.received[0].content_type == "text/plain"


def test_non_ascii_subjects_and_bodies_arrive_intact(smtp):
    sink = smtp()
    transport = EmailTransport()
    text = "Уважаемый клиент,\nработы 22.11 с 02:00 до 05:00. " + "ж" * 1200
    outgoing = Outgoing(
        message_id=7,
        to="ann@example.com",
        subject="Плановые работы — узел Север",
        text=text,
        html="<p>Уважаемый клиент &amp; друг</p>",
    )
    message_id = transport.send(outgoing)
    transport.close()
    [received] = sink.received
    assert received.subject == "Плановые работы — узел Север"
    assert received.text.replace("\r\n", "\n").rstrip("\n") == text
    assert received.html.strip() == "<p>Уважаемый клиент &amp; друг</p>"
    assert received.message_id == message_id and ".m7@" in message_id


def test_lines_starting_with_a_dot_and_long_encoded_subjects_arrive_intact(smtp):
    sink = smtp()
    transport = EmailTransport()
    text = "Works tonight.\n.\n..two dots\n.end"
    subject = "Плановые работы на узле Север-Запад, " * 4
    transport.send(Outgoing(message_id=1, to="a@example.com", subject=subject, text=text, html=""))
    transport.send(Outgoing(message_id=2, to="b@example.com", subject="next", text="ok", html=""))
    transport.close()
    first, second = sink.received
    assert first.text.replace("\r\n", "\n").rstrip("\n") == text
    assert first.subject == subject
    assert (second.to, second.text.strip()) == ("b@example.com", "ok")


def test_a_refused_recipient_fails_and_the_next_message_uses_the_same_session(smtp):
    sink = smtp()
    before = sink.handler.connections
    transport = EmailTransport()
    sink.handler.reject.add("a@example.com")
    with pytest.raises(TransportError) as refused:
        transport.send(Outgoing(message_id=1, to="a@example.com", subject="s", text="t", html=""))
    assert refused.value.permanent and "550" in refused.value.message
    transport.send(Outgoing(message_id=2, to="b@example.com", subject="s", text="t", html=""))
    transport.close()
    assert [r.to for r in sink.received] == ["b@example.com"]
    assert sink.handler.connections - before == 1


def _outgoing(message_id: int, to: str) -> Outgoing:
    return Outgoing(message_id=message_id, to=to, subject="Works", text=f"For {to}", html="")


def test_with_pipelining_the_next_envelope_rides_along_and_an_abandoned_one_is_never_delivered(
    settings,
):
    with SmtpSink(pipelining=True) as sink:
        settings_for(settings, sink)
        before = sink.handler.connections
        transport = EmailTransport()
        transport.send(_outgoing(1, "a@example.com"), next_message=(2, "b@example.com"))
        transport.send(_outgoing(2, "b@example.com"), next_message=(3, "c@example.com"))
        transport.abandon()  # message 3 was cancelled after its envelope opened
        transport.send(_outgoing(4, "d@example.com"), next_message=(5, "e@example.com"))
        transport.send(_outgoing(6, "f@example.com"))  # 5 failed to render
        transport.close()
        assert [r.to for r in sink.received] == [
            "a@example.com",
            "b@example.com",
            "d@example.com",
            "f@example.com",
        ]
        assert [r.text.strip() for r in sink.received][-1] == "For f@example.com"
        assert sink.handler.connections - before == 3  # each abandoned envelope hangs up


def test_with_pipelining_a_refused_next_recipient_fails_alone_on_the_same_session(settings):
    with SmtpSink(pipelining=True, reject={"gone@example.com"}) as sink:
        settings_for(settings, sink)
        before = sink.handler.connections
        transport = EmailTransport()
        transport.send(_outgoing(1, "a@example.com"), next_message=(2, "gone@example.com"))
        with pytest.raises(TransportError) as refused:
            transport.send(_outgoing(2, "gone@example.com"), next_message=(3, "c@example.com"))
        assert refused.value.permanent and "550" in refused.value.message
        transport.send(_outgoing(3, "c@example.com"))
        transport.close()
        assert [r.to for r in sink.received] == ["a@example.com", "c@example.com"]
        assert sink.handler.connections - before == 1


def test_the_gateway_session_reads_proxy_settings_from_the_environment_once(settings, monkeypatch):
    settings.SMS_GATEWAY_URL = "http://gateway.example.net/send"
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.net:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = GatewaySmsTransport()
    assert transport.session.proxies["http"] == "http://proxy.example.net:3128"
    assert transport.session.trust_env is False  # not looked up again per message
    assert transport.direct is None  # through the proxy, by requests


def test_a_gateway_over_https_is_verified_unless_told_otherwise(settings, monkeypatch):
    import ssl

    from delivery.channels.sms import _DirectConnection

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    settings.SMS_GATEWAY_URL = "https://gateway.example.net:8443/v1/send?account=7"
    transport = GatewaySmsTransport()
    connection = transport.direct.connection
    assert (connection.host, connection.port) == ("gateway.example.net", 8443)
    assert transport.direct.path == "/v1/send?account=7"
    assert connection._context.verify_mode == ssl.CERT_REQUIRED
    assert connection._context.check_hostname
    unverified = _DirectConnection(settings.SMS_GATEWAY_URL, timeout=1, verify=False)
    assert unverified.connection._context.verify_mode == ssl.CERT_NONE


def test_message_bytes_become_smtp_data_whatever_their_line_ends():
    from delivery.channels.email import _content

    assert _content(b"a\r\nb\r\n") == b"a\r\nb\r\n.\r\n"
    assert _content(b"a\nb\rc\r\nd") == b"a\r\nb\r\nc\r\nd\r\n.\r\n"
    assert _content(b".a\r\n.\r\nb\n..c") == b"..a\r\n..\r\nb\r\n...c\r\n.\r\n"


def test_a_gateway_that_hangs_up_between_messages_gets_a_fresh_connection_and_each_sms_once(
    settings,
):
    """A gateway that closes each keep-alive connection after one answer
    (as an idle timeout does): the next SMS goes over a new connection,
    never into the dead one, and nothing goes twice."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    requests_seen: list[bytes] = []

    def serve() -> None:
        for _ in range(3):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                while len(body) < length:
                    body += conn.recv(65536)
                requests_seen.append(body)
                reply = b'{"id": "gw-%d"}' % len(requests_seen)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply)
                )
            # Hung up without saying so (no Connection: close).

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{port}/send"
    settings.SMS_GATEWAY_TOKEN = ""
    transport = GatewaySmsTransport()
    try:
        ids = []
        for number in range(3):
            outgoing = Outgoing(
                message_id=number, to="+79001234567", subject="", text="hi", html=""
            )
            ids.append(transport.send(outgoing))
            time.sleep(0.05)  # the gateway's hang-up reaches us
    finally:
        transport.close()
        listener.close()
    server.join(timeout=5)
    assert ids == ["gw-1", "gw-2", "gw-3"]
    assert len(requests_seen) == 3
