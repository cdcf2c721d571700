"""Incidents: the list, declaring an outage or scheduling a maintenance (a
searchable site picker, a live SMS segment count), and the incident page: a
timeline with each notice's delivery, the frozen audience, linked tickets,
one "Post update" form, resolve, complete, cancel and the root cause."""

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException, ValidationError

from customers.models import Site
from customers.selectors import audience_preview
from delivery.channels.sms import sms_size
from incidents import selectors, services
from incidents.api import (
    IncidentCancelSerializer,
    IncidentCreateSerializer,
    IncidentResolveSerializer,
    PostUpdateSerializer,
    RcaRequestSerializer,
    ScopeSerializer,
)
from incidents.models import Incident, IncidentUpdate
from notifications import templating
from tickets.models import Ticket
from web import incident_selectors
from web.errors import attempt, error_sentences, refusal_sentences
from web.incident_forms import (
    IncidentFilterForm,
    IncidentForm,
    IncidentUpdateForm,
    NoticeForm,
    RcaForm,
    add_serializer_errors,
)
from web.permissions import staff_required

SCOPE_FILTERS = ("last_mile_site", "service_type", "location", "tag", "operator_code")
# Customer-list filters a scope cannot express: those customers are named one by one.
EXPLICIT_FILTERS = ("search", "timezone", "is_active")
EXPLICIT_LIMIT = 2000
LINKED_TICKETS_SHOWN = 20


def _incident_or_404(incident_id: int) -> Incident:
    return get_object_or_404(selectors.incident_list(), pk=incident_id)


# --- the list ---------------------------------------------------------------------------


