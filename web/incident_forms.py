"""Incident forms. They check shapes and build the API's payloads; the API's
serializers and incidents.services decide (so the website and the API
cannot disagree)."""

from django import forms
from django.utils.timezone import get_current_timezone_name

from incidents.models import Incident
from web.forms import AudienceForm, _split

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
OUTAGE_UPDATE_STATUSES = [
    (Incident.Status.INVESTIGATING, "Investigating"),
    (Incident.Status.IDENTIFIED, "Identified"),
    (Incident.Status.MONITORING, "Monitoring"),
]
SMS_HELP = "Up to 2 SMS segments is best; empty: the SMS carries the first lines of the message."


def sms_body_field() -> forms.CharField:
    """The optional short SMS text of a notice."""
    return forms.CharField(
        label="Short SMS text",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=SMS_HELP,
    )


def _zone_labels(form: forms.Form, *names: str) -> None:
    """Django reads and shows these times in the viewer's zone; say which one."""
    zone = get_current_timezone_name()
    for name in names:
        form.fields[name].label = f"{form.fields[name].label} ({zone})"


def add_serializer_errors(form: forms.Form, errors: dict, *, nested: str = "") -> None:
    """Put the API's {field: [sentences]} on the form's fields (the rest on top)."""
    for field, messages in errors.items():
        if field == nested and isinstance(messages, dict):
            add_serializer_errors(form, messages)
            continue
        target = field if field in form.fields else None
        if field == "customer_ids":
            target = "account_numbers"
        for message in messages if isinstance(messages, list) else [messages]:
            if isinstance(message, dict):
                add_serializer_errors(form, message)
                continue
            form.add_error(target, str(message))


class IncidentForm(AudienceForm):
    """Declare an outage or schedule a maintenance."""

    kind = forms.ChoiceField(
        label="What is it", choices=Incident.Kind.choices, widget=forms.RadioSelect
    )
    title = forms.CharField(label="Title", max_length=200)
    impact = forms.ChoiceField(
        label="Impact", choices=Incident.Impact.choices, initial=Incident.Impact.MAJOR
    )
    eta = forms.DateTimeField(label="Expected fix", required=False, widget=DATETIME)
    scheduled_start = forms.DateTimeField(label="Starts", required=False, widget=DATETIME)
    scheduled_end = forms.DateTimeField(label="Ends", required=False, widget=DATETIME)
    reminder_minutes_before = forms.IntegerField(
        label="Reminder, minutes before the start",
        required=False,
        min_value=0,
        max_value=60 * 24 * 30,
        initial=1440,
        help_text="Empty: no reminder.",
    )
    body = forms.CharField(
        label="First notice",
        widget=forms.Textarea(attrs={"rows": 7}),
        help_text="Variables: {{ customer.name }}, {{ incident.title }}, {{ incident.eta }}, "
        "{{ incident.scheduled_start }}, {{ incident.scheduled_end }}.",
    )
    sms_body = sms_body_field()
    notify = forms.BooleanField(label="Tell the customers now", required=False, initial=True)

    def __init__(self, *args, **kwargs):
        from customers.models import ServiceType, Site

        super().__init__(*args, **kwargs)
        _zone_labels(self, "eta", "scheduled_start", "scheduled_end")
        self.fields["last_mile_site"].choices = [
            (code, name) for code, name in Site.objects.values_list("code", "name")
        ]
        self.fields["service_type"].choices = list(
            ServiceType.objects.order_by("name").values_list("code", "name")
        )

    def chosen_sites(self) -> list[tuple[str, str]]:
        """(code, name) of the sites picked so far, for the chips."""
        names = dict(self.fields["last_mile_site"].choices)
        if self.is_bound:
            codes = self.data.getlist("last_mile_site") if hasattr(self.data, "getlist") else []
        else:
            codes = self.initial.get("last_mile_site") or []
        return [(code, names[code]) for code in dict.fromkeys(codes) if code in names]

    def scope(self) -> tuple[dict, list[str]]:
        """The scope, and the pasted account numbers nobody has."""
        from customers.models import Customer

        data = self.cleaned_data
        accounts = _split(data.get("account_numbers", ""))
        found = dict(
            Customer.objects.filter(account_number__in=accounts).values_list("account_number", "id")
        )
        scope = {
            "last_mile_site": list(dict.fromkeys(data.get("last_mile_site") or [])),
            "service_type": list(data.get("service_type") or []),
            "location": _split(data.get("location", "")),
            "tag": _split(data.get("tag", "")),
            "operator_code": _split(data.get("operator_code", "")),
            "customer_ids": sorted(found.values()),
        }
        return scope, [a for a in accounts if a not in found]

    def payload(self) -> dict:
        data = self.cleaned_data
        scope, _ = self.scope()
        payload = {
            "kind": data["kind"],
            "title": data["title"],
            "impact": data["impact"],
            "scope": scope,
            "channels": data["channels"],
            "respect_contact_window": data.get("respect_contact_window", False),
            "body": data["body"],
            "sms_body": data.get("sms_body", ""),
            "notify": data.get("notify", False),
        }
        if data["kind"] == Incident.Kind.OUTAGE:
            payload["eta"] = data.get("eta")
        else:
            payload["scheduled_start"] = data.get("scheduled_start")
            payload["scheduled_end"] = data.get("scheduled_end")
            payload["reminder_minutes_before"] = data.get("reminder_minutes_before")
        return payload

    def validated(self, serializer_class) -> dict | None:
        """The API serializer's validated data, or None with the errors on the form."""
        if not self.is_valid():
            return None
        _, unknown = self.scope()
        if unknown:
            self.add_error(
                "account_numbers",
                f"No customer has account number(s) {', '.join(unknown[:20])}; check them.",
            )
            return None
        serializer = serializer_class(data=self.payload())
        if serializer.is_valid():
            return dict(serializer.validated_data)
        add_serializer_errors(self, serializer.errors, nested="scope")
        return None


class IncidentUpdateForm(forms.Form):
    """One "Post update" form: prefilled with the previous text and status."""

    status = forms.ChoiceField(label="Status", choices=OUTAGE_UPDATE_STATUSES, required=False)
    body = forms.CharField(label="Update", widget=forms.Textarea(attrs={"rows": 6}))
    sms_body = sms_body_field()
    eta = forms.DateTimeField(label="Expected fix", required=False, widget=DATETIME)
    notify = forms.BooleanField(label="Tell the customers", required=False, initial=True)

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        _zone_labels(self, "eta")
        if incident.kind != Incident.Kind.OUTAGE:
            del self.fields["status"]
            del self.fields["eta"]

    def payload(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "status" or v}
        if "eta" in self.fields:
            data["eta"] = self.cleaned_data.get("eta")
        return data


class NoticeForm(forms.Form):
    """Resolve or cancel: an optional text (the service has a default)."""

    body = forms.CharField(label="Text", required=False, widget=forms.Textarea(attrs={"rows": 4}))
    sms_body = sms_body_field()


class RcaForm(forms.Form):
    title = forms.CharField(label="Title", required=False, max_length=200)
    body = forms.CharField(label="Root cause", widget=forms.Textarea(attrs={"rows": 8}))
    sms_body = sms_body_field()


class IncidentFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "All kinds"), *Incident.Kind.choices])
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Incident.Status.choices]
    )
    search = forms.CharField(required=False, max_length=200)
