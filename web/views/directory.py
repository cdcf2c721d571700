"""Customers, the site tree and service types."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from customers import selectors
from customers import services as customer_services
from customers.api import ServiceTypeSerializer, SiteSerializer
from customers.models import ServiceType, Site
from web.errors import attempt
from web.forms import ServiceTypeForm, SiteForm, add_api_errors
from web.permissions import admin_required, staff_required


@staff_required
def sites_view(request):
    return _sites_page(request)


def _sites_page(request, *, site_form=None, service_type_form=None, status=200):
    context = {
        "roots": selectors.site_tree(),
        "service_types": selectors.service_type_list_with_counts(),
        "site_form": site_form or SiteForm(auto_id="site_%s"),
        "service_type_form": service_type_form or ServiceTypeForm(auto_id="st_%s"),
    }
    return render(request, "web/customers/sites.html", context, status=status)


def _save_with(request, form, serializer, success: str) -> bool:
    """Validate with the API's serializer and save through it (which calls the
    directory services); errors land on the form or as a message."""
    if not serializer.is_valid():
        add_api_errors(form, serializer.errors)
        return False
    return bool(attempt(request, serializer.save, success=success))


@admin_required
@require_POST
def site_create_view(request):
    form = SiteForm(request.POST)
    if form.is_valid():
        serializer = SiteSerializer(data=form.payload())
        if _save_with(request, form, serializer, f"Site {form.cleaned_data['code']} is created."):
            return redirect("web-sites")
    return _sites_page(request, site_form=form, status=400)


@admin_required
def site_edit_view(request, site_id: int):
    site = get_object_or_404(Site, pk=site_id)
    if request.method == "POST":
        form = SiteForm(request.POST, exclude_path=site.path)
        if form.is_valid():
            serializer = SiteSerializer(site, data=form.payload())
            if _save_with(request, form, serializer, f"Site {form.cleaned_data['code']} is saved."):
                return redirect("web-sites")
        status = 400
    else:
        initial = {
            "code": site.code,
            "name": site.name,
            "location": site.location,
            "parent": site.parent.code if site.parent else "",
        }
        form = SiteForm(initial=initial, exclude_path=site.path)
        status = 200
    return render(
        request, "web/customers/site_form.html", {"form": form, "site": site}, status=status
    )


@admin_required
@require_POST
def site_delete_view(request, site_id: int):
    site = get_object_or_404(Site, pk=site_id)
    if attempt(
        request, customer_services.site_delete, success=f"Site {site.code} is deleted.", site=site
    ):
        return redirect("web-sites")
    return redirect("web-site", site_id=site.pk)


@admin_required
@require_POST
def service_type_create_view(request):
    form = ServiceTypeForm(request.POST)
    if form.is_valid():
        serializer = ServiceTypeSerializer(data=form.cleaned_data)
        if serializer.is_valid():
            serializer.save()
            messages.success(request, f"Service type {serializer.instance.code} is created.")
            return redirect("web-sites")
        add_api_errors(form, serializer.errors)
    return _sites_page(request, service_type_form=form, status=400)


@admin_required
@require_POST
def service_type_delete_view(request, service_type_id: int):
    service_type = get_object_or_404(ServiceType, pk=service_type_id)
    attempt(
        request,
        customer_services.service_type_delete,
        success=f"Service type {service_type.code} is deleted.",
        service_type=service_type,
    )
    return redirect("web-sites")
