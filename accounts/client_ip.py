"""Who is asking: the client's address as the configured proxies report it.

With TRUSTED_PROXY_COUNT = 0 the service faces clients directly and
X-Forwarded-For is the client's own claim, so it is ignored. Behind N
proxies, each appends the address it received the request from, so the N-th
address from the right was written by our outermost proxy: that is the
client. Everything left of it is whatever the client chose to send. DRF's
NUM_PROXIES follows the same rule; rate limits and the sign-in lockout both
use this function, so they always agree on who the client is."""

from django.conf import settings


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    return addresses[-min(count, len(addresses))]
