"""Notifications: the list, compose (with a live audience and message preview),
the confirmation step, the detail page with live progress, and its actions."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from customers.api import AudienceSerializer
from customers.models import Customer
from customers.selectors import audience_is_empty, audience_preview
from delivery.api import MessageFilter
from delivery.channels.sms import sms_size
from delivery.models import Channel
from notifications import selectors, services, templating
from notifications.api import NotificationSerializer, TestSendSerializer
from notifications.models import Notification
from web.errors import attempt, error_sentences
from web.forms import NotificationForm
from web.notification_templates import STARTERS, VARIABLES, is_starter_or_empty
from web.permissions import staff_required
from web.selectors import notification_progress
from web.templatetags.web_tags import when
from web.views.common import form_post

LARGE_SEND = 1000


@staff_required
def notification_list_view(request):
    notifications = selectors.notification_list()
    status, kind, search = (request.GET.get(k, "") for k in ("status", "kind", "search"))
    if status in Notification.Status.values:
        notifications = notifications.filter(status=status)
    if kind in Notification.Kind.values:
        notifications = notifications.filter(kind=kind)
    if search.strip():
        notifications = notifications.filter(Q(title__icontains=search) | Q(body__icontains=search))
    page = Paginator(notifications, 25).get_page(request.GET.get("page"))
    totals = selectors.notification_totals(notification_ids=[n.pk for n in page])
    rows = [{"n": n, "progress": notification_progress(totals[n.pk], n)} for n in page]
    context = {
        "page": page,
        "rows": rows,
        "statuses": Notification.Status.choices,
        "kinds": Notification.Kind.choices,
        "params": request.GET,
    }
    return render(request, "web/notifications/list.html", context)


# --- compose -------------------------------------------------------------------------


def _compose_context(form, notification=None) -> dict:
    return {"form": form, "notification": notification, "variables": VARIABLES}


@staff_required
def notification_compose_view(request, notification_id: int | None = None):
    notification = None
    if notification_id is not None:
        notification = get_object_or_404(Notification, pk=notification_id)
        if notification.status not in Notification.EDITABLE_STATUSES:
            messages.error(request, f"A {notification.status} notification cannot be edited.")
            return redirect("web-notification", notification_id=notification.pk)
    if request.method != "POST":
        if notification:
            initial = NotificationForm.initial_from(notification)
        else:
            kind = request.GET.get("kind", "general")
            starter = STARTERS.get(kind, STARTERS["general"])
            initial = {"kind": kind if kind in STARTERS else "general", **starter}
        form = NotificationForm(initial=initial)
        return _compose_page(request, form, notification)
    form = NotificationForm(request.POST)
    action = request.POST.get("action", "draft")
    serializer = form.validated_serializer(
        lambda data: NotificationSerializer(instance=notification, data=data)
    )
    if serializer is None:
        return _compose_page(request, form, notification, status=400)
    if action == "test":
        _send_test(request, serializer.validated_data, form.cleaned_data["test_phone"])
        return _compose_page(request, form, notification)
    data = serializer.validated_data
    if notification is None:
        saved = attempt(request, services.notification_create, created_by=request.user, **data)
    else:
        saved = attempt(request, services.notification_update, notification=notification, **data)
    if not saved:
        return _compose_page(request, form, notification, status=400)
    if action == "send":
        return redirect("web-notification-send", notification_id=saved.value.pk)
    messages.success(request, "The draft is saved.")
    return redirect("web-notification", notification_id=saved.value.pk)


def _compose_page(request, form, notification: Notification | None, *, status: int = 200):
    context = _compose_context(form, notification)
    return render(request, "web/notifications/compose.html", context, status=status)


def _send_test(request, data: dict, phone: str) -> None:
    fields = {
        k: v for k, v in data.items() if k in ("title", "body", "channels", "start_at", "end_at")
    }
    draft = Notification(kind=data.get("kind", "general"), **fields)
    address = TestSendSerializer(data={"phone": phone})  # the API's check of the phone
    if not address.is_valid():
        for sentence in error_sentences(address.errors):
            messages.error(request, sentence)
        return
    sent = attempt(
        request,
        services.notification_test_send,
        notification=draft,
        email=request.user.email,
        phone=address.validated_data.get("phone", ""),
    )
    if not sent or not sent.value:
        messages.error(
            request, "No test copy was sent: give your email or a phone for the chosen channels."
        )
        return
    where = ", ".join(f"{m.to_address} ({m.status})" for m in sent.value)
    messages.success(request, f"A test copy went to {where}; read it in the outbox.")


@staff_required
def notification_starter_view(request):
    """Swap in the chosen kind's starting text, unless the engineer has written their own."""
    kind = request.GET.get("kind", "general")
    title, body = request.GET.get("title", ""), request.GET.get("body", "")
    if is_starter_or_empty(title, body) and kind in STARTERS:
        title, body = STARTERS[kind]["title"], STARTERS[kind]["body"]
    form = NotificationForm(initial={"title": title, "body": body})
    response = render(request, "web/notifications/_text_fields.html", {"form": form})
    # The preview beside the editor refreshes once the new text is in place.
    response["HX-Trigger-After-Settle"] = "refresh-preview"
    return response


