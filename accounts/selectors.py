from django.db.models import QuerySet

from accounts.models import ApprovalStatus, Role, User


def user_list() -> QuerySet[User]:
    return User.objects.order_by("-date_joined", "-id")


def registration_requests() -> QuerySet[User]:
    return user_list().filter(
        role__in=[Role.ENGINEER, Role.ADMIN], approval_status=ApprovalStatus.PENDING
    )
