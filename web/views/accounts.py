"""Sign in, sign out, sign up, my settings, registration requests and the users list."""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.api import RegisterSerializer
from accounts.models import Role, User, known_timezones
from accounts.throttles import (
    LoginFailureThrottle,
    SignupThrottle,
    throttle_check,
    throttle_refusal,
)
from web.errors import attempt
from web.forms import DecisionForm, LoginForm, SignupForm, UserSettingsForm
from web.permissions import admin_required, staff_required


def _home_for(user) -> str:
    return reverse("web-portal-tickets" if user.is_customer else "web-home")


def _safe_next(request) -> str | None:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return None


def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_home_for(request.user))
    form = LoginForm(request.POST or None)
    refusal = None
    status = 200
    if request.method == "POST" and form.is_valid():
        failures = LoginFailureThrottle()
        try:
            if not failures.allow_request(request, None):
                raise services.LoginRefused(
                    throttle_refusal(failures), code="throttled", status=429
                )
            user = services.user_authenticate(request=request, **form.cleaned_data)
        except services.LoginRefused as refused:
            if refused.code == "invalid_credentials":
                failures.record_failure()
            refusal, status = refused, refused.status
        else:
            login(request, user, backend="django.contrib.auth.backends.AllowAllUsersModelBackend")
            return redirect(_safe_next(request) or _home_for(user))
    context = {"form": form, "refusal": refusal, "next": _safe_next(request) or ""}
    return render(request, "web/accounts/login.html", context, status=status)


def logout_view(request):
    if request.method != "POST":
        # Signing out changes state, so a visit to the address asks first.
        if not request.user.is_authenticated:
            return redirect("web-login")
        return render(request, "web/accounts/logout.html")
    logout(request)
    messages.success(request, "You are signed out.")
    return redirect("web-login")


def signup_view(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        refusal = throttle_check(SignupThrottle, request)
        if refusal:
            form.add_error(None, refusal)
            return render(request, "web/accounts/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.validate_with(RegisterSerializer):
        user = services.user_register(**form.cleaned_data)
        if user.role == Role.CUSTOMER:
            login(request, user, backend="django.contrib.auth.backends.AllowAllUsersModelBackend")
            messages.success(
                request,
                f"Welcome! We emailed a confirmation link to {user.email}; "
                "open it to reach your account.",
            )
            return redirect("web-portal-tickets")
        return render(request, "web/accounts/signup_pending.html", {"applicant": user})
    status = 400 if request.method == "POST" else 200
    return render(request, "web/accounts/signup.html", {"form": form}, status=status)


@staff_required
def settings_view(request):
    """An engineer's or admin's own settings: the time zone the website shows times in."""
    form = UserSettingsForm(request.POST or None, initial={"timezone": request.user.timezone})
    if request.method == "POST" and form.is_valid():
        zone = form.cleaned_data["timezone"]
        saved = attempt(
            request,
            services.user_update,
            success=f"Your time zone is saved; times are shown in {zone}.",
            user=request.user,
            data={"timezone": zone},
        )
        if saved:
            return redirect("web-settings")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "timezones": sorted(known_timezones())}
    return render(request, "web/accounts/settings.html", context, status=status)


@admin_required
def requests_view(request):
    pending = selectors.registration_requests()
    return render(
        request, "web/accounts/requests.html", {"pending": pending, "form": DecisionForm()}
    )


@admin_required
@require_POST
def request_decide_view(request, user_id: int, decision: str):
    if decision not in ("approve", "reject"):
        raise Http404("Decide with approve or reject.")
    applicant = get_object_or_404(selectors.registration_requests(), pk=user_id)
    form = DecisionForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    approved = decision == "approve"
    services.user_decide(user=applicant, approved=approved, decided_by=request.user, reason=reason)
    verb = "approved" if approved else "rejected"
    messages.success(request, f"{applicant.username} is {verb}; they have been emailed.")
    return redirect("web-requests")


@admin_required
def users_view(request):
    users = selectors.user_list()
    role = request.GET.get("role", "")
    if role in Role.values:
        users = users.filter(role=role)
    search = request.GET.get("search", "").strip()
    if search:
        from django.db.models import Q

        users = users.filter(
            Q(username__icontains=search)
            | Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    context = {"page": page, "roles": Role.choices, "role": role, "search": search}
    return render(request, "web/accounts/users.html", context)


@admin_required
@require_POST
def user_update_view(request, user_id: int):
    target = get_object_or_404(User, pk=user_id)
    data = {}
    if request.POST.get("role") in Role.values:
        data["role"] = request.POST["role"]
    if "is_active" in request.POST:
        data["is_active"] = request.POST["is_active"] == "true"
    if "is_available" in request.POST:
        data["is_available"] = request.POST["is_available"] == "true"
    limit = request.POST.get("max_open_tickets", "")
    if limit:
        if not limit.isdigit() or not 0 < int(limit) <= 1000:
            messages.error(request, "The ticket limit must be a whole number from 1 to 1000.")
            return redirect("web-users")
        data["max_open_tickets"] = int(limit)
    # The service refuses an administrator's own demotion, as for the API.
    attempt(
        request,
        services.user_update,
        success=f"{target.username} is updated.",
        user=target,
        data=data,
        actor=request.user,
    )
    return redirect("web-users")
