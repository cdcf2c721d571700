"""Small presentation helpers for the website's templates."""

import datetime

from django import template
from django.http import QueryDict
from django.utils import dateformat, timezone
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, url: str, label: str, exact: bool = False):
    """A navigation link that tells assistive technology which page is current."""
    path = context["request"].path
    current = path == url if exact else path.startswith(url)
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', url, label)
    return format_html('<a href="{}">{}</a>', url, label)


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (for pagers and sorting)."""
    query: QueryDict = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def badge(value) -> str:
    text = str(value or "—")
    return format_html('<span class="badge {}">{}</span>', text, text.replace("_", " "))


@register.filter
def notice_title(notification) -> str:
    """A notification's title with its incident's values filled in."""
    from notifications.templating import notification_title_shown

    return notification_title_shown(notification=notification)


@register.filter
def percent(part, whole) -> int:
    try:
        return round(100 * int(part) / int(whole)) if int(whole) else 0
    except (TypeError, ValueError):
        return 0


@register.filter
def person(user, fallback: str = "Proactive") -> str:
    """A user's display name, or the fallback for automatic actions."""
    if user is None:
        return fallback
    return user.get_full_name() or user.username


@register.filter
def when(value, fmt: str = "Y-m-d H:i") -> str:
    """A moment in the viewer's time zone, with the zone's abbreviation so nobody
    mistakes it for another zone's; empty for no moment."""
    if not isinstance(value, datetime.datetime):
        return ""
    if timezone.is_naive(value):
        return dateformat.format(value, fmt)
    local = timezone.localtime(value)
    return f"{dateformat.format(local, fmt)} {local.tzname()}"


@register.filter
def change_value(value) -> str:
    """An audit-trail value for people: timestamps shortened to the minute, in the viewer's zone."""
    if value in (None, ""):
        return "—"
    text = str(value)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None or len(text) < 16:
        return text
    return when(moment)
