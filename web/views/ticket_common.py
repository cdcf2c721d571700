"""What the staff ticket page and the portal's ticket page share: the
timeline, comments and attachments, each checked by the tickets services."""

from itertools import chain

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect

from tickets import selectors, services
from tickets.models import Ticket, TicketEvent
from web.errors import attempt
from web.forms import AttachmentForm, CommentForm


def visible_ticket(request, ticket_id: int) -> Ticket:
    """The ticket if the user may see it; 404 otherwise (never reveal it exists)."""
    tickets = selectors.ticket_visible(user=request.user).select_related(
        "customer", "assignee", "service_type", "created_by"
    )
    return get_object_or_404(tickets, pk=ticket_id)


def timeline(ticket: Ticket, user) -> list[dict]:
    """Events and comments in time order; a customer sees neither internal notes
    nor the events about them."""
    events = [
        {"at": e.created_at, "kind": "event", "event": e}
        for e in selectors.ticket_events(ticket=ticket, user=user)
        if e.kind != TicketEvent.Kind.COMMENTED
    ]
    comments = [
        {"at": c.created_at, "kind": "comment", "comment": c}
        for c in selectors.ticket_comments(ticket=ticket, user=user)
    ]
    return sorted(chain(events, comments), key=lambda item: item["at"])


def ticket_context(request, ticket: Ticket) -> dict:
    return {
        "ticket": ticket,
        "timeline": timeline(ticket, request.user),
        "attachments": selectors.ticket_attachments(ticket=ticket),
        "comment_form": CommentForm(),
        "attachment_form": AttachmentForm(),
    }


def comment_add(request, ticket: Ticket, back: str):
    form = CommentForm(request.POST)
    if form.is_valid():
        attempt(
            request,
            services.comment_create,
            success="Your comment is saved.",
            ticket=ticket,
            author=request.user,
            body=form.cleaned_data["body"],
            internal=form.cleaned_data["internal"] and request.user.is_staff_member,
        )
    else:
        messages.error(request, "Write a comment before saving it.")
    return redirect(back)


def attachment_add(request, ticket: Ticket, back: str):
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        attempt(
            request,
            services.attachment_create,
            success=f"{form.cleaned_data['file'].name} is attached.",
            ticket=ticket,
            uploaded_by=request.user,
            upload=form.cleaned_data["file"],
        )
    else:
        messages.error(request, "Choose a file to attach.")
    return redirect(back)


def attachment_download(request, ticket: Ticket, attachment_id: int):
    attachment = selectors.ticket_attachments(ticket=ticket).filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("No such attachment.")
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )


def timeline_partial(request, ticket: Ticket, *, portal: bool):
    """The timeline alone, polled by the ticket page so updates appear as they are saved."""
    from django.shortcuts import render

    context = {"ticket": ticket, "timeline": timeline(ticket, request.user), "portal": portal}
    return render(request, "web/tickets/_timeline.html", context)
