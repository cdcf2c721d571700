"""Proving an email address: the link's page, the gate every customer page
passes, and sending the link again."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from accounts import selectors, services
from accounts.throttles import ConfirmationResendThrottle, throttle_check
from accounts.tokens import ConfirmationRefused, awaiting_address
from web.errors import refusal_sentences


def email_unconfirmed_response(request):
    """What every customer page answers until the address is confirmed."""
    context = {
        "sentence": services.EMAIL_UNCONFIRMED_SENTENCE,
        "address": awaiting_address(request.user),
    }
    return render(request, "web/accounts/confirm_pending.html", context, status=403)


# Whoever holds the link may confirm, signed in or not. The token is the
# secret: a forged cross-site POST would need it too, so CSRF protection adds
# nothing, and mail clients and scripts can confirm without a cookie. A GET
# only shows the button, so a link scanner that opens the link confirms nothing.
@csrf_exempt
def confirm_email_view(request, token: str):
    context: dict = {}
    status = 200
    try:
        if request.method == "POST":
            context["confirmed"] = services.email_confirm(token=token)
        else:
            context["pending"] = {
                "email": awaiting_address(selectors.email_confirmation_user(token=token))
            }
    except ConfirmationRefused as refused:
        context["refusal"], status = refused, 400
    if context.get("confirmed") and request.user.is_authenticated:
        request.user.refresh_from_db()
    return render(request, "web/accounts/confirm_email.html", context, status=status)


@require_POST
def confirm_resend_view(request):
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return redirect("/login/")
    refusal = throttle_check(ConfirmationResendThrottle, request)
    if refusal:
        messages.error(request, refusal)
    else:
        try:
            address = services.email_confirmation_send(user=user)
        except APIException as exc:
            for sentence in refusal_sentences(exc):
                messages.error(request, sentence)
        else:
            messages.success(request, f"We sent a new confirmation link to {address}.")
    return redirect("/portal/profile/" if not user.email_unconfirmed else "/portal/tickets/")
