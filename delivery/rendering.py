"""What a message says: its notification's templates rendered for its
customer (compiled once per batch), or its own text for a transactional
message, with the email headers that thread an incident's notices."""

from django.db.models import Min

from delivery.channels import Outgoing
from delivery.headers import email_decorate, email_message_id
from delivery.models import Channel, Message


class Renderer:
    """Compiles each notification's templates once per batch."""

    def __init__(self):
        self._compiled: dict[tuple[int, str], object] = {}
        self._incidents: dict[int, dict | None] = {}
        self._thread_roots: dict[tuple[int, int], int] = {}

    def prepare(self, messages: list[Message]) -> None:
        """Find, in one query, the first notice of its incident each of the
        batch's incident emails answers (the root of the customer's thread)."""
        self._thread_roots = {}
        wanted = [
            (m.notification.incident_id, m.customer_id)
            for m in messages
            if m.notification_id
            and m.notification.incident_id
            and m.customer_id
            and m.channel == Channel.EMAIL
        ]
        if not wanted:
            return
        rows = (
            Message.objects.filter(
                notification__incident_id__in={incident for incident, _ in wanted},
                customer_id__in={customer for _, customer in wanted},
                channel=Channel.EMAIL,
            )
            .values_list("notification__incident_id", "customer_id")
            .annotate(first=Min("notification_id"))
            .order_by()
        )
        self._thread_roots = {(incident, customer): first for incident, customer, first in rows}

    def _headers(self, message: Message) -> dict:
        notification = message.notification
        if message.channel != Channel.EMAIL or not message.customer_id:
            return {}
        own = email_message_id(
            message_id=message.pk, notification_id=notification.pk, customer_id=message.customer_id
        )
        headers = {"Message-ID": own}
        root = self._thread_roots.get((notification.incident_id, message.customer_id))
        if notification.incident_id and root and root != notification.pk:
            first = email_message_id(
                message_id=None, notification_id=root, customer_id=message.customer_id
            )
            headers["In-Reply-To"] = first
            headers["References"] = first
        return headers

    def outgoing(self, message: Message) -> Outgoing:
        outgoing = self._rendered(message)
        if message.channel != Channel.EMAIL:
            return outgoing
        notification = message.notification
        return email_decorate(
            outgoing=outgoing,
            notification_id=message.notification_id,
            customer_id=message.customer_id,
            category=notification.category if notification is not None else "service",
        )

    def _rendered(self, message: Message) -> Outgoing:
        if message.notification is None:  # a transactional message: its own text
            subject, text, html, headers = message.subject, message.body, message.html, {}
        else:
            rendered = self._render_notification(message)
            subject, text, html = rendered.subject, rendered.text, rendered.html
            headers = self._headers(message)
        return Outgoing(
            message_id=message.pk,
            to=message.to_address,
            subject=subject,
            text=text,
            html=html,
            headers=headers,
        )

    def _render_notification(self, message: Message):
        from notifications import templating

        notification = message.notification
        key = (notification.pk, message.channel)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = templating.notification_compile_for(
                notification=notification, channel=message.channel
            )
            self._compiled[key] = compiled
            self._incidents[notification.pk] = templating.incident_values(
                notification.incident if notification.incident_id else None
            )
        return templating.notification_render(
            notification=notification,
            customer=templating.customer_values(message.customer),
            channel=message.channel,
            compiled=compiled,
            incident=self._incidents[notification.pk],
        )
