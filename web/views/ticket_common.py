"""What the staff ticket page and the portal's ticket page share: the
timeline, comments and attachments, each checked by the tickets services.

Each side describes itself once as a `TicketPages` (where its pages live, who
may open them, whether comments may be internal notes) and takes its comment,
attachment and timeline views from it, so both handle them alike."""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tickets import selectors, services, wording
from tickets.models import FINISHED_STATUSES, Ticket, TicketEvent
from tickets.uploads import attachment_response
from web.errors import attempt
from web.forms import AttachmentForm, CommentForm
from web.views.common import form_post


def ticket_raise(request, form, *, customer) -> Ticket | None:
    """Raise a ticket from a valid ticket form, on the portal or for a customer
    on the phone; a refusal is shown as a message and gives None."""
    data = dict(form.cleaned_data)
    raised = attempt(
        request,
        services.ticket_create,
        actor=request.user,
        customer=customer,
        uploads=data.pop("attachments"),
        **data,
    )
    return raised.value


def visible_ticket(request, ticket_id: int) -> Ticket:
    """The ticket if the user may see it; 404 otherwise (never reveal it exists)."""
    tickets = selectors.ticket_visible(user=request.user).select_related(
        "customer", "assignee", "service_type", "created_by"
    )
    return get_object_or_404(tickets, pk=ticket_id)


def timeline(ticket: Ticket, user) -> list[dict]:
    """Events and comments in time order, each event told in a plain sentence;
    a customer sees neither internal notes nor the events about them."""
    shown = [
        e
        for e in selectors.ticket_events(ticket=ticket, user=user)
        if e.kind != TicketEvent.Kind.COMMENTED
    ]
    names = wording.names_for_events(shown)
    for_customer = not user.is_staff_member
    events = [
        {
            "at": e.created_at,
            "kind": "event",
            "event": e,
            "sentence": sentence,
            "detail": wording.event_detail(e, sentence=sentence),
        }
        for e in shown
        for sentence in [wording.event_sentence(e, for_customer=for_customer, names=names)]
    ]
    comments = [
        {"at": c.created_at, "kind": "comment", "comment": c}
        for c in selectors.ticket_comments(ticket=ticket, user=user)
    ]
    return sorted(chain(events, comments), key=lambda item: item["at"])


@dataclass(frozen=True)
class TicketPages:
    """One side's ticket pages: `web-ticket` for staff, `web-portal-ticket` for customers."""

    name: str
    url_name: str
    guard: Callable
    portal: bool
    internal_notes: bool

    def url(self, ticket: Ticket) -> str:
        return reverse(self.url_name, kwargs={"ticket_id": ticket.pk})

    def context(self, request, ticket: Ticket) -> dict:
        return {
            "ticket": ticket,
            "timeline": timeline(ticket, request.user),
            "attachments": selectors.ticket_attachments(ticket=ticket),
            "comment_form": CommentForm(),
            "attachment_form": AttachmentForm(),
            "portal": self.portal,
        }

    def comment_add(self, request, ticket: Ticket):
        form = CommentForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Write a comment before saving it.")
            return redirect(self.url(ticket))
        was = ticket.status
        comment = attempt(
            request,
            services.comment_create,
            ticket=ticket,
            author=request.user,
            body=form.cleaned_data["body"],
            internal=form.cleaned_data["internal"] and self.internal_notes,
        )
        if not comment:
            return redirect(self.url(ticket))
        comment = comment.value
        if comment.ticket_id != ticket.pk:
            messages.success(
                request,
                f"{ticket.number} was finished a while ago, so your reply opened a new "
                f"ticket, {comment.ticket.number}.",
            )
            return redirect(self.url(comment.ticket))
        if was in FINISHED_STATUSES and ticket.status not in FINISHED_STATUSES:
            messages.success(request, "Your reply is saved and the ticket is reopened.")
        elif comment.internal:
            messages.success(request, "Your internal note is saved; the customer does not see it.")
        else:
            messages.success(request, "Your comment is saved.")
        return redirect(self.url(ticket))

    def attachment_add(self, request, ticket: Ticket):
        return form_post(
            request,
            back_to=self.url(ticket),
            service=services.attachment_create,
            form=AttachmentForm(request.POST, request.FILES),
            invalid="Choose a file to attach.",
            success=lambda data: f"{data['file'].name} is attached.",
            arguments=lambda data: {"upload": data["file"]},
            ticket=ticket,
            uploaded_by=request.user,
        )

    def attachment_download(self, request, ticket: Ticket, attachment_id: int):
        attachment = selectors.ticket_attachments(ticket=ticket).filter(pk=attachment_id).first()
        if attachment is None:
            raise Http404("No such attachment.")
        return attachment_response(attachment=attachment)

    def timeline_partial(self, request, ticket: Ticket):
        """The timeline alone, polled by the ticket page so updates appear as they are saved."""
        context = {
            "ticket": ticket,
            "timeline": timeline(ticket, request.user),
            "portal": self.portal,
        }
        return render(request, "web/tickets/_timeline.html", context)

    # The views both sides route to, each behind the side's guard and on a ticket
    # the user may see.

    def _ticket_view(self, handler: Callable, action: str, *, post: bool) -> Callable:
        def view(request, ticket_id: int, **kwargs):
            return handler(request, visible_ticket(request, ticket_id), **kwargs)

        view.__name__ = view.__qualname__ = f"{self.name}_{action}_view"
        view.__doc__ = handler.__doc__
        return self.guard(require_POST(view) if post else view)

    def action_view(
        self,
        action: str,
        *,
        service: Callable,
        success: str | Callable[[dict], str],
        form: type | None = None,
        invalid: str = "",
        arguments: Callable[[dict], dict] | None = None,
    ) -> Callable:
        """A POST on the ticket that runs one service with the ticket, the
        user as `actor` and the form's values (through `arguments`), shows
        the outcome and goes back to the ticket's page."""

        def handler(request, ticket: Ticket):
            return form_post(
                request,
                back_to=self.url(ticket),
                service=service,
                form=form(request.POST) if form is not None else None,
                invalid=invalid,
                success=success,
                arguments=arguments,
                ticket=ticket,
                actor=request.user,
            )

        return self._ticket_view(handler, action, post=True)

    def comment_view(self) -> Callable:
        return self._ticket_view(self.comment_add, "comment", post=True)

    def attach_view(self) -> Callable:
        return self._ticket_view(self.attachment_add, "attach", post=True)

    def attachment_view(self) -> Callable:
        return self._ticket_view(self.attachment_download, "attachment", post=False)

    def timeline_view(self) -> Callable:
        return self._ticket_view(self.timeline_partial, "timeline", post=False)