@staff_required
@require_POST
def notification_preview_view(request):
    """The live panel beside the editor: who it reaches and what they will read."""
    form = NotificationForm(request.POST)
    form.is_valid()
    context: dict = {"errors": []}
    spec, unknown = form.audience() if "account_numbers" in form.cleaned_data else ({}, [])
    if unknown:
        context["errors"].append(f"Unknown account number(s): {', '.join(unknown[:20])}.")
    for name in ("last_mile_site", "service_type"):
        for error in form.errors.get(name, []):
            context["errors"].append(f"{form.fields[name].label}: {error}")
    checked = AudienceSerializer(data=spec)
    if audience_is_empty(audience=spec):
        # Nothing chosen yet: say how to choose, and still show the text.
        context["hint"] = "Choose who to tell: a filter, account numbers, or every active customer."
        context.update(_rendered_sample(form, None))
    elif checked.is_valid():
        preview = audience_preview(audience=checked.validated_data, sample_size=1)
        context["preview"] = preview
        context["by_site"] = list(preview["by_site"].items())[:8]
        context["by_timezone"] = list(preview["by_timezone"].items())[:8]
        context["large"] = preview["count"] >= LARGE_SEND
        sample = preview["sample"][0]["id"] if preview["sample"] else None
        context.update(_rendered_sample(form, sample))
    else:
        context["errors"].extend(error_sentences(checked.errors))
    return render(request, "web/notifications/_preview.html", context)


def _rendered_sample(form, customer_id: int | None) -> dict:
    draft = Notification(
        title=form.data.get("title", ""),
        body=form.data.get("body", ""),
        start_at=form.cleaned_data.get("start_at") or timezone.now(),
        end_at=form.cleaned_data.get("end_at"),
    )
    try:
        compiled = templating.notification_compile_for(notification=draft)
    except templating.TemplateInvalid as exc:
        return {"template_error": f"{exc.field}: {exc.message}"}
    customer = (
        Customer.objects.filter(pk=customer_id)
        .select_related("last_mile_site", "service_type")
        .first()
    )
    values = templating.customer_values(customer) if customer else templating.SAMPLE_CUSTOMER
    rendered = templating.notification_render(
        notification=draft, customer=values, compiled=compiled
    )
    return {"sample_customer": values, "rendered": rendered, "sms": sms_size(rendered.text)}


# --- sending and the detail page --------------------------------------------------------------


@staff_required
def notification_send_view(request, notification_id: int):
    """The confirmation step: states how many customers it reaches, then sends."""
    notification = get_object_or_404(Notification, pk=notification_id)
    if request.method == "POST":
        result = attempt(request, services.notification_send, notification=notification)
        if result:
            result = result.value
            if result.notification.status == Notification.Status.AWAITING_APPROVAL:
                messages.info(
                    request,
                    f"It reaches {result.queued} customers, so another staff member must "
                    "approve it first; it is in the approvals queue.",
                )
            elif result.notification.status == Notification.Status.SCHEDULED:
                start = when(result.notification.start_at)
                messages.success(request, f"Scheduled: it starts by itself at {start}.")
            else:
                messages.success(request, f"Sending to {result.queued} customers.")
        return redirect("web-notification", notification_id=notification.pk)
    if notification.status not in Notification.EDITABLE_STATUSES:
        messages.info(request, f"This notification is already {notification.status}.")
        return redirect("web-notification", notification_id=notification.pk)
    preview = audience_preview(audience=notification.audience, sample_size=0)
    context = {
        "notification": notification,
        "preview": preview,
        "large": preview["count"] >= LARGE_SEND,
    }
    return render(request, "web/notifications/confirm.html", context)


