"""The staff dashboard: what is going out now, what is scheduled, the last
day's delivery, and the ticket queue at a glance."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework import exceptions as api_exceptions

from accounts.services import engineer_availability_set
from notifications import selectors as notification_selectors
from notifications.models import Notification
from tickets.selectors import ticket_active_list_for_engineer
from web import incident_selectors, selectors
from web.permissions import staff_required


def home_view(request):
    if request.user.is_authenticated and request.user.is_customer:
        return redirect("web-portal-tickets")
    return _dashboard(request)


def _sending() -> list[dict]:
    sending = list(
        notification_selectors.notification_list().filter(status=Notification.Status.SENDING)[:10]
    )
    totals = notification_selectors.notification_totals(notification_ids=[n.pk for n in sending])
    return [{"n": n, "progress": selectors.notification_progress(totals[n.pk], n)} for n in sending]


@staff_required
def _dashboard(request):
    now = timezone.now()
    delivery = selectors.delivery_last_day(now=now)
    context = {
        **incident_selectors.incidents_for_dashboard(),
        "sending": _sending(),
        "scheduled": notification_selectors.notification_list()
        .filter(status=Notification.Status.SCHEDULED)
        .order_by("start_at")[:10],
        "delivery": delivery,
        "delivery_rows": [(s, n) for s, n in delivery["by_status"].items() if n],
        "tickets": selectors.ticket_figures(user=request.user, now=now),
        "my_tickets": ticket_active_list_for_engineer(engineer=request.user)[:10],
        "now": now,
    }
    return render(request, "web/dashboard.html", context)


@staff_required
def dashboard_sending_view(request):
    return render(request, "web/partials/sending.html", {"sending": _sending()})


@staff_required
@require_POST
def availability_view(request):
    """An engineer says whether they take new tickets (as PATCH /api/engineers/{me}/ does)."""
    available = request.POST.get("is_available") == "true"
    try:
        engineer_availability_set(actor=request.user, engineer=request.user, available=available)
    except api_exceptions.PermissionDenied as exc:
        raise PermissionDenied(str(exc.detail)) from exc
    messages.success(
        request,
        "You take new tickets again." if available else "You take no new tickets for now.",
    )
    return redirect("web-home")
