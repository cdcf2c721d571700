"""The customer portal: my tickets, a new ticket, my details, what I was sent."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from customers.api import CustomerMeSerializer
from customers.models import Customer
from customers.selectors import customer_of_user
from delivery.models import Message
from delivery.selectors import message_sent_list_for_customer
from incidents.selectors import incidents_active_for_customer
from notifications import templating
from tickets import selectors, services
from tickets.models import ACTIVE_STATUSES, CUSTOMER_EDITABLE_STATUSES, Status
from tickets.throttles import ticket_create_refusal
from web.errors import attempt
from web.forms import ProfileForm, TicketCancelForm, TicketForm, TicketTextForm, add_api_errors
from web.permissions import customer_required
from web.templatetags.web_tags import person
from web.views import ticket_common

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
    return customer_of_user(user=request.user)


def _affecting_me(customer: Customer | None) -> list[dict]:
    """The active outages whose audience includes the customer, each with its
    latest update rendered for them (their own name, times in their zone)."""
    if customer is None:
        return []
    values = templating.customer_values(customer)
    shown = []
    for incident in incidents_active_for_customer(customer=customer):
        latest, text = incident.latest_update, ""
        if latest is not None:
            text = templating.text_render(
                source=latest.body, customer=values, incident=templating.incident_values(incident)
            )
        shown.append({"incident": incident, "latest": latest, "latest_text": text})
    return shown


@customer_required
def portal_home_view(request):
    """What is going on for me: outages that affect me, and my open tickets."""
    customer = _my_customer(request)
    tickets = (
        selectors.ticket_visible(user=request.user)
        .filter(status__in=ACTIVE_STATUSES)
        .select_related("assignee")
        .order_by("-id")[:10]
    )
    context = {"outages": _affecting_me(customer), "tickets": tickets}
    return render(request, "web/portal/home.html", context)


@customer_required
@require_POST
def portal_outage_wait_view(request):
    """ "We already know about this outage": the customer chose to wait."""
    customer = _my_customer(request)
    if customer is not None:
        services.outage_deflections_record(customer=customer)
    messages.success(
        request, "Thank you. We are working on it and will tell you as soon as it is fixed."
    )
    return redirect("web-portal")


@customer_required
def portal_tickets_view(request):
    tickets = selectors.ticket_visible(user=request.user).select_related("assignee", "service_type")
    page = Paginator(tickets.order_by("-id"), 25).get_page(request.GET.get("page"))
    return render(request, "web/portal/tickets.html", {"page": page})


@customer_required
def portal_ticket_new_view(request):
    customer = _my_customer(request)
    form = TicketForm(request.POST or None, request.FILES or None)
    if customer is None:
        messages.error(request, services.NO_CUSTOMER_RECORD)
    elif request.method == "POST" and form.is_valid():
        refusal = ticket_create_refusal(request)
        if refusal is not None:
            messages.error(request, str(refusal.detail))
            return render(request, "web/portal/ticket_new.html", {"form": form}, status=429)
        ticket = ticket_common.ticket_raise(request, form, customer=customer)
        if ticket:
            who = person(ticket.assignee, "")
            messages.success(
                request,
                f"Ticket {ticket.number} is raised"
                + (f" and assigned to {who}." if who else "; an engineer will pick it up soon."),
            )
            return redirect(PAGES.url(ticket))
    status = 400 if request.method == "POST" else 200
    outages = _affecting_me(customer)
    context = {
        "form": form,
        "outages": outages,
        # Before the form, the question; the form once they answer "raise it anyway".
        "ask_first": bool(outages) and request.method == "GET" and "anyway" not in request.GET,
    }
    return render(request, "web/portal/ticket_new.html", context, status=status)


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


def _saved_sentence(user, email: str | None) -> str:
    if email and user.pending_email == email.lower():
        return (
            f"Your details are saved. We emailed a confirmation link to {email}; "
            "your address changes once you open it."
        )
    return "Your details are saved."


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
                saved = attempt(request, serializer.save)
                if saved:
                    request.user.refresh_from_db(fields=["pending_email"])
                    messages.success(request, _saved_sentence(request.user, data.get("email")))
                    return redirect("web-portal-profile")
            add_api_errors(form, serializer.errors)
        status = 400
    else:
        form = ProfileForm(initial=CustomerMeSerializer(customer).data)
        status = 200
    context = {"form": form, "customer": customer}
    return render(request, "web/portal/profile.html", context, status=status)


_CHANNEL_NAMES = {"email": "email", "sms": "SMS"}


def _sent_once_each(customer: Customer, *, limit: int) -> list[tuple[Message, list[str]]]:
    """The latest sent message of each notification (a notification sent by
    email and by SMS is one thing said, listed once) and the channels it went by."""
    rows = message_sent_list_for_customer(customer=customer)[: limit * 4]
    by_notification: dict[int, tuple[Message, list[str]]] = {}
    for message in rows:
        first, channels = by_notification.setdefault(message.notification_id, (message, []))
        name = _CHANNEL_NAMES.get(message.channel, message.channel)
        if name not in channels:
            channels.append(name)
    return list(by_notification.values())[:limit]


@customer_required
def portal_notifications_view(request):
    """What I was told: each notification rendered for me, as it was sent."""
    customer = _my_customer(request)
    sent = []
    if customer is not None:
        values = templating.customer_values(customer)
        for message, channels in _sent_once_each(customer, limit=50):
            n = message.notification
            try:
                rendered = templating.notification_render(
                    notification=n, customer=values, channel=message.channel
                )
            except templating.TemplateInvalid:
                continue
            sent.append({"message": message, "rendered": rendered, "channels": channels})
    return render(request, "web/portal/notifications.html", {"sent": sent})


portal_ticket_cancel_view = PAGES.action_view(
    "cancel",
    service=services.ticket_status_change,
    form=TicketCancelForm,
    success="The ticket is cancelled.",
    arguments=lambda data: {"status": Status.CANCELLED, "note": data["note"][:2000]},
)
portal_ticket_edit_view = PAGES.action_view(
    "edit",
    service=services.ticket_update,
    form=TicketTextForm,
    invalid="Give the ticket a title.",
    success="Your ticket is updated.",
    arguments=lambda data: {"data": data},
)
portal_ticket_comment_view = PAGES.comment_view()
portal_ticket_attach_view = PAGES.attach_view()
portal_attachment_view = PAGES.attachment_view()
portal_ticket_timeline_view = PAGES.timeline_view()
