"""Sending responsibly, on the website: the approvals queue (big sends need
a second person) and the suppression list."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from delivery import selectors as delivery_selectors
from delivery import suppression
from delivery.models import Channel, Suppression, SuppressionReason
from notifications import selectors as notification_selectors
from notifications import services
from notifications.models import Notification
from web.errors import attempt
from web.permissions import admin_required, staff_required


@staff_required
def approvals_view(request):
    waiting = notification_selectors.notification_awaiting_approval_list()
    context = {"waiting": waiting, "threshold": settings.LARGE_SEND_THRESHOLD}
    return render(request, "web/notifications/approvals.html", context)


@staff_required
@require_POST
def notification_approve_view(request, notification_id: int):
    notification = get_object_or_404(Notification, pk=notification_id)
    result = attempt(
        request, services.notification_approve, notification=notification, approver=request.user
    )
    if result:
        messages.success(request, f"Approved: it goes to {result.value.queued} customers.")
    return redirect(request.POST.get("next") or f"/notifications/{notification.pk}/")


@staff_required
def suppressions_view(request):
    rows = delivery_selectors.suppression_list()
    search = request.GET.get("search", "").strip()
    reason = request.GET.get("reason", "")
    channel = request.GET.get("channel", "")
    if search:
        rows = rows.filter(address__icontains=search)
    if reason in SuppressionReason.values:
        rows = rows.filter(reason=reason)
    if channel in Channel.values:
        rows = rows.filter(channel=channel)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "params": {"search": search, "reason": reason, "channel": channel},
        "reasons": SuppressionReason.choices,
        "channels": Channel.choices,
    }
    return render(request, "web/notifications/suppressions.html", context)


@admin_required
@require_POST
def suppression_delete_view(request, suppression_id: int):
    entry = get_object_or_404(Suppression, pk=suppression_id)
    suppression.suppression_delete(suppression=entry)
    messages.success(request, f"{entry.address} may be sent to again.")
    return redirect("web-suppressions")
