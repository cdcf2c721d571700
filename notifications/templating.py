"""Notification templates: Django's template language compiled from a
string by a locked-down engine (no loaders, no tag libraries, no
include/extends), rendered against a plain dictionary of whitelisted values,
never against model instances."""

import datetime
import functools
import re
from dataclasses import dataclass
from html import escape as html_escape

import nh3
from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import TextNode, Variable, VariableNode
from django.template.defaulttags import IfNode
from django.utils.html import conditional_escape

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


INCIDENT_TIME_FIELDS = ("eta", "started_at", "scheduled_start", "scheduled_end")
INCIDENT_STATUS_LABELS = {
    "draft": "draft",
    "investigating": "investigating",
    "identified": "cause identified",
    "monitoring": "fix applied, monitoring",
    "resolved": "resolved",
    "scheduled": "scheduled",
    "in_progress": "in progress",
    "completed": "completed",
    "cancelled": "cancelled",
}


def incident_values(incident) -> dict | None:
    """The whitelisted values of an Incident a template may use (times
    still as datetimes: they are formatted in each customer's zone)."""
    if incident is None:
        return None
    values = {
        "title": incident.title,
        "status": INCIDENT_STATUS_LABELS.get(incident.status, incident.status),
    }
    for name in INCIDENT_TIME_FIELDS:
        values[name] = getattr(incident, name)
    return values


def render_context(
    *,
    customer: dict,
    start_at: datetime.datetime | None,
    end_at: datetime.datetime | None,
    incident: dict | None = None,
) -> dict:
    tz_name = customer.get("timezone") or "UTC"
    context = {
        "customer": customer,
        "start_at": format_moment(start_at, tz_name),
        "end_at": format_moment(end_at, tz_name),
    }
    if incident is not None:
        context["incident"] = {
            name: format_moment(value, tz_name) if name in INCIDENT_TIME_FIELDS else value
            for name, value in incident.items()
        }
    return context


def _notification_incident(notification):
    """The notification's incident if it has one (read through the foreign
    key, never by importing the incidents app)."""
    if getattr(notification, "incident_id", None) is None:
        return None
    return notification.incident


def notification_render(
    *,
    notification,
    customer: dict,
    channel: str = "email",
    compiled: CompiledNotification | None = None,
    incident: dict | None = None,
) -> Rendered:
    """The one way a notification becomes text for one customer: delivery,
    the API's previews and test sends, and the website all come here.

    Times: `start_at` is the notification's start or, when it had none, the
    moment it started; incident times come from the notice's incident. An
    SMS uses the notification's short `sms_body` when it has one."""
    if compiled is None:
        compiled = notification_compile_for(notification=notification, channel=channel)
    if incident is None:
        incident = incident_values(_notification_incident(notification))
    context = render_context(
        customer=customer,
        start_at=notification.start_at or notification.started_at,
        end_at=notification.end_at,
        incident=incident,
    )
    return render(compiled, context)


def notification_compile_for(*, notification, channel: str = "email") -> CompiledNotification:
    body = notification.body
    if channel == "sms" and getattr(notification, "sms_body", ""):
        body = notification.sms_body
    return notification_compile(
        title=notification.title,
        body=body,
        body_html=notification.body_html if channel == "email" else "",
    )


def _variables(nodelist, *, guarded: bool = False):
    """(name, guarded) of every {{ variable }} in a template; guarded when
    it sits inside an {% if %} (the author has said what happens when it is
    empty) or carries a `default` filter."""
    for node in nodelist:
        if isinstance(node, VariableNode):
            expression = node.filter_expression
            name = getattr(expression.var, "var", None)
            if isinstance(name, str):
                has_default = any(
                    f.__name__ in ("default", "default_if_none") for f, _ in expression.filters
                )
                yield name, guarded or has_default
        inner_guarded = guarded or isinstance(node, IfNode)
        for attribute in getattr(node, "child_nodelists", ()):
            children = getattr(node, attribute, None)
            if children:
                yield from _variables(children, guarded=inner_guarded)
        if isinstance(node, IfNode):
            for _condition, children in node.conditions_nodelists:
                yield from _variables(children, guarded=True)


def template_empty_variables(*, source: str, available: dict) -> list[str]:
    """Variables the template prints unconditionally that would be empty
    here (`available` maps each name to whether it has a value), in order of
    appearance. Names outside `available` are not judged."""
    try:
        template = ENGINE.from_string(source)
    except TemplateSyntaxError:
        return []
    empty = []
    for name, guarded in _variables(template.nodelist):
        if not guarded and name in available and not available[name] and name not in empty:
            empty.append(name)
    return empty


def notification_available_values(
    *, start_at: bool, end_at: bool, incident: dict | None
) -> dict[str, bool]:
    """Which time variables have a value for a notification (or notice)."""
    available = {"start_at": True, "end_at": end_at}
    for name in ("title", "status", *INCIDENT_TIME_FIELDS):
        available[f"incident.{name}"] = bool(incident and incident.get(name))
    available["incident"] = incident is not None
    return available