@staff_required
def incident_list_view(request):
    """Active incidents first (the newest on top), then the finished ones."""
    filters = IncidentFilterForm(request.GET)
    incidents = Incident.objects.select_related("created_by")
    if filters.is_valid():
        data = filters.cleaned_data
        if data["kind"]:
            incidents = incidents.filter(kind=data["kind"])
        if data["status"]:
            incidents = incidents.filter(status=data["status"])
        if data["search"].strip():
            incidents = incidents.filter(title__icontains=data["search"].strip())
    finished = Case(
        When(status__in=Incident.FINISHED_STATUSES, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    incidents = incidents.annotate(finished=finished).order_by("finished", "-created_at", "-id")
    page = Paginator(incidents, 25).get_page(request.GET.get("page"))
    counts = selectors.incident_counts(incident_ids=[i.pk for i in page])
    context = {
        "page": page,
        "rows": [{"incident": i, "counts": counts[i.pk]} for i in page],
        "filters": filters,
        "params": request.GET,
    }
    return render(request, "web/incidents/list.html", context)


# --- declaring --------------------------------------------------------------------------


def _initial_from_query(request) -> dict:
    """Prefill the scope from a site in the tree or a filtered customer list."""
    query = request.GET
    initial: dict = {"kind": query.get("kind", Incident.Kind.OUTAGE)}
    if initial["kind"] not in Incident.Kind.values:
        initial["kind"] = Incident.Kind.OUTAGE
    for name in SCOPE_FILTERS:
        values = [v.strip() for v in query.get(name, "").split(",") if v.strip()]
        if values:
            initial[name] = (
                values if name in ("last_mile_site", "service_type") else ", ".join(values)
            )
    if any(query.get(name, "").strip() for name in EXPLICIT_FILTERS):
        from web.views.customers import filtered_customers

        numbers = list(
            filtered_customers(request)
            .order_by("account_number")
            .values_list("account_number", flat=True)[: EXPLICIT_LIMIT + 1]
        )
        if len(numbers) > EXPLICIT_LIMIT:
            messages.warning(
                request,
                f"The list matched more than {EXPLICIT_LIMIT} customers; only the first "
                f"{EXPLICIT_LIMIT} are named. Narrow it, or pick sites or service types instead.",
            )
        initial["account_numbers"] = "\n".join(numbers[:EXPLICIT_LIMIT])
    sites = initial.get("last_mile_site") or []
    if len(sites) == 1:
        site = Site.objects.filter(code=sites[0]).only("name").first()
        if site:
            initial["title"] = f"Outage at {site.name}"
    return initial


@staff_required
def incident_new_view(request):
    if request.method != "POST":
        form = IncidentForm(initial=_initial_from_query(request))
        return render(request, "web/incidents/new.html", {"form": form})
    form = IncidentForm(request.POST)
    data = form.validated(IncidentCreateSerializer)
    incident = None
    if data is not None:
        try:
            incident = services.incident_declare(created_by=request.user, **data)
        except (APIException, DjangoValidationError) as exc:
            _show_refusal(form, exc)
    if incident is None:
        return render(request, "web/incidents/new.html", {"form": form}, status=400)
    messages.success(request, _declared_sentence(incident))
    return redirect("web-incident", incident_id=incident.pk)


def _show_refusal(form, exc: APIException | DjangoValidationError) -> None:
    """A service's refusal as errors on the form."""
    if isinstance(exc, ValidationError) and isinstance(exc.detail, dict):
        add_serializer_errors(form, exc.detail, nested="scope")
        return
    for sentence in refusal_sentences(exc):
        form.add_error(None, sentence)


def _declared_sentence(incident: Incident) -> str:
    affected = selectors.incident_counts(incident_ids=[incident.pk])[incident.pk]["affected"]
    if incident.kind == Incident.Kind.MAINTENANCE:
        return f"{incident.number} is scheduled; {affected} customers are affected."
    if incident.status == Incident.Status.DRAFT:
        return f"{incident.number} is a draft; nobody is told until you post an update."
    return f"{incident.number} is declared; {affected} customers are being told."


@staff_required
@require_POST
def incident_preview_view(request):
    """The live panel beside the form: how many customers the scope affects."""
    form = IncidentForm(request.POST)
    form.is_valid()
    context: dict = {"errors": []}
    scope, unknown = form.scope() if "account_numbers" in form.cleaned_data else ({}, [])
    if unknown:
        context["errors"].append(f"Unknown account number(s): {', '.join(unknown[:20])}.")
    scope_fields = ("last_mile_site", "service_type", "location", "tag", "operator_code")
    for name in scope_fields:
        context["errors"] += [f"{form.fields[name].label}: {e}" for e in form.errors.get(name, [])]
    if services.scope_is_empty(scope):
        context["empty"] = True
    elif not context["errors"]:
        checked = ScopeSerializer(data=scope)
        if checked.is_valid():
            preview = audience_preview(audience=checked.validated_data, sample_size=0)
            context["preview"] = preview
            context["by_site"] = list(preview["by_site"].items())[:6]
            context["by_timezone"] = list(preview["by_timezone"].items())[:6]
        else:
            context["errors"] += error_sentences(checked.errors)
    return render(request, "web/incidents/_reach.html", context)


@staff_required
def incident_site_search_view(request):
    """The site picker's server-side search (htmx)."""
    sites = incident_selectors.site_search(term=request.GET.get("q", ""))
    return render(request, "web/incidents/_site_results.html", {"sites": sites})


@staff_required
def incident_site_chip_view(request):
    """One chosen site as a chip, to add to the picker (htmx)."""
    code = request.GET.get("code", "").replace("\x00", "")[:64]
    site = Site.objects.filter(code=code).only("code", "name").first() if code else None
    if site is None:
        return render(request, "web/incidents/_site_results.html", {"sites": []}, status=404)
    response = render(request, "web/incidents/_chip.html", {"code": site.code, "name": site.name})
    # The reach beside the form counts again once the chip is in place.
    response["HX-Trigger-After-Settle"] = "scope-changed"
    return response


@staff_required
@require_POST
def incident_sms_count_view(request):
    """The live segment count under an SMS text (htmx)."""
    text = request.POST.get("sms_body", "").replace("\x00", "")[:2000]
    incident = Incident(
        title=request.POST.get("title", "").replace("\x00", "")[:200] or "Outage",
        status=Incident.Status.INVESTIGATING,
    )
    context = {"text": text}
    try:
        compiled = templating.notification_compile(title="", body=text)
        rendered = templating.render(
            compiled,
            templating.render_context(
                customer=templating.SAMPLE_CUSTOMER,
                start_at=None,
                end_at=None,
                incident=templating.incident_values(incident),
            ),
        )
        context["size"] = sms_size(rendered.text)
    except templating.TemplateInvalid as exc:
        context["error"] = exc.message
    return render(request, "web/incidents/_sms_count.html", context)


# --- the incident page ------------------------------------------------------------------


def _timeline(incident: Incident) -> list[dict]:
    updates = list(incident.updates.all())
    notices = [u.notification_id for u in updates if u.notification_id]
    if incident.rca_notification_id:
        notices.append(incident.rca_notification_id)
    progress = incident_selectors.notice_progress(notification_ids=notices)
    rows = [
        {"update": u, "progress": progress.get(u.notification_id), "text": _as_read(incident, u)}
        for u in updates
        if u.kind != IncidentUpdate.Kind.SUGGESTION
    ]
    return rows, progress.get(incident.rca_notification_id)


WAITING = {"queued", "sending", "deferred"}


def _timeline_context(incident: Incident) -> dict:
    timeline, rca_progress = _timeline(incident)
    progresses = [row["progress"] for row in timeline] + [rca_progress]
    live = any(
        p is not None and any(label in WAITING for label, _ in p["parts"]) for p in progresses
    ) or any(row["update"].notification_id and not row["progress"]["total"] for row in timeline)
    return {"incident": incident, "timeline": timeline, "rca_progress": rca_progress, "live": live}


def _as_read(incident: Incident, update: IncidentUpdate) -> str:
    """An update's text as a customer read it then (its own status and ETA),
    for the sample customer."""
    values = templating.incident_values(incident)
    values["status"] = templating.INCIDENT_STATUS_LABELS.get(update.status, update.status)
    if update.eta:
        values["eta"] = update.eta
    return templating.text_render(
        source=update.body, customer=templating.SAMPLE_CUSTOMER, incident=values
    )


def _update_form(incident: Incident, data=None) -> IncidentUpdateForm:
    posted = [u for u in incident.updates.all() if u.kind != IncidentUpdate.Kind.SUGGESTION]
    latest = posted[-1] if posted else None
    suggestion = next(
        (u for u in reversed(list(incident.updates.all())) if u.kind == "suggestion"), None
    )
    initial = {
        "status": incident.status if incident.status != Incident.Status.DRAFT else "",
        "body": (suggestion or latest).body if (suggestion or latest) else "",
        "sms_body": latest.sms_body if latest else "",
        "eta": incident.eta,
        "notify": True,
    }
    return IncidentUpdateForm(data, incident=incident, initial=initial)


def _detail_context(request, incident: Incident, **forms) -> dict:
    counts = selectors.incident_counts(incident_ids=[incident.pk])[incident.pk]
    tickets = Ticket.objects.filter(incident=incident).select_related("customer")
    context = {
        **_timeline_context(incident),
        "counts": counts,
        "tickets": tickets.order_by("-created_at")[:LINKED_TICKETS_SHOWN],
        "suggestions": [
            u for u in incident.updates.all() if u.kind == IncidentUpdate.Kind.SUGGESTION
        ],
        "update_form": forms.get("update_form") or _update_form(incident),
        "resolve_form": forms.get("resolve_form") or NoticeForm(auto_id="resolve_%s"),
        "rca_form": forms.get("rca_form") or RcaForm(auto_id="rca_%s"),
        "is_outage": incident.kind == Incident.Kind.OUTAGE,
        "may_update": incident.is_active,
        "may_resolve": incident.kind == Incident.Kind.OUTAGE
        and incident.status not in Incident.FINISHED_STATUSES,
        "may_complete": incident.kind == Incident.Kind.MAINTENANCE and incident.is_active,
        "may_cancel": incident.is_active
        and (incident.kind == Incident.Kind.MAINTENANCE or incident.status == "draft"),
        "may_delete": incident.status == Incident.Status.DRAFT,
        "may_rca": incident.status in (Incident.Status.RESOLVED, Incident.Status.COMPLETED)
        and incident.rca_published_at is None,
    }
    if incident.kind == Incident.Kind.MAINTENANCE:
        context["window"] = incident_selectors.window_in_zones(incident=incident)
        names = {
            incident.reminder_notification_id: "Reminder",
            incident.start_notification_id: "Start notice",
            incident.end_notification_id: "End notice",
        }
        context["forecasts"] = [
            {
                "name": names.get(n.pk, "Notice"),
                "notice": n,
                "forecast": incident_selectors.notice_forecast(notification=n, incident=incident),
            }
            for n in incident_selectors.waiting_notices(incident=incident)
        ]
    return context


@staff_required
def incident_timeline_view(request, incident_id: int):
    """The timeline alone, polled by the incident page while notices are going out."""
    incident = _incident_or_404(incident_id)
    return render(request, "web/incidents/_timeline.html", _timeline_context(incident))


@staff_required
def incident_detail_view(request, incident_id: int):
    incident = _incident_or_404(incident_id)
    return render(request, "web/incidents/detail.html", _detail_context(request, incident))


def _rerender(request, incident: Incident, **forms):
    incident = _incident_or_404(incident.pk)
    context = _detail_context(request, incident, **forms)
    return render(request, "web/incidents/detail.html", context, status=400)


def _run(request, form, serializer_class, action, *, success: str, **kwargs):
    """Validate with the API's serializer, then run the service; True when done."""
    if not form.is_valid():
        return False
    payload = form.payload() if hasattr(form, "payload") else form.cleaned_data
    serializer = serializer_class(data=payload)
    if not serializer.is_valid():
        add_serializer_errors(form, serializer.errors)
        return False
    return bool(attempt(request, action, success=success, **kwargs, **serializer.validated_data))


def _notice_view(form_name: str, make_form, serializer_class, action, success: str, *, eta=False):
    """A POST-only page action of the incident page: validate the form with the
    API's serializer, run the service, back to the page (or the page again
    with the form's errors). `eta`: tell the service whether the form offered
    an ETA (an outage's update)."""

    @staff_required
    @require_POST
    def view(request, incident_id: int):
        incident = _incident_or_404(incident_id)
        form = make_form(request.POST, incident)
        extra = {"eta_given": "eta" in form.fields} if eta else {}
        kw = {"incident": incident, "created_by": request.user, **extra}
        if not _run(request, form, serializer_class, action, success=success, **kw):
            return _rerender(request, incident, **{form_name: form})
        return redirect("web-incident", incident_id=incident.pk)

    return view


incident_update_view = _notice_view(
    "update_form",
    lambda data, incident: IncidentUpdateForm(data, incident=incident),
    PostUpdateSerializer,
    services.incident_update_post,
    "The update is posted.",
    eta=True,
)
incident_resolve_view = _notice_view(
    "resolve_form",
    lambda data, _: NoticeForm(data, auto_id="resolve_%s"),
    IncidentResolveSerializer,
    services.incident_resolve,
    "The outage is resolved; the customers are being told.",
)
incident_rca_view = _notice_view(
    "rca_form",
    lambda data, _: RcaForm(data, auto_id="rca_%s"),
    RcaRequestSerializer,
    services.incident_rca_publish,
    "The root-cause report goes to every customer who was sent a notice.",
)


CONFIRMATIONS = {
    "cancel": {
        "heading": "Cancel {number}?",
        "explain": "Its waiting notices will not go out, and everyone already told hears "
        "that it is cancelled.",
        "button": "Yes, cancel it",
    },
    "delete": {
        "heading": "Delete the draft {number}?",
        "explain": "It has told nobody; it disappears with its alerts and suggestions. "
        "This cannot be undone.",
        "button": "Yes, delete it",
    },
    "complete": {
        "heading": "End {number} now?",
        "explain": "The maintenance is marked completed and its end notice goes out now.",
        "button": "Yes, it is over",
    },
}


def _confirm(request, incident: Incident, action: str, form=None, status: int = 200):
    words = CONFIRMATIONS[action]
    context = {
        "incident": incident,
        "action": action,
        "heading": words["heading"].format(number=incident.number),
        "explain": words["explain"],
        "button": words["button"],
        "form": form if form is not None else (NoticeForm() if action == "cancel" else None),
    }
    return render(request, "web/incidents/confirm.html", context, status=status)


@staff_required
def incident_cancel_view(request, incident_id: int):
    """GET asks; POST cancels (a maintenance, or a draft outage)."""
    incident = _incident_or_404(incident_id)
    if request.method != "POST":
        return _confirm(request, incident, "cancel")
    form = NoticeForm(request.POST)
    done = _run(
        request,
        form,
        IncidentCancelSerializer,
        services.incident_cancel,
        success=f"{incident.number} is cancelled.",
        incident=incident,
        created_by=request.user,
    )
    if not done and form.errors:
        return _confirm(request, incident, "cancel", form=form, status=400)
    return redirect("web-incident", incident_id=incident.pk)


@staff_required
def incident_delete_view(request, incident_id: int):
    """GET asks; POST deletes a draft that told nobody."""
    incident = _incident_or_404(incident_id)
    if request.method != "POST":
        return _confirm(request, incident, "delete")
    number = incident.number
    if attempt(
        request,
        services.incident_delete,
        success=f"The draft {number} is deleted.",
        incident=incident,
        deleted_by=request.user,
    ):
        return redirect("web-incidents")
    return redirect("web-incident", incident_id=incident.pk)


@staff_required
def incident_complete_view(request, incident_id: int):
    """GET asks; POST ends a maintenance now, with its end notice."""
    incident = _incident_or_404(incident_id)
    if request.method != "POST":
        return _confirm(request, incident, "complete")
    attempt(
        request,
        services.incident_complete,
        success=f"{incident.number} is completed; the end notice is going out.",
        incident=incident,
        created_by=request.user,
    )
    return redirect("web-incident", incident_id=incident.pk)


@staff_required
def incident_audience_view(request, incident_id: int):
    """The frozen audience, with what each customer has been sent."""
    incident = _incident_or_404(incident_id)
    page = Paginator(selectors.incident_audience_links(incident=incident), 50).get_page(
        request.GET.get("page")
    )
    rows = selectors.incident_audience_rows(incident=incident, links=list(page))
    context = {
        "incident": incident,
        "page": page,
        "rows": rows,
        "zones": incident_selectors.audience_zones(incident=incident)[:12],
        "params": request.GET,
        "customers_url": reverse("web-customers"),
    }
    return render(request, "web/incidents/audience.html", context)
