"""The shape most of the website's POST-only actions share: check the form,
run one service with its values, show the outcome, and go back to a page."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect

from web.errors import attempt


def form_post(
    request,
    *,
    back_to: str,
    service: Callable,
    form: forms.Form | None = None,
    invalid: str = "",
    success: str | Callable[[dict], str] = "",
    arguments: Callable[[dict], dict] | None = None,
    **fixed,
) -> HttpResponseRedirect:
    """Run `service(**fixed, **arguments(form.cleaned_data))` when the form is
    valid (its refusal, or `success`, shown as a message), or show `invalid`
    when it is not; then redirect to `back_to` (a URL or a URL name)."""
    if form is not None and not form.is_valid():
        messages.error(request, invalid)
        return redirect(back_to)
    data = form.cleaned_data if form is not None else {}
    sentence = success(data) if callable(success) else success
    extra = arguments(data) if arguments else {}
    attempt(request, service, success=sentence, **fixed, **extra)
    return redirect(back_to)
