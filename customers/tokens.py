"""Links a customer follows from an email without signing in (preferences,
one-click unsubscribe): the customer's id signed with the secret key and a
salt of its own. The id, not the address, is signed, so a link keeps working
after the customer changes their email; the signature makes it unguessable."""

from django.core import signing

SALT = "proactive.customers.preferences"


def customer_token_make(*, customer_id: int) -> str:
    return signing.Signer(salt=SALT).sign_object(customer_id)


def customer_token_read(*, token: str) -> int | None:
    """The customer id a token was made for, or None when it is not one of ours."""
    try:
        value = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
