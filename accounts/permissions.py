"""Role checks shared by every app's API."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


def signed_in(request) -> bool:
    """An active user has signed in."""
    user = request.user
    return bool(user and user.is_authenticated and user.is_active)


def _signed_in_as(request, role: str) -> bool:
    """An active, signed-in user for whom `user.<role>` holds (e.g. `is_admin`)."""
    return signed_in(request) and bool(getattr(request.user, role))


class _RoleRequired(BasePermission):
    """Allows the users of one role: `role` names the User property that says so."""

    role = ""

    def has_permission(self, request, view):
        return _signed_in_as(request, self.role)


class IsAdmin(_RoleRequired):
    message = "Only administrators may do this."
    role = "is_admin"


class IsStaffMember(_RoleRequired):
    """Admin or approved engineer."""

    message = "Only engineers and administrators may do this."
    role = "is_staff_member"


class IsStaffReadAdminWrite(BasePermission):
    message = "Only administrators may change this; engineers may read it."

    def has_permission(self, request, view):
        if not _signed_in_as(request, "is_staff_member"):
            return False
        return request.method in SAFE_METHODS or request.user.is_admin


class IsCustomer(_RoleRequired):
    message = "Only customers have this."
    role = "is_customer"


class IsEngineer(_RoleRequired):
    message = "Only approved engineers may do this."
    role = "is_engineer"


class IsCustomerReading(BasePermission):
    """A customer reading (never writing); combine with a staff rule by `|`.
    Which rows they see is the view's queryset's business."""

    message = "Customers may only read this."

    def has_permission(self, request, view):
        return (
            _signed_in_as(request, "is_customer")
            and request.user.is_approved
            and request.method in SAFE_METHODS
        )
