"""Customers: the list (fast at a million rows), detail, create/edit, CSV import and export."""

import csv
import io
from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.request import Request

from config.pagination import estimated_count
from customers import csv_io, selectors
from customers import services as customer_services
from customers.api import CustomerSerializer, CustomerViewSet
from customers.filters import CustomerFilter
from customers.models import Customer
from delivery import selectors as delivery_selectors
from delivery.selectors import suppression_for_customer
from incidents.outage_minutes import outage_minutes_for_customers
from notifications import templating
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from web.errors import attempt, error_sentences
from web.forms import CustomerForm, ImportForm, InteractionForm, TicketForm, add_api_errors
from web.permissions import staff_required
from web.views import ticket_common

PAGE_SIZE = 50
COUNT_CAP = 10_000
FILTERS = (
    "search",
    "location",
    "last_mile_site",
    "service_type",
    "tag",
    "operator_code",
    "timezone",
    "is_active",
)
REPORT_SESSION_KEY = "web_import_rejected"
REPORT_LIMIT = 20_000


def filtered_customers(request):
    """The API's own filters and search over the directory, so the page, the API
    and the export always agree."""
    # The list shows no tags, so none are fetched.
    queryset = CustomerFilter(request.GET, queryset=selectors.customer_list(tags=False)).qs
    return SearchFilter().filter_queryset(Request(request), queryset, CustomerViewSet)


def _count(queryset) -> tuple[int, str]:
    """How many match, without walking a million rows: the planner's estimate
    on PostgreSQL above a thousand, otherwise an exact count capped at COUNT_CAP."""
    if connection.vendor == "postgresql":
        count, is_estimate = estimated_count(queryset)
        return count, "About" if is_estimate else ""
    capped = queryset.order_by().values("pk")[: COUNT_CAP + 1].count()
    return (COUNT_CAP, "More than") if capped > COUNT_CAP else (capped, "")


@staff_required
def customer_list_view(request):
    queryset = filtered_customers(request)
    rows, next_after = selectors.customer_keyset_page(
        queryset, after=request.GET.get("after", ""), size=PAGE_SIZE
    )
    count, qualifier = _count(queryset)
    context = {
        "customers": rows,
        "next_after": next_after,
        "count": count,
        "count_qualifier": qualifier,
        "params": request.GET,
        "service_types": selectors.service_type_list(),
        "sites": selectors.site_choices(),
        "export_query": request.GET.urlencode(),
        "filtering": any(request.GET.get(f) for f in FILTERS),
        "import_form": ImportForm(),
    }
    template = "web/customers/_rows.html" if request.htmx else "web/customers/list.html"
    return render(request, template, context)


@staff_required
def customer_detail_view(request, customer_id: int):
    customer = get_object_or_404(selectors.customer_list(), pk=customer_id)
    messages_sent = Paginator(
        delivery_selectors.message_list_for_customer(customer=customer), 50
    ).get_page(request.GET.get("page"))
    _with_subjects(customer, messages_sent)
    context = {
        "customer": customer,
        "tickets": ticket_selectors.ticket_list_for_customer(customer=customer)[:50],
        "interactions": customer.interactions.select_related("created_by", "ticket").order_by(
            "-created_at"
        )[:50],
        "messages_sent": messages_sent,
        "suppressions": suppression_for_customer(email=customer.email, phone=customer.phone),
        "ticket_form": TicketForm(auto_id="ticket_%s"),
        "interaction_form": InteractionForm(auto_id="interaction_%s"),
        "outage_minutes": _outage_minutes_last_30_days(customer),
    }
    return render(request, "web/customers/detail.html", context)


def _outage_minutes_last_30_days(customer: Customer) -> dict:
    until = timezone.now()
    since = until - timedelta(days=30)
    rows = outage_minutes_for_customers(customer_ids=[customer.pk], since=since, until=until)
    return rows[customer.pk] | {"since": since, "until": until}


def _with_subjects(customer: Customer, messages_page) -> None:
    """Give each message the notification's subject as this customer read it
    (rendered with their own values)."""
    values = templating.customer_values(customer)
    subjects: dict[int, str] = {}
    for message in messages_page:
        notification = message.notification
        if notification is None:
            message.display_subject = message.subject or "(ticket email)"
            continue
        if notification.pk not in subjects:
            try:
                subjects[notification.pk] = templating.notification_render(
                    notification=notification, customer=values
                ).subject
            except templating.TemplateInvalid:
                subjects[notification.pk] = notification.title
        message.display_subject = subjects[notification.pk]


def _initial(customer: Customer) -> dict:
    data = CustomerSerializer(customer).data
    data["tags"] = ", ".join(data["tags"])
    return data


