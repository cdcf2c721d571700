"""Rate limits on the doors anyone can knock on: sign-in (each try costs a
deliberately slow password hash), sign-up (API and website share one budget)
and sending the confirmation link again. Rates come from settings.RATE_LIMITS,
read on each request; the client is who accounts.client_ip says it is."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.client_ip import client_ip


class _ConfiguredRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        # Read from the settings on each request, not frozen at import.
        return settings.RATE_LIMITS[self.scope]

    def get_ident(self, request):
        return client_ip(request)


class AddressThrottle(_ConfiguredRateThrottle):
    """Counted per client address, signed in or not."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AccountThrottle(_ConfiguredRateThrottle):
    """Counted per signed-in account (per address for anonymous callers)."""

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        ident = f"user-{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginThrottle(AddressThrottle):
    scope = "login"


class SignupThrottle(AddressThrottle):
    scope = "signup"


class ConfirmationResendThrottle(AccountThrottle):
    scope = "confirmation_resend"


class PasswordChangeThrottle(AccountThrottle):
    scope = "password_change"


def throttle_refusal(throttle: SimpleRateThrottle) -> str:
    wait = throttle.wait()
    seconds = max(1, int(wait)) if wait else 60
    return f"Too many attempts; try again in {seconds} seconds."


def throttle_check(throttle_class: type[SimpleRateThrottle], request) -> str:
    """For website views: "" when allowed, else the sentence to show."""
    throttle = throttle_class()
    if throttle.allow_request(request, None):
        return ""
    return throttle_refusal(throttle)
