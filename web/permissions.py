"""Who may open which page. Every view is wrapped in one of these."""

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
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


staff_required = _role_required(lambda user: user.is_staff_member)
admin_required = _role_required(lambda user: user.is_admin)
customer_required = _role_required(lambda user: user.is_customer and user.is_approved)
