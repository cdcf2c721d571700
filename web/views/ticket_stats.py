"""Ticket statistics for administrators, with the backlog drawn as SVG."""

from django.shortcuts import render
from rest_framework.exceptions import ValidationError

from tickets.statistics import statistics_period, ticket_statistics
from web.charts import line_chart
from web.errors import error_sentences
from web.permissions import admin_required


@admin_required
def ticket_stats_view(request):
    try:
        since, until = statistics_period(request.GET)
    except ValidationError as exc:
        errors = error_sentences(exc.detail)
        return render(request, "web/tickets/stats.html", {"errors": errors}, status=400)
    stats = ticket_statistics(since=since, until=until)
    backlog = stats["backlog"]
    chart = line_chart(
        [point["open"] for point in backlog], [f"{point['date']:%d %b}" for point in backlog]
    )
    context = {"stats": stats, "chart": chart, "since": since, "until": until}
    return render(request, "web/tickets/stats.html", context)
