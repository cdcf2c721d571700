"""With DKIM_PRIVATE_KEY, DKIM_SELECTOR and DKIM_DOMAIN set, every email is
signed, and the signature verifies against the public key a receiver would
find in DNS."""

import base64
import subprocess

import dkim
import pytest

from customers.models import Customer
from delivery import services
from delivery.models import OutboxMessage
from delivery.tests.conftest import started
from delivery.tests.sinks import SmtpSink

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory) -> tuple[str, bytes]:
    """A fresh RSA key (PEM) and the TXT record publishing its public half."""
    folder = tmp_path_factory.mktemp("dkim")
    private = folder / "private.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
    )
    public_der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)
    return private.read_text(), record


def dns_for(record: bytes):
    def lookup(name, timeout=5):
        return record if name == b"mail2026._domainkey.isp.example." else None

    return lookup


@pytest.fixture
def signing(settings, key_pair):
    settings.DKIM_PRIVATE_KEY = key_pair[0]
    settings.DKIM_SELECTOR = "mail2026"
    settings.DKIM_DOMAIN = "isp.example"
    settings.DEFAULT_FROM_EMAIL = "Proactive <noreply@isp.example>"
    return key_pair[1]


def test_every_email_over_smtp_is_signed_and_verifies(
    signing, settings, make_customer, make_notification
):
    make_customer(marketing_opt_in=True)
    services.transactional_email_enqueue(to="ann@example.com", subject="Ticket", body="Hi")
    with SmtpSink() as sink:
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        notification = started(make_notification(category="marketing", title="Offers"))
        services.messages_materialise(
            notification=notification, customers=Customer.objects.all(), channels=["email"]
        )
        services.message_batch_deliver()
    assert len(sink.received) == 2
    for received in sink.received:
        assert received.headers["DKIM-Signature"].startswith("v=1; a=rsa-sha256;")
        assert "d=isp.example" in received.headers["DKIM-Signature"]
        assert dkim.verify(received.raw, dnsfunc=dns_for(signing))
    marketing = next(r for r in sink.received if "List-Unsubscribe" in r.headers)
    signed = marketing.headers["DKIM-Signature"].replace("\r\n", "").replace(" ", "").lower()
    assert "list-unsubscribe:list-unsubscribe-post" in signed  # covered, as Gmail expects


def test_a_tampered_email_does_not_verify(signing, settings):
    services.transactional_email_enqueue(to="ann@example.com", subject="Ticket", body="Hi")
    with SmtpSink() as sink:
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        services.message_batch_deliver()
    raw = sink.received[0].raw.replace(b"Subject: Ticket", b"Subject: Ticket!")
    assert not dkim.verify(raw, dnsfunc=dns_for(signing))


def test_the_outbox_shows_the_signature(signing):
    services.transactional_email_enqueue(to="ann@example.com", subject="Ticket", body="Hi")
    services.message_batch_deliver()
    headers = OutboxMessage.objects.get().headers
    assert headers["DKIM-Signature"].startswith("v=1; a=rsa-sha256;")


def test_without_the_settings_nothing_is_signed(settings):
    settings.DKIM_PRIVATE_KEY = ""
    services.transactional_email_enqueue(to="ann@example.com", subject="Ticket", body="Hi")
    with SmtpSink() as sink:
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        services.message_batch_deliver()
    assert "DKIM-Signature" not in sink.received[0].headers


def test_a_key_given_as_a_path_works(signing, settings, tmp_path, key_pair):
    path = tmp_path / "dkim.pem"
    path.write_text(key_pair[0])
    settings.DKIM_PRIVATE_KEY = str(path)
    services.transactional_email_enqueue(to="ann@example.com", subject="Ticket", body="Hi")
    with SmtpSink() as sink:
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        services.message_batch_deliver()
    assert dkim.verify(sink.received[0].raw, dnsfunc=dns_for(signing))
