"""Role checks shared by every app's API."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsAdmin(BasePermission):
    message = "Only administrators may do this."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_admin)


class IsStaffMember(BasePermission):
    """Admin or approved engineer."""

    message = "Only engineers and administrators may do this."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff_member)


class IsStaffReadAdminWrite(BasePermission):
    message = "Only administrators may change this; engineers may read it."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_staff_member):
            return False
        return request.method in SAFE_METHODS or user.is_admin


class IsCustomer(BasePermission):
    message = "Only customers have this."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_customer)


class IsEngineer(BasePermission):
    message = "Only approved engineers may do this."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_engineer)


class IsCustomerReading(BasePermission):
    """A customer reading (never writing); combine with a staff rule by `|`.
    Which rows they see is the view's queryset's business."""

    message = "Customers may only read this."

    def has_permission(self, request, view):
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_active
            and user.is_customer
            and user.is_approved
            and request.method in SAFE_METHODS
        )
