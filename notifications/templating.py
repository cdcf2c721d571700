"""Notification templates: Django's template language compiled from a
string by a locked-down engine (no loaders, no tag libraries, no
include/extends), rendered against a plain dictionary of whitelisted values,
never against model instances."""

import datetime
import functools
import re
from dataclasses import dataclass

import nh3
from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils.html import linebreaks

from delivery.windows import zone


class _RestrictedEngine(Engine):
    # Without loader_tags: no {% include %}, {% extends %} or {% block %}.
    # Only the allow-listed tags and filters (notifications/template_library.py).
    default_builtins = ["notifications.template_library"]


ENGINE = _RestrictedEngine(loaders=[], libraries={}, debug=False, autoescape=True)

SAMPLE_CUSTOMER = {
    "name": "Sample Customer",
    "account_number": "ACC-000001",
    "last_mile_site": "Sample site",
    "service_type": "Internet",
    "location": "Sample city",
    "timezone": "UTC",
}


class TemplateInvalid(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CompiledNotification:
    subject: Template
    text: Template
    html: Template | None


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _compile(field: str, source: str) -> Template:
    try:
        return ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateInvalid(field, f"The template does not compile: {exc}") from exc


def notification_compile(*, title: str, body: str, body_html: str = "") -> CompiledNotification:
    """Compile and trial-render the templates; TemplateInvalid names the field and the error."""
    compiled = CompiledNotification(
        subject=_compile("title", title),
        text=_compile("body", body),
        html=_compile("body_html", body_html) if body_html.strip() else None,
    )
    sample = render_context(customer=SAMPLE_CUSTOMER, start_at=None, end_at=None)
    for field, template in (("title", compiled.subject), ("body", compiled.text)):
        try:
            template.render(Context(sample, autoescape=False))
        except Exception as exc:
            raise TemplateInvalid(field, f"The template cannot be rendered: {exc}") from exc
    if compiled.html is not None:
        try:
            compiled.html.render(Context(sample))
        except Exception as exc:
            raise TemplateInvalid("body_html", f"The template cannot be rendered: {exc}") from exc
    try:
        render(compiled, sample)
    except RenderedTooLarge as exc:
        raise TemplateInvalid("body", f"The message is too large: {exc}") from exc
    return compiled


@functools.lru_cache(maxsize=4096)
def format_moment(moment: datetime.datetime | None, tz_name: str) -> str:
    """A notification's time as its customer reads it. Cached: a batch
    renders the same moment for the same few zones hundreds of times."""
    if moment is None:
        return ""
    return moment.astimezone(zone(tz_name)).strftime("%Y-%m-%d %H:%M %Z")


def customer_values(customer) -> dict:
    """The whitelisted values of a Customer a template may use."""
    site = customer.last_mile_site
    service = customer.service_type
    return {
        "name": customer.name,
        "account_number": customer.account_number,
        "last_mile_site": (site.name or site.code) if site else "",
        "service_type": service.name if service else "",
        "location": customer.location,
        "timezone": customer.timezone,
    }


def render_context(
    *,
    customer: dict,
    start_at: datetime.datetime | None,
    end_at: datetime.datetime | None,
) -> dict:
    tz_name = customer.get("timezone") or "UTC"
    return {
        "customer": customer,
        "start_at": format_moment(start_at, tz_name),
        "end_at": format_moment(end_at, tz_name),
    }


_WHITESPACE = re.compile(r"\s+")


class RenderedTooLarge(ValueError):
    """A message that renders larger than RENDERED_MESSAGE_MAX_BYTES: it is
    never sent, and the delivery record says why."""


def _check_size(*parts: str) -> None:
    limit = settings.RENDERED_MESSAGE_MAX_BYTES
    size = sum(len(part.encode()) for part in parts)
    if size > limit:
        raise RenderedTooLarge(
            f"it renders to {size} bytes, over the limit of {limit} bytes "
            "(RENDERED_MESSAGE_MAX_BYTES); shorten the notification's template."
        )


def render(compiled: CompiledNotification, context: dict) -> Rendered:
    """Raises RenderedTooLarge rather than return a message over the size cap."""
    subject = _WHITESPACE.sub(" ", compiled.subject.render(Context(context, autoescape=False)))
    text = compiled.text.render(Context(context, autoescape=False)).strip()
    _check_size(subject, text)
    if compiled.html is not None:
        html = nh3.clean(compiled.html.render(Context(context)))
    else:
        html = linebreaks(text, autoescape=True)
    _check_size(subject, text, html)
    return Rendered(subject=subject.strip(), text=text, html=html)
