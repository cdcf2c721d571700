"""Times on the website in the viewer's own time zone."""

import zoneinfo

from django.utils import timezone

from accounts.models import User
from customers.models import Customer


def viewer_timezone(user: User) -> zoneinfo.ZoneInfo | None:
    """The zone a signed-in person reads times in: a customer's record's zone, an
    engineer's or admin's own setting; None when it names no known zone."""
    if user.is_customer:
        name = Customer.objects.filter(user=user).values_list("timezone", flat=True).first()
    else:
        name = user.timezone
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class ViewerTimezoneMiddleware:
    """Website pages show and read times in the viewer's zone. Only the website's
    views: the API keeps answering and parsing in UTC, as its contract says."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if not view_func.__module__.startswith("web.") or not user or not user.is_authenticated:
            return None
        zone = viewer_timezone(user)
        if zone is not None:
            timezone.activate(zone)
        return None
