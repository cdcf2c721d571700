from django.db.models import QuerySet

from accounts.models import ApprovalStatus, Role, User
from accounts.tokens import BROKEN, ConfirmationRefused, email_token_check, email_token_read


def user_list() -> QuerySet[User]:
    return User.objects.order_by("-date_joined", "-id")


def registration_requests() -> QuerySet[User]:
    return user_list().filter(
        role__in=[Role.ENGINEER, Role.ADMIN], approval_status=ApprovalStatus.PENDING
    )


def email_confirmation_user(*, token: str) -> User:
    """Whose address a confirmation link would confirm, changing nothing;
    raise ConfirmationRefused when it would not."""
    claim = email_token_read(token)
    user = User.objects.filter(pk=claim.user_id).first()
    if user is None:
        raise ConfirmationRefused(BROKEN, code="token_invalid")
    email_token_check(claim=claim, user=user)
    return user