def template_require_values(*, field: str, source: str, available: dict[str, bool]) -> None:
    """Refuse a template that would print an empty value (\"restored by .\")."""
    empty = template_empty_variables(source=source, available=available)
    if empty:
        names = ", ".join("{{ " + name + " }}" for name in empty)
        raise TemplateInvalid(
            field,
            f"The template uses {names}, which has no value here; set it first, "
            "or wrap it in {% if %} … {% endif %}.",
        )


_WHITESPACE = re.compile(r"\s+")


class RenderedTooLarge(ValueError):
    """A message that renders larger than RENDERED_MESSAGE_MAX_BYTES: it is
    never sent, and the delivery record says why."""


def _check_size(*parts: str) -> None:
    limit = settings.RENDERED_MESSAGE_MAX_BYTES
    size = sum(len(part) if part.isascii() else len(part.encode()) for part in parts)
    if size > limit:
        raise RenderedTooLarge(
            f"it renders to {size} bytes, over the limit of {limit} bytes "
            "(RENDERED_MESSAGE_MAX_BYTES); shorten the notification's template."
        )


@functools.lru_cache(maxsize=64)
def _plain_parts(template: Template) -> tuple | None:
    """A template of text and bare `{{ a.b }}` variables only (the usual
    notice), as its parts: a string, or the lookups of a variable. None for
    anything else (tags, filters, literals, translations)."""
    parts = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            parts.append(node.s)
            continue
        if not isinstance(node, VariableNode):
            return None
        expression = node.filter_expression
        variable = expression.var
        if (
            expression.filters
            or not isinstance(variable, Variable)
            or variable.lookups is None
            or variable.translate
        ):
            return None
        parts.append(variable.lookups)
    return tuple(parts)


def _plain_value(context: dict, lookups: tuple[str, ...]) -> str | None:
    """The string at `lookups` in the context's dictionaries, else None."""
    value = context
    for key in lookups:
        if type(value) is not dict or key not in value:
            return None
        value = value[key]
    return value if type(value) is str else None


def _fill(template: Template, context: dict, *, autoescape: bool) -> str:
    """The template rendered against `context`. A plain template whose
    variables are all strings of the context's dictionaries is filled in
    directly, exactly as Django would render it (a string is printed as is,
    escaped when autoescaping) but without building a Context per message;
    anything else (a missing value, a number, a date, a safe string) goes
    through Django."""
    parts = _plain_parts(template)
    out = []
    for part in parts or ():
        if type(part) is str:
            out.append(part)
            continue
        value = _plain_value(context, part)
        if value is None:
            break
        out.append(conditional_escape(value) if autoescape else value)
    else:
        if parts is not None:
            return "".join(out)
    return template.render(Context(context, autoescape=autoescape))


_PARAGRAPH_BREAK = re.compile("\n{2,}")


def _paragraphs(text: str) -> str:
    """`django.utils.html.linebreaks(text, autoescape=True)` (the tests hold
    it to that), without its lazy-text wrappers and safe strings: paragraphs
    in <p>, single line breaks as <br>, everything escaped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n\n".join(
        f"<p>{html_escape(paragraph).replace(chr(10), '<br>')}</p>"
        for paragraph in _PARAGRAPH_BREAK.split(text)
    )


def render(compiled: CompiledNotification, context: dict) -> Rendered:
    """Raises RenderedTooLarge rather than return a message over the size cap."""
    subject = _WHITESPACE.sub(" ", _fill(compiled.subject, context, autoescape=False))
    text = _fill(compiled.text, context, autoescape=False).strip()
    _check_size(subject, text)
    if compiled.html is not None:
        html = nh3.clean(_fill(compiled.html, context, autoescape=True))
    else:
        html = _paragraphs(text)
    _check_size(subject, text, html)
    return Rendered(subject=subject.strip(), text=text, html=html)


# A customer whose values are their own placeholders: a title shown to
# staff keeps what differs from customer to customer as written.
_PLACEHOLDER_CUSTOMER = {key: f"{{{{ customer.{key} }}}}" for key in SAMPLE_CUSTOMER}


def notification_title_shown(*, notification) -> str:
    """The title as staff read it in the website: an incident notice's
    incident values filled in (its title is a template such as
    "{{ incident.title }}: update"), anything that differs per customer left
    as written; a title that no longer compiles is shown as written."""
    title = notification.title
    if "{" not in title or _notification_incident(notification) is None:
        return title
    try:
        compiled = _compile("title", title)
    except TemplateInvalid:
        return title
    context = render_context(
        customer=_PLACEHOLDER_CUSTOMER,
        start_at=notification.start_at or notification.started_at,
        end_at=notification.end_at,
        incident=incident_values(notification.incident),
    )
    return _WHITESPACE.sub(" ", compiled.render(Context(context, autoescape=False))).strip()


def text_render(*, source: str, customer: dict, incident: dict | None = None) -> str:
    """A stored text template (an incident update's body) as this customer
    reads it; a template that no longer renders is shown as written."""
    try:
        compiled = notification_compile(title="", body=source)
    except TemplateInvalid:
        return source
    return render(
        compiled, render_context(customer=customer, start_at=None, end_at=None, incident=incident)
    ).text
