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


def email_taken(*, email: str, exclude_pk: int | None = None) -> bool:
    """Whether an account holds this address. A customer sign-up that never
    confirmed it does not: otherwise anyone could keep the owner of an address
    from signing up by registering it first."""
    holders = User.objects.filter(email__iexact=email).exclude(
        role=Role.CUSTOMER, email_confirmed_at__isnull=True
    )
    if exclude_pk is not None:
        holders = holders.exclude(pk=exclude_pk)
    return holders.exists()
