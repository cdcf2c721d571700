"""Account rules: registration, sign-in, approval and API tokens."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from accounts import hooks
from accounts.models import ApiToken, ApprovalStatus, Role, User, validate_timezone
from accounts.tokens import (
    BROKEN,
    ConfirmationRefused,
    awaiting_address,
    email_token_check,
    email_token_make,
    email_token_read,
)
from config.exceptions import Conflict

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
    """Create an account. Customers are approved at once but reach the
    directory only after following the confirmation link emailed to them;
    engineers and admins wait for an administrator."""
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
        email_confirmation_send(user=user)
    logger.info("user registered", extra={"user_id": user.pk, "role": role})
    return user


# --------------------------------------------------------- email confirmation

EMAIL_UNCONFIRMED_SENTENCE = (
    "Confirm your email address first: open the link we emailed you "
    "(check your mailbox and spam folder), or ask us to send it again."
)


def transactional_email_send(*, to: str, subject: str, body: str) -> None:
    """One email about an account, through the delivery pipeline when it is
    installed (retries, outbox); else Django's email after the commit."""
    if hooks.send_email:
        hooks.send_email.send(to=to, subject=subject, body=body)
        return
    transaction.on_commit(lambda: send_mail(subject, body, None, [to]))


def email_confirmation_link(*, user: User, email: str) -> str:
    token = email_token_make(user=user, email=email)
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/confirm-email/{token}/"


def email_confirmation_send(*, user: User) -> str:
    """Email a confirmation link to the address the account waits on; return it."""
    address = awaiting_address(user)
    if not address:
        raise Conflict(
            detail="Your email address is already confirmed; there is nothing to send.",
            code="already_confirmed",
        )
    link = email_confirmation_link(user=user, email=address)
    hours = settings.EMAIL_CONFIRMATION_HOURS
    # Naming the account matters: whoever signed up knows its password, so the
    # owner of the address must be able to tell it is not theirs.
    body = (
        f"Hello,\n\nThe Proactive account “{user.username}” asks to use {address} "
        "and, with it, your customer record: tickets, notices and contact details.\n\n"
        f"If that account is yours, open this link and press the button:\n\n{link}\n\n"
        f"The link works for {hours} hours and only once. If you did not sign up as "
        f"“{user.username}”, ignore this email: nothing is linked unless the link is used.\n"
    )
    transactional_email_send(to=address, subject="Confirm your email address", body=body)
    logger.info("email confirmation sent", extra={"user_id": user.pk})
    return address


@transaction.atomic
def email_change_request(*, user: User, email: str) -> str:
    """A new address waits for its own confirmation; the account keeps the
    old one until then. Returns the address waiting ("" when none is)."""
    email = email.strip().lower()
    if email == user.email.lower():
        if user.pending_email:
            user.pending_email = ""
            user.save(update_fields=["pending_email"])
        return ""
    from accounts.selectors import email_taken

    if email_taken(email=email, exclude_pk=user.pk):
        from rest_framework.exceptions import ValidationError

        raise ValidationError({"email": ["An account with this email already exists."]})
    user.pending_email = email
    user.save(update_fields=["pending_email"])
    email_confirmation_send(user=user)
    return email


def email_confirm(*, token: str) -> User:
    """Follow a confirmation link: the account's address becomes the one the
    link names and the apps above (the directory) link or update its record.
    Raise ConfirmationRefused, changing nothing, when the link cannot."""
    claim = email_token_read(token)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=claim.user_id).first()
        if user is None:
            raise ConfirmationRefused(BROKEN, code="token_invalid")
        email_token_check(claim=claim, user=user)
        if not user.is_active:
            raise ConfirmationRefused(LOGIN_MESSAGES["inactive"], code="inactive")
        previous = user.email
        user.email = awaiting_address(user)
        user.pending_email = ""
        user.email_confirmed_at = timezone.now()
        user.save(update_fields=["email", "pending_email", "email_confirmed_at"])
        hooks.email_confirmed.send(user=user, previous_email=previous)
    logger.info("email confirmed", extra={"user_id": user.pk})
    return user


def user_email_vouch(*, user: User) -> User:
    """Staff linked the account by hand: its address counts as confirmed."""
    if user.email_confirmed_at is None:
        user.email_confirmed_at = timezone.now()
        user.save(update_fields=["email_confirmed_at"])
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


@transaction.atomic
def user_sign_out_everywhere(*, user: User) -> None:
    """Revoke every API token and end every session of the account (the
    caller ends the current session itself)."""
    ApiToken.objects.filter(user=user).delete()
    User.objects.filter(pk=user.pk).update(sessions_epoch=F("sessions_epoch") + 1)
    user.refresh_from_db(fields=["sessions_epoch"])
    logger.info("signed out everywhere", extra={"user_id": user.pk})


@transaction.atomic
def user_password_change(
    *, user: User, current_password: str, new_password: str, keep_token: ApiToken | None = None
) -> User:
    """Change one's own password. Every other session ends (a session is tied
    to the password) and every other API token is revoked; `keep_token`, the
    one the change was made with, stays."""
    from rest_framework.exceptions import ValidationError

    if not user.check_password(current_password):
        raise ValidationError(
            {"current_password": ["Your current password is wrong; type it again."]}
        )
    try:
        validate_password(new_password, user)
    except DjangoValidationError as exc:
        raise ValidationError({"new_password": list(exc.messages)}) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])
    others = ApiToken.objects.filter(user=user)
    if keep_token is not None:
        others = others.exclude(pk=keep_token.pk)
    others.delete()
    logger.info("password changed", extra={"user_id": user.pk})
    return user


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


SELF_DEMOTION_SENTENCE = (
    "You cannot demote, unapprove or deactivate your own account; ask another administrator."
)


def user_update(*, user: User, data: dict, actor: User | None = None) -> User:
    """Admin edits of role, approval and activity; anyone's own details and time zone.
    An administrator (`actor`) never takes their own administration away."""
    if (
        actor is not None
        and actor.pk == user.pk
        and (
            data.get("is_active", True) is False
            or data.get("role", Role.ADMIN) != Role.ADMIN
            or data.get("approval_status", ApprovalStatus.APPROVED) != ApprovalStatus.APPROVED
        )
    ):
        raise Conflict(detail=SELF_DEMOTION_SENTENCE, code="self_demotion")
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


def engineer_availability_set(
    *, actor: User, engineer: User, available: bool | None = None, limit: int | None = None
) -> User:
    """Whether an engineer takes new tickets, and how many unfinished ones
    they hold at most. Administrators set both for any engineer; an engineer
    sets only their own availability. The API and the website both ask here."""
    if engineer.role != Role.ENGINEER:
        raise PermissionDenied("Only engineers take tickets.")
    if not actor.is_admin:
        if actor.pk != engineer.pk:
            raise PermissionDenied("Engineers may change only their own availability.")
        if limit is not None:
            raise PermissionDenied("Only administrators may change the load limit.")
    data: dict = {}
    if available is not None:
        data["is_available"] = available
    if limit is not None:
        data["max_open_tickets"] = limit
    return user_update(user=engineer, data=data)


def _on_engineer_available() -> None:
    """Tickets waiting for an engineer are assigned as soon as one can take them."""
    transaction.on_commit(hooks.engineer_available.send)