def _detail_context(notification: Notification) -> dict:
    stats = selectors.notification_stats(notification=notification)
    totals = {"total": stats["total"], "by_status": stats["by_status"]}
    return {
        "notification": notification,
        "stats": stats,
        "progress": notification_progress(totals, notification),
        "live": notification.status in (Notification.Status.SENDING, Notification.Status.SCHEDULED),
        "status_rows": [(s, n) for s, n in stats["by_status"].items() if n],
        "channel_rows": [
            (channel, [(s, n) for s, n in counts.items() if n], sum(counts.values()))
            for channel, counts in stats["by_channel"].items()
        ],
    }


@staff_required
def notification_detail_view(request, notification_id: int):
    notification = get_object_or_404(selectors.notification_list(), pk=notification_id)
    rows = MessageFilter(
        request.GET,
        queryset=selectors.notification_messages(notification=notification).select_related(
            "customer"
        ),
    )
    page = Paginator(rows.qs if rows.is_valid() else rows.queryset.none(), 50).get_page(
        request.GET.get("page")
    )
    context = _detail_context(notification) | {
        "page": page,
        "params": request.GET,
        "message_statuses": [s for s in selectors.STATUSES],
        "channels": Channel.choices,
        "editable": notification.status in Notification.EDITABLE_STATUSES,
        "cancellable": notification.status
        in (
            Notification.Status.DRAFT,
            Notification.Status.SCHEDULED,
            Notification.Status.SENDING,
            Notification.Status.AWAITING_APPROVAL,
        ),
    }
    return render(request, "web/notifications/detail.html", context)


@staff_required
def notification_progress_view(request, notification_id: int):
    notification = get_object_or_404(Notification, pk=notification_id)
    return render(request, "web/notifications/_progress.html", _detail_context(notification))


@staff_required
@require_POST
def notification_cancel_view(request, notification_id: int):
    notification = get_object_or_404(Notification, pk=notification_id)
    return form_post(
        request,
        back_to=reverse("web-notification", kwargs={"notification_id": notification.pk}),
        service=services.notification_cancel,
        success="The notification is cancelled; nothing more goes out.",
        notification=notification,
    )


@staff_required
@require_POST
def notification_delete_view(request, notification_id: int):
    notification = get_object_or_404(Notification, pk=notification_id)
    if attempt(
        request,
        services.notification_delete,
        success="The notification is deleted.",
        notification=notification,
    ):
        return redirect("web-notifications")
    return redirect("web-notification", notification_id=notification.pk)


@staff_required
@require_POST
def notification_duplicate_view(request, notification_id: int):
    original = get_object_or_404(Notification, pk=notification_id)
    copy = attempt(
        request,
        services.notification_create,
        success="A draft copy is ready to edit.",
        created_by=request.user,
        title=original.title,
        body=original.body,
        body_html=original.body_html,
        kind=original.kind,
        channels=list(original.channels),
        audience=dict(original.audience or {}),
        respect_contact_window=original.respect_contact_window,
    )
    if copy:
        return redirect("web-notification-edit", notification_id=copy.value.pk)
    return redirect("web-notification", notification_id=original.pk)


@staff_required
@require_POST
def notification_retry_failed_view(request, notification_id: int):
    notification = get_object_or_404(Notification, pk=notification_id)
    retried = attempt(request, services.notification_retry_failed, notification=notification)
    if retried:
        messages.success(request, f"{retried.value} failed message(s) will be sent again.")
    return redirect("web-notification", notification_id=notification.pk)
