"""The outbox: what the embedded default captured instead of sending."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from delivery.models import Channel
from delivery.selectors import outbox_list
from web.permissions import staff_required


@staff_required
def outbox_view(request):
    to = request.GET.get("to", "").strip()
    channel = request.GET.get("channel", "")
    if channel not in Channel.values:
        channel = ""
    rows = outbox_list(to=to, channel=channel)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request, "web/notifications/outbox.html", {"page": page, "to": to, "channel": channel}
    )


@staff_required
def outbox_item_view(request, item_id: int):
    item = get_object_or_404(outbox_list(), pk=item_id)
    return render(request, "web/notifications/outbox_item.html", {"item": item})
