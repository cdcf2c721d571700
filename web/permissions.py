"""Who may open which page. Every view is wrapped in one of these, so a
customer who has not confirmed their address reaches no page but the one
asking them to (pages added later inherit that)."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def _role_required(check: Callable) -> Callable:
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated or not user.is_active:
                return redirect_to_login(request.get_full_path())
            if not check(user):
                raise PermissionDenied("This page is not available to your account.")
            if user.email_unconfirmed:
                from web.views.security import email_unconfirmed_response

                return email_unconfirmed_response(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


staff_required = _role_required(lambda user: user.is_staff_member)
admin_required = _role_required(lambda user: user.is_admin)
customer_required = _role_required(lambda user: user.is_customer and user.is_approved)
signed_in_required = _role_required(lambda user: user.is_approved)
