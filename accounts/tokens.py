"""Signed, expiring, single-use links that prove someone reads an address.

A token names the user and the address it confirms, so it cannot confirm any
other address, and a digest of the account's confirmation state, which every
confirmation changes: a used (or superseded) link no longer matches."""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User

SALT = "accounts.email-confirmation"


class ConfirmationRefused(Exception):
    """The link confirms nothing; the message says why and what to do."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


EXPIRED = "This confirmation link has expired; sign in and ask for a new one with “Send it again”."
BROKEN = (
    "This confirmation link is not valid; copy the whole link from the email, or ask for a new one."
)
USED = (
    "This confirmation link was already used or replaced by a newer one; "
    "sign in, or ask for a new link with “Send it again”."
)


def awaiting_address(user: User) -> str:
    """The address this account is waiting to have confirmed, or ""."""
    if user.pending_email:
        return user.pending_email
    return "" if user.email_confirmed_at else user.email


def _state(user: User) -> str:
    stamp = user.email_confirmed_at.isoformat() if user.email_confirmed_at else "never"
    return salted_hmac(SALT, f"{user.pk}|{stamp}|{user.pending_email.lower()}").hexdigest()[:20]


def email_token_make(*, user: User, email: str) -> str:
    return signing.dumps({"u": user.pk, "e": email.lower(), "s": _state(user)}, salt=SALT)


@dataclass(frozen=True)
class TokenClaim:
    user_id: int
    email: str
    state: str


def email_token_read(token: str) -> TokenClaim:
    """The token's claim if its signature holds and it has not expired."""
    max_age = settings.EMAIL_CONFIRMATION_HOURS * 3600
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise ConfirmationRefused(EXPIRED, code="token_expired") from None
    except signing.BadSignature:
        raise ConfirmationRefused(BROKEN, code="token_invalid") from None
    try:
        return TokenClaim(
            user_id=int(payload["u"]), email=str(payload["e"]), state=str(payload["s"])
        )
    except (KeyError, TypeError, ValueError):
        raise ConfirmationRefused(BROKEN, code="token_invalid") from None


def email_token_check(*, claim: TokenClaim, user: User) -> None:
    """Raise unless the claim is for the address this user is waiting on, now."""
    current = awaiting_address(user).lower()
    same_state = constant_time_compare(claim.state, _state(user))
    if not current or current != claim.email or not same_state:
        raise ConfirmationRefused(USED, code="token_used")
