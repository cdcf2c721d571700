"""How many tickets one customer account may raise: a DRF throttle scoped
per user, at TICKET_CREATE_RATE (e.g. "10/hour")."""

import math

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import UserRateThrottle


class TicketCreateThrottle(UserRateThrottle):
    scope = "ticket_create"

    def get_rate(self):
        # A throttle is built per request, so the setting is read each time.
        return settings.TICKET_CREATE_RATE

    def allow_request(self, request, view):
        user = getattr(request, "user", None)
        if user is None or not getattr(user, "is_customer", False):
            # Staff raise tickets on behalf of many customers; the quota is the customer's.
            return True
        return super().allow_request(request, view)


def ticket_create_throttled(wait: float | None) -> Throttled:
    seconds = math.ceil(wait) if wait else None
    later = f"in {seconds} seconds" if seconds else "later"
    refusal = Throttled(
        detail=(
            f"You have raised as many tickets as an account may ({settings.TICKET_CREATE_RATE}); "
            f"try again {later} or add a comment to an open ticket."
        ),
    )
    refusal.wait = seconds  # the Retry-After header, without DRF's second sentence
    return refusal


def ticket_create_refusal(request) -> Throttled | None:
    """For the website: counts this attempt like the API does, and says
    whether it is over the rate (the refusal to show) or not (None)."""
    throttle = TicketCreateThrottle()
    if throttle.allow_request(request, None):
        return None
    return ticket_create_throttled(throttle.wait())
