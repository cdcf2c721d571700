"""The customer portal: my tickets, a new ticket, my details, what I was sent."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from customers.api import CustomerMeSerializer
from customers.models import Customer
from delivery.models import Message, MessageStatus
from notifications import templating
from tickets import selectors, services
from tickets.models import CUSTOMER_EDITABLE_STATUSES, Status
from web.errors import attempt
from web.forms import ProfileForm, TicketForm, TicketTextForm
from web.permissions import customer_required
from web.templatetags.web_tags import person
from web.views import ticket_common
from web.views.common import form_post

# A customer reaches only their own tickets (404 for any other) and never writes
# internal notes.
PAGES = ticket_common.TicketPages(
    name="portal_ticket",
    url_name="web-portal-ticket",
    guard=customer_required,
    portal=True,
    internal_notes=False,
)


def _my_customer(request) -> Customer | None:
    return Customer.objects.filter(user=request.user).first()


@customer_required
def portal_home_view(request):
    return redirect("web-portal-tickets")


@customer_required
def portal_tickets_view(request):
    tickets = selectors.ticket_visible(user=request.user).select_related("assignee", "service_type")
    page = Paginator(tickets.order_by("-id"), 25).get_page(request.GET.get("page"))
    return render(request, "web/portal/tickets.html", {"page": page})


@customer_required
def portal_ticket_new_view(request):
    customer = _my_customer(request)
    form = TicketForm(request.POST or None)
    if customer is None:
        messages.error(request, "Your account has no customer record yet; contact support.")
    elif request.method == "POST" and form.is_valid():
        ticket = attempt(
            request,
            services.ticket_create,
            actor=request.user,
            customer=customer,
            **form.cleaned_data,
        )
        if ticket:
            # Re-read: the assignment service hands back a lightweight engineer record.
            ticket = ticket_common.visible_ticket(request, ticket.pk)
            who = person(ticket.assignee, "")
            messages.success(
                request,
                f"Ticket {ticket.number} is raised"
                + (f" and assigned to {who}." if who else "; an engineer will pick it up soon."),
            )
            return redirect(PAGES.url(ticket))
    status = 400 if request.method == "POST" else 200
    return render(request, "web/portal/ticket_new.html", {"form": form}, status=status)


@customer_required
def portal_ticket_view(request, ticket_id: int):
    ticket = ticket_common.visible_ticket(request, ticket_id)
    context = PAGES.context(request, ticket) | {
        "can_cancel": Status.CANCELLED
        in services.allowed_transitions_for(ticket=ticket, user=request.user),
        "can_edit": ticket.status in CUSTOMER_EDITABLE_STATUSES,
        "text_form": TicketTextForm(
            initial={"title": ticket.title, "description": ticket.description}, auto_id="edit_%s"
        ),
    }
    return render(request, "web/tickets/detail.html", context)


@customer_required
@require_POST
def portal_ticket_cancel_view(request, ticket_id: int):
    ticket = ticket_common.visible_ticket(request, ticket_id)
    return form_post(
        request,
        back_to=PAGES.url(ticket),
        service=services.ticket_status_change,
        success="The ticket is cancelled.",
        ticket=ticket,
        actor=request.user,
        status=Status.CANCELLED,
        note=request.POST.get("note", "")[:2000],
    )


@customer_required
def portal_profile_view(request):
    customer = _my_customer(request)
    if customer is None:
        raise Http404("No customer record is linked to your account; contact support.")
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            serializer = CustomerMeSerializer(customer, data=data, partial=True)
            if serializer.is_valid():
                serializer.save()
                messages.success(request, "Your details are saved.")
                return redirect("web-portal-profile")
            for field, errors in serializer.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, str(error))
        status = 400
    else:
        form = ProfileForm(initial=CustomerMeSerializer(customer).data)
        status = 200
    context = {"form": form, "customer": customer}
    return render(request, "web/portal/profile.html", context, status=status)


@customer_required
def portal_notifications_view(request):
    """What I was told: each notification rendered for me, as it was sent."""
    customer = _my_customer(request)
    sent = []
    if customer is not None:
        rows = (
            Message.objects.filter(
                customer=customer, notification__isnull=False, status=MessageStatus.SENT
            )
            .select_related("notification", "notification__incident")
            .order_by("-sent_at", "-id")[:50]
        )
        values = templating.customer_values(customer)
        for message in rows:
            n = message.notification
            try:
                rendered = templating.notification_render(
                    notification=n, customer=values, channel=message.channel
                )
            except templating.TemplateInvalid:
                continue
            sent.append({"message": message, "rendered": rendered})
    return render(request, "web/portal/notifications.html", {"sent": sent})


@customer_required
@require_POST
def portal_ticket_edit_view(request, ticket_id: int):
    ticket = ticket_common.visible_ticket(request, ticket_id)
    return form_post(
        request,
        back_to=PAGES.url(ticket),
        service=services.ticket_update,
        form=TicketTextForm(request.POST),
        invalid="Give the ticket a title.",
        success="Your ticket is updated.",
        arguments=lambda data: {"data": data},
        ticket=ticket,
        actor=request.user,
    )


portal_ticket_comment_view = PAGES.comment_view()
portal_ticket_attach_view = PAGES.attach_view()
portal_attachment_view = PAGES.attachment_view()
portal_ticket_timeline_view = PAGES.timeline_view()
