"""Proving an email address: the link's page, the gate every customer page
passes, and sending the link again."""

from django import forms
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException, ValidationError

from accounts import selectors, services
from accounts.throttles import ConfirmationResendThrottle, PasswordChangeThrottle, throttle_check
from accounts.tokens import ConfirmationRefused, awaiting_address
from web.errors import refusal_sentences
from web.permissions import signed_in_required


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
        return redirect("web-login")
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
    return redirect("web-portal-profile" if not user.email_unconfirmed else "web-portal-tickets")


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        label="Current password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label="New password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password.",
    )


@signed_in_required
def security_view(request):
    """Change my password; sign out everywhere."""
    form = PasswordChangeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        refusal = throttle_check(PasswordChangeThrottle, request)
        if refusal:
            form.add_error(None, refusal)
            status = 429
        elif form.is_valid():
            try:
                user = services.user_password_change(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for field, sentences in exc.detail.items():
                    for sentence in sentences:
                        form.add_error(field, str(sentence))
            else:
                update_session_auth_hash(request, user)
                messages.success(
                    request, "Your password is changed; every other session has been signed out."
                )
                return redirect("web-security")
    return render(request, "web/accounts/security.html", {"form": form}, status=status)


@signed_in_required
@require_POST
def sign_out_everywhere_view(request):
    services.user_sign_out_everywhere(user=request.user)
    logout(request)
    messages.success(request, "You are signed out everywhere, on every browser and device.")
    return redirect("web-login")
