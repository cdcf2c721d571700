"""Pages a customer reaches from a link in an email, without signing in:
their contact preferences, and the one-click unsubscribe from marketing."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from customers.preferences import (
    CONSENT_FIELDS,
    customer_consent_update,
    customer_from_token,
    customer_unsubscribe_marketing,
)


def _customer_or_404(token: str):
    customer = customer_from_token(token=token)
    if customer is None:
        raise Http404("This link is not valid; use the latest email we sent you.")
    return customer


def _masked(address: str) -> str:
    """Enough of an address to recognise it, not enough to harvest it."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}…@{domain}"
    return f"…{address[-4:]}" if address else ""


@require_http_methods(["GET", "POST"])
def preferences_view(request, token: str):
    customer = _customer_or_404(token)
    saved = False
    if request.method == "POST":
        customer = customer_consent_update(
            customer=customer, **{name: request.POST.get(name) == "on" for name in CONSENT_FIELDS}
        )
        saved = True
    return render(
        request,
        "web/preferences/preferences.html",
        {
            "customer": customer,
            "saved": saved,
            "email": _masked(customer.email),
            "phone": _masked(customer.phone),
        },
    )


@csrf_exempt  # RFC 8058: a mail client posts here with no session and no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request, token: str):
    customer = _customer_or_404(token)
    done = False
    if request.method == "POST":
        customer_unsubscribe_marketing(customer=customer)
        done = True
    return render(
        request,
        "web/preferences/unsubscribe.html",
        {"customer": customer, "done": done, "token": token},
    )
