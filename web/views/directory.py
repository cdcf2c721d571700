"""Customers, the site tree and service types."""

from django.db.models import Count
from django.shortcuts import render

from customers.models import Customer, ServiceType, Site
from web.permissions import staff_required


def _site_tree() -> list[dict]:
    """Every site with its own and its subtree's customer count, as nested nodes."""
    direct = dict(
        Customer.objects.filter(last_mile_site__isnull=False)
        .values_list("last_mile_site")
        .annotate(n=Count("id"))
        .values_list("last_mile_site", "n")
    )
    nodes = {
        row["id"]: {**row, "direct": direct.get(row["id"], 0), "total": 0, "children": []}
        for row in Site.objects.values("id", "code", "name", "location", "parent_id", "path")
    }
    for node in nodes.values():
        for ancestor in filter(None, node["path"].split("/")):
            if int(ancestor) in nodes:
                nodes[int(ancestor)]["total"] += node["direct"]
        if not node["path"]:
            node["total"] += node["direct"]
    roots = []
    for node in sorted(nodes.values(), key=lambda n: n["path"] or n["code"]):
        parent = nodes.get(node["parent_id"])
        (parent["children"] if parent else roots).append(node)
    return roots


@staff_required
def sites_view(request):
    service_types = ServiceType.objects.annotate(customer_count=Count("customers")).order_by("code")
    context = {"roots": _site_tree(), "service_types": service_types}
    return render(request, "web/customers/sites.html", context)
