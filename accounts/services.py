"""Account rules: registration, sign-in, approval and API tokens."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import ApiToken, ApprovalStatus, Role, User, validate_timezone

logger = logging.getLogger(__name__)


class LoginRefused(Exception):
    """Sign-in refused; `code` is the contract's machine code, the message a sentence."""

    def __init__(self, message: str, *, code: str, status: int):
        super().__init__(message)
        self.code = code
        self.status = status


LOGIN_MESSAGES = {
    "invalid_credentials": "The username or password is wrong; check both and try again.",
    "approval_pending": (
        "Your registration is waiting for an administrator's approval; "
        "you will get an email when it is decided."
    ),
    "approval_rejected": (
        "Your registration was rejected by an administrator; contact them if this is a mistake."
    ),
    "inactive": "This account has been deactivated; ask an administrator to reactivate it.",
}


@transaction.atomic
def user_register(
    *,
    username: str,
    email: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create an account. Customers are approved at once and linked to their
    customer record; engineers and admins wait for an administrator."""
    user = User(
        username=username,
        email=email,
        role=role,
        first_name=first_name,
        last_name=last_name,
        approval_status=(
            ApprovalStatus.APPROVED if role == Role.CUSTOMER else ApprovalStatus.PENDING
        ),
    )
    validate_password(password, user)
    user.set_password(password)
    user.save()
    if role == Role.CUSTOMER:
        from customers.services import customer_link_user

        customer_link_user(user=user)
    logger.info("user registered", extra={"user_id": user.pk, "role": role})
    return user


def user_authenticate(*, request: HttpRequest, username: str, password: str) -> User:
    """Check credentials and approval; raise LoginRefused with the reason."""
    user = authenticate(request=request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        from accounts.lockout import LOCKOUT_SENTENCE, lockout_minutes

        raise LoginRefused(
            LOCKOUT_SENTENCE.format(minutes=lockout_minutes()), code="locked_out", status=429
        )
    if user is None:
        raise LoginRefused(
            LOGIN_MESSAGES["invalid_credentials"], code="invalid_credentials", status=400
        )
    if not user.is_active:
        raise LoginRefused(LOGIN_MESSAGES["inactive"], code="inactive", status=403)
    if user.approval_status == ApprovalStatus.PENDING:
        raise LoginRefused(LOGIN_MESSAGES["approval_pending"], code="approval_pending", status=403)
    if user.approval_status == ApprovalStatus.REJECTED:
        raise LoginRefused(
            LOGIN_MESSAGES["approval_rejected"], code="approval_rejected", status=403
        )
    # A successful sign-in clears the failure history (django-axes listens)
    # and records last_login, for token sign-ins as for sessions.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    return user


@dataclass(frozen=True)
class IssuedToken:
    key: str
    token: ApiToken


def token_issue(*, user: User) -> IssuedToken:
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user,
        key_hash=ApiToken.hash_key(key),
        prefix=key[:8],
        expires_at=timezone.now() + settings.API_TOKEN_LIFETIME,
    )
    return IssuedToken(key=key, token=token)


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).delete()


def tokens_purge_expired() -> int:
    deleted, _ = ApiToken.objects.filter(expires_at__lte=timezone.now()).delete()
    if deleted:  # an hourly sweep that found nothing says nothing
        logger.info("expired API tokens removed", extra={"count": deleted})
    return deleted


def _email_decision(user: User, *, approved: bool, reason: str) -> None:
    if not user.email:
        return
    if approved:
        subject = "Your Proactive account is approved"
        body = f"Hello {user.get_full_name() or user.username},\n\nYou can now sign in."
    else:
        subject = "Your Proactive registration was rejected"
        body = f"Hello {user.get_full_name() or user.username},\n\nYour registration was rejected."
    if reason:
        body += f"\n\nReason: {reason}"
    body += f"\n\n{settings.PUBLIC_BASE_URL}/login/\n"
    send_mail(subject, body, None, [user.email])


def user_decide(*, user: User, approved: bool, decided_by: User, reason: str = "") -> User:
    """Approve or reject a registration and email the applicant the outcome."""
    with transaction.atomic():
        user.approval_status = ApprovalStatus.APPROVED if approved else ApprovalStatus.REJECTED
        user.approval_note = reason
        user.approved_by = decided_by
        user.approved_at = timezone.now()
        user.save(update_fields=["approval_status", "approval_note", "approved_by", "approved_at"])
        if not approved:
            ApiToken.objects.filter(user=user).delete()
        transaction.on_commit(lambda: _email_decision(user, approved=approved, reason=reason))
    logger.info(
        "registration %s",
        "approved" if approved else "rejected",
        extra={"user_id": user.pk, "decided_by": decided_by.pk},
    )
    if approved and user.role == Role.ENGINEER:
        _on_engineer_available()
    return user


def user_update(*, user: User, data: dict) -> User:
    """Admin edits of role, approval and activity; anyone's own details and time zone."""
    if "timezone" in data:
        validate_timezone(data["timezone"])
    fields = [f for f in ("role", "approval_status", "is_active") if f in data]
    for field in fields:
        setattr(user, field, data[field])
    for field in (
        "is_available",
        "max_open_tickets",
        "first_name",
        "last_name",
        "email",
        "timezone",
    ):
        if field in data:
            setattr(user, field, data[field])
            fields.append(field)
    if fields:
        user.save(update_fields=fields)
        if not user.is_active:
            ApiToken.objects.filter(user=user).delete()
    if user.role == Role.ENGINEER and user.is_active and user.is_approved:
        _on_engineer_available()
    return user


def _on_engineer_available() -> None:
    """Tickets waiting for an engineer are assigned as soon as one can take them."""
    try:
        from tickets.services import tickets_assign_waiting
    except ImportError:
        return
    transaction.on_commit(tickets_assign_waiting)
