"""Links a customer follows from an email without signing in (preferences,
one-click unsubscribe): the customer's id signed with the secret key and a
salt of its own. The id, not the address, is signed, so a link keeps working
after the customer changes their email; the signature makes it unguessable."""

import functools
import hashlib
import hmac

from django.conf import settings
from django.core import signing

SALT = "proactive.customers.preferences"


@functools.lru_cache(maxsize=4)
def _keyed(secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 keyed as Django's Signer keys it for our salt
    (salted_hmac's derived key), copied for each token."""
    key = hashlib.sha256(f"{SALT}signer".encode() + secret.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def customer_token_make(*, customer_id: int) -> str:
    """Exactly `signing.Signer(salt=SALT).sign_object(customer_id)` (the
    tests hold it to that), without building a signer, a serializer and the
    derived key again for each of a notice's emails: the same HMAC-SHA256
    of the base64 of the id's JSON."""
    value = signing.b64_encode(str(int(customer_id)).encode()).decode()
    mac = _keyed(settings.SECRET_KEY).copy()
    mac.update(value.encode())
    return f"{value}:{signing.b64_encode(mac.digest()).decode()}"


def customer_token_read(*, token: str) -> int | None:
    """The customer id a token was made for, or None when it is not one of ours."""
    try:
        value = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