@staff_required
def customer_form_view(request, customer_id: int | None = None):
    customer = None
    if customer_id is not None:
        customer = get_object_or_404(selectors.customer_list(), pk=customer_id)
    if request.method == "POST":
        form = CustomerForm(request.POST)
        serializer = form.validated_serializer(
            lambda data: CustomerSerializer(instance=customer, data=data)
        )
        if serializer is not None:
            try:
                saved = serializer.save()
            except ValidationError as exc:
                add_api_errors(
                    form, exc.detail if isinstance(exc.detail, dict) else {None: exc.detail}
                )
            else:
                messages.success(request, f"{saved.name} is saved.")
                return redirect("web-customer", customer_id=saved.pk)
        status = 400
    else:
        form = CustomerForm(initial=_initial(customer) if customer else None)
        status = 200
    return render(
        request, "web/customers/form.html", {"form": form, "customer": customer}, status=status
    )


def customer_import_route(request):
    if request.method == "POST":
        return customer_import_view(request)
    return customer_import_page_view(request)


@staff_required
@require_POST
def customer_validate_view(request, customer_id: int | None = None):
    """Live checks while the form is filled in: the same validation as saving,
    nothing stored. Errors are shown for fields that hold a value and for the
    field just left, so untouched fields are not flagged yet."""
    customer = None
    if customer_id is not None:
        customer = get_object_or_404(selectors.customer_list(), pk=customer_id)
    form = CustomerForm(request.POST)
    form.check_everything(lambda data: CustomerSerializer(instance=customer, data=data))
    touched = request.headers.get("HX-Trigger-Name", "")
    for name in list(form.errors):
        if name != touched and not request.POST.get(name):
            del form.errors[name]
    return render(request, "web/customers/_feedback.html", {"form": form})


@staff_required
@require_POST
def customer_import_view(request):
    form = ImportForm(request.POST, request.FILES)
    context = {"import_form": form}
    if form.is_valid():
        upload = form.cleaned_data["file"]
        upload.seek(0)
        try:
            result = csv_io.customer_import(stream=upload.file)
        except ValidationError as exc:
            context["failure"] = " ".join(error_sentences(exc.detail))
        else:
            context["result"] = result
            request.session[REPORT_SESSION_KEY] = result.rejected[:REPORT_LIMIT]
    status = 400 if ("failure" in context or not form.is_valid()) else 200
    template = "web/customers/_import_result.html" if request.htmx else "web/customers/import.html"
    return render(request, template, context, status=200 if request.htmx else status)


@staff_required
def customer_import_page_view(request):
    return render(request, "web/customers/import.html", {"import_form": ImportForm()})


@staff_required
def customer_import_report_view(request):
    rejected = request.session.get(REPORT_SESSION_KEY)
    if rejected is None:
        raise Http404("No import report in this session; import a file first.")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "field", "error"])
    for item in rejected:
        for field, errors in item["errors"].items():
            for error in errors:
                writer.writerow([item["row"], field, csv_io.csv_cell_neutralise(error)])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rejected-rows.csv"'
    return response


@staff_required
@require_POST
def customer_ticket_view(request, customer_id: int):
    """Open a ticket on a customer's behalf (e.g. while they are on the phone)."""
    customer = get_object_or_404(Customer, pk=customer_id)
    form = TicketForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Give the ticket a title and a priority.")
        return redirect("web-customer", customer_id=customer.pk)
    ticket = ticket_common.ticket_raise(request, form, customer=customer)
    if ticket:
        messages.success(request, f"Ticket {ticket.number} is open.")
        return redirect("web-ticket", ticket_id=ticket.pk)
    return redirect("web-customer", customer_id=customer.pk)


@staff_required
@require_POST
def customer_interaction_view(request, customer_id: int):
    customer = get_object_or_404(Customer, pk=customer_id)
    form = InteractionForm(request.POST)
    if form.is_valid():
        attempt(
            request,
            ticket_services.interaction_create,
            success="The interaction is logged.",
            actor=request.user,
            customer=customer,
            kind=form.cleaned_data["kind"],
            duration_seconds=form.cleaned_data["duration_minutes"] * 60,
            notes=form.cleaned_data["notes"],
        )
    else:
        messages.error(request, "Give the kind and a duration in whole minutes.")
    return redirect("web-customer", customer_id=customer.pk)


@staff_required
@require_POST
def customer_delete_view(request, customer_id: int):
    customer = get_object_or_404(Customer, pk=customer_id)
    deleted = attempt(
        request,
        customer_services.customer_delete,
        success=f"{customer.name} is deleted.",
        customer=customer,
    )
    if deleted:
        return redirect("web-customers")
    return redirect("web-customer", customer_id=customer.pk)
