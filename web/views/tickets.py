"""The engineers' ticket queue and ticket page."""

from datetime import date

from django.contrib import messages
from django.db.models import BooleanField, Case, When
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from accounts.models import User
from customers.selectors import service_type_list
from tickets import selectors, services
from tickets.filters import TicketFilter
from tickets.models import ACTIVE_STATUSES, Priority, Status
from tickets.pagination import PartitionedCountPaginator
from web.errors import error_sentences
from web.forms import AssignForm, InteractionForm, ResolveForm, StatusForm, TicketEditForm
from web.permissions import admin_required, staff_required
from web.views import ticket_common
from web.views.common import form_post

SCOPES = [("mine", "Mine"), ("unassigned", "Unassigned"), ("all", "All")]
# Staff reach every ticket the selectors show them and may write internal notes.
PAGES = ticket_common.TicketPages(
    name="ticket", url_name="web-ticket", guard=staff_required, portal=False, internal_notes=True
)


# What the queue's form sends, read by the API's own TicketFilter.
_FILTER_PARAMS = (
    "status",
    "active",
    "priority",
    "service_type",
    "assignee",
    "created_after",
    "created_before",
    "overdue",
    "search",
)


def _filter_params(query) -> dict[str, str]:
    """The page's query string in the API's terms. The page shows only
    unfinished tickets unless a status is chosen or `active=false` asks for
    all; `overdue` is a tick box (only `true` filters); a day is the whole day."""
    params = {name: value for name in _FILTER_PARAMS if (value := query.get(name, "").strip())}
    active = params.pop("active", "true")
    if "status" not in params and active == "true":
        params["active"] = "true"
    if params.get("overdue") != "true":
        params.pop("overdue", None)
    last_day = _day(params.get("created_before", ""))
    if last_day is not None:
        params["created_before"] = f"{last_day.isoformat()}T23:59:59.999999"
    return params


def _day(value: str) -> date | None:
    """A day the page sent, or None for none or one that is no day (2026-13-40)."""
    try:
        return parse_date(value)
    except ValueError:
        return None


def _queue(request):
    user = request.user
    scope = request.GET.get("scope") or ("mine" if user.is_engineer else "all")
    tickets = selectors.ticket_list(user=user, scope="all")
    if scope == "mine":
        tickets = tickets.filter(assignee=user)
    elif scope == "unassigned":
        tickets = tickets.filter(assignee__isnull=True)
    # A value the filter cannot read is left out; one it refuses is said on the page.
    filters = TicketFilter(_filter_params(request.GET), queryset=tickets, request=request)
    try:
        tickets = filters.qs
    except ValidationError as exc:
        for sentence in error_sentences(exc.detail):
            messages.error(request, sentence)
        tickets = tickets.filter(status__in=ACTIVE_STATUSES)
    overdue = Case(
        When(selectors.ticket_overdue_q(), then=True), default=False, output_field=BooleanField()
    )
    return scope, tickets.annotate(is_overdue=overdue).select_related(
        "customer", "assignee", "service_type"
    )


@staff_required
def ticket_list_view(request):
    scope, tickets = _queue(request)
    tickets = tickets.order_by("-id")
    if request.GET.get("search", "").strip():
        tickets = selectors.ticket_search_order(tickets)
    page = PartitionedCountPaginator(tickets, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "scope": scope,
        "scopes": SCOPES,
        "statuses": Status.choices,
        "priorities": Priority.choices,
        "service_types": service_type_list(),
        "engineers": selectors.engineer_list(),
        "params": request.GET,
        "active": request.GET.get("active", "true"),
    }
    return render(request, "web/tickets/list.html", context)


@staff_required
def ticket_detail_view(request, ticket_id: int):
    ticket = ticket_common.visible_ticket(request, ticket_id)
    allowed = services.allowed_transitions_for(ticket=ticket, user=request.user)
    context = PAGES.context(request, ticket) | {
        "status_form": StatusForm(allowed=[s for s in allowed if s != Status.RESOLVED]),
        "can_resolve": Status.RESOLVED in allowed,
        "can_accept": Status.IN_PROGRESS in allowed
        and request.user.is_engineer
        and ticket.assignee_id in (None, request.user.pk)
        and ticket.status in (Status.OPEN, Status.ASSIGNED),
        "resolve_form": ResolveForm(),
        "assign_form": AssignForm(engineers=selectors.engineer_list().filter(is_active=True)),
        "edit_form": TicketEditForm(
            initial={
                "title": ticket.title,
                "description": ticket.description,
                "priority": ticket.priority,
                "service_type": ticket.service_type,
            },
            auto_id="edit_%s",
        ),
        "interaction_form": InteractionForm(),
        "interactions": ticket.interactions.select_related("created_by").order_by("-created_at"),
        "is_overdue": ticket.is_active and ticket.due_at < timezone.now(),
    }
    return render(request, "web/tickets/detail.html", context)


@staff_required
@require_POST
def ticket_status_view(request, ticket_id: int):
    ticket = ticket_common.visible_ticket(request, ticket_id)
    allowed = services.allowed_transitions_for(ticket=ticket, user=request.user)
    return form_post(
        request,
        back_to=PAGES.url(ticket),
        service=services.ticket_status_change,
        form=StatusForm(request.POST, allowed=allowed),
        invalid=f"Choose one of the allowed statuses: {', '.join(allowed) or 'none'}.",
        success=lambda data: f"The ticket is now {data['status'].replace('_', ' ')}.",
        arguments=lambda data: {"status": data["status"], "note": data["note"]},
        ticket=ticket,
        actor=request.user,
    )


@admin_required
@require_POST
def ticket_assign_view(request, ticket_id: int):
    ticket = ticket_common.visible_ticket(request, ticket_id)
    engineer = get_object_or_404(User, pk=request.POST.get("assignee") or 0)
    return form_post(
        request,
        back_to=PAGES.url(ticket),
        service=services.ticket_assign,
        success=f"The ticket is assigned to {engineer.get_full_name() or engineer.username}.",
        ticket=ticket,
        actor=request.user,
        assignee=engineer,
    )


ticket_accept_view = PAGES.action_view(
    "accept",
    service=services.ticket_accept,
    success="You accepted the ticket; it is in progress.",
)
ticket_resolve_view = PAGES.action_view(
    "resolve",
    service=services.ticket_resolve,
    form=ResolveForm,
    invalid="Describe the resolution before resolving the ticket.",
    success="The ticket is resolved.",
    arguments=lambda data: {"resolution": data["resolution"]},
)
ticket_edit_view = PAGES.action_view(
    "edit",
    service=services.ticket_update,
    form=TicketEditForm,
    invalid="Give the ticket a title and a priority.",
    success="The ticket is updated.",
    arguments=lambda data: {"data": data},
)
ticket_interaction_view = PAGES.action_view(
    "interaction",
    service=services.interaction_create,
    form=InteractionForm,
    invalid="Give the kind and a duration in whole minutes.",
    success="The interaction is logged.",
    arguments=lambda data: {
        "kind": data["kind"],
        "duration_seconds": data["duration_minutes"] * 60,
        "notes": data["notes"],
    },
)
ticket_comment_view = PAGES.comment_view()
ticket_attach_view = PAGES.attach_view()
ticket_attachment_view = PAGES.attachment_view()
ticket_timeline_view = PAGES.timeline_view()
