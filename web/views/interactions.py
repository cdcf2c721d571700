"""Interactions with customers: the recent ones and statistics by kind and engineer."""

from datetime import timedelta

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from tickets import selectors
from web.permissions import staff_required


@staff_required
def interactions_view(request):
    try:
        days = max(1, min(int(request.GET.get("days", 30)), 366))
    except ValueError:
        days = 30
    since = timezone.now() - timedelta(days=days)
    stats = selectors.interaction_stats(since=since)
    recent = (
        selectors.interaction_list()
        .filter(created_at__gte=since)
        .select_related("customer", "ticket")
        .order_by("-created_at", "-id")
    )
    page = Paginator(recent, 50).get_page(request.GET.get("page"))
    context = {
        "days": days,
        "stats": stats,
        "kinds": [(k, v) for k, v in stats["by_kind"].items()],
        "page": page,
        "engineers": selectors.engineer_list(),
    }
    return render(request, "web/tickets/interactions.html", context)
