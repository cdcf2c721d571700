"""What every email carries besides its content: a Message-ID on the sending
domain, and by category either the one-click unsubscribe headers (marketing,
RFC 8058) or `Auto-Submitted` (service), plus a footer link to the
customer's preferences page."""

import functools
import html as html_lib
from urllib.parse import quote

from django.conf import settings
from django.core.mail.message import sanitize_address

from customers.tokens import customer_token_make
from delivery.channels import Outgoing

MARKETING = "marketing"


def message_id_domain() -> str:
    """EMAIL_MESSAGE_ID_DOMAIN, else the domain of DEFAULT_FROM_EMAIL."""
    if settings.EMAIL_MESSAGE_ID_DOMAIN:
        return settings.EMAIL_MESSAGE_ID_DOMAIN
    return _domain_of(settings.DEFAULT_FROM_EMAIL)


@functools.lru_cache(maxsize=16)
def _domain_of(from_email: str) -> str:
    """Parsing the address takes some 60 µs, and every email asks twice:
    once per sender address and process is enough."""
    address = sanitize_address(from_email, "utf-8")
    return address.rpartition("@")[2].rstrip(">") or "proactive.local"


def email_message_id(
    *, message_id: int | None, notification_id: int | None = None, customer_id: int | None = None
) -> str:
    """Deterministic, so a notice about the same incident can refer to an
    earlier one (In-Reply-To) and a provider's report finds its message."""
    domain = message_id_domain()
    if notification_id is not None and customer_id is not None:
        return f"<notification-{notification_id}.customer-{customer_id}@{domain}>"
    if message_id is not None:
        return f"<message-{message_id}@{domain}>"
    from email.utils import make_msgid

    return make_msgid(domain=domain)


def _base_url() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def preferences_url(*, customer_id: int) -> str:
    return f"{_base_url()}/preferences/{customer_token_make(customer_id=customer_id)}/"


def unsubscribe_url(*, customer_id: int) -> str:
    return f"{_base_url()}/unsubscribe/{customer_token_make(customer_id=customer_id)}/"


def unsubscribe_mailto(*, customer_id: int) -> str:
    mailbox = settings.EMAIL_UNSUBSCRIBE_MAILTO or f"unsubscribe@{message_id_domain()}"
    token = customer_token_make(customer_id=customer_id)
    return f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}"


def _with_footer(outgoing: Outgoing, lines: list[tuple[str, str]]) -> tuple[str, str]:
    """The text and HTML bodies with a footer of (sentence, link) lines."""
    text = outgoing.text.rstrip("\n") + "\n\n-- \n"
    text += "\n".join(f"{sentence} {url}" for sentence, url in lines) + "\n"
    html = outgoing.html
    if html:
        links = "<br>".join(
            f'{html_lib.escape(sentence)} <a href="{html_lib.escape(url)}">'
            f"{html_lib.escape(url)}</a>"
            for sentence, url in lines
        )
        footer = f'<hr><p style="font-size:12px;color:#666">{links}</p>'
        closing = html.lower().rfind("</body>")
        html = html[:closing] + footer + html[closing:] if closing >= 0 else html + footer
    return text, html


def email_decorate(
    *,
    outgoing: Outgoing,
    notification_id: int | None,
    customer_id: int | None,
    category: str = "service",
) -> Outgoing:
    """The email with its headers and footer for its category."""
    headers = dict(outgoing.headers)
    if "Message-ID" not in headers:
        headers["Message-ID"] = email_message_id(
            message_id=outgoing.message_id,
            notification_id=notification_id,
            customer_id=customer_id,
        )
    footer: list[tuple[str, str]] = []
    if category == MARKETING and customer_id is not None:
        one_click = unsubscribe_url(customer_id=customer_id)
        headers["List-Unsubscribe"] = (
            f"<{one_click}>, <{unsubscribe_mailto(customer_id=customer_id)}>"
        )
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        footer.append(("Unsubscribe from these messages:", one_click))
    else:
        headers["Auto-Submitted"] = "auto-generated"
    if customer_id is not None:
        footer.append(("Choose how we contact you:", preferences_url(customer_id=customer_id)))
    text, html = _with_footer(outgoing, footer) if footer else (outgoing.text, outgoing.html)
    return Outgoing(
        message_id=outgoing.message_id,
        to=outgoing.to,
        subject=outgoing.subject,
        text=text,
        html=html,
        headers=headers,
    )
