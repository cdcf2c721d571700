"""Website forms. They check shapes; the rules live in each app's services
(and, where the API already states them, its serializers)."""

from django import forms
from django.utils.timezone import get_current_timezone_name

from accounts.models import Role, validate_timezone


def add_api_errors(form: forms.Form, errors: dict, *, nested: str = "") -> None:
    """Put the API's {field: [sentences]} on the form's fields of those names (the
    rest on the form as a whole); `nested` names a serializer whose own fields
    are the form's."""
    for field, messages in errors.items():
        if field == nested and isinstance(messages, dict):
            add_api_errors(form, messages)
            continue
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(field if field in form.fields else None, str(message))


class LoginForm(forms.Form):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SignupForm(forms.Form):
    role = forms.ChoiceField(
        choices=[
            (Role.CUSTOMER, "Customer — raise and follow tickets"),
            (Role.ENGINEER, "Engineer — needs an administrator's approval"),
        ],
        widget=forms.RadioSelect,
        initial=Role.CUSTOMER,
        label="I am a",
    )
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password.",
    )

    def validate_with(self, serializer_class) -> bool:
        """Validate with the API's serializer so the website and the API apply the same rules."""
        if not self.is_valid():
            return False
        serializer = serializer_class(data=self.cleaned_data)
        if serializer.is_valid():
            self.cleaned_data = dict(serializer.validated_data)
            return True
        add_api_errors(self, serializer.errors)
        return False


class UserSettingsForm(forms.Form):
    """An engineer's or admin's own settings."""

    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        help_text="IANA name, e.g. Europe/Moscow; the website shows every time in it.",
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off"}),
    )

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        validate_timezone(value)
        return value


class DecisionForm(forms.Form):
    reason = forms.CharField(max_length=2000, required=False, widget=forms.TextInput)


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment", widget=forms.Textarea(attrs={"rows": 4}), max_length=20000
    )
    internal = forms.BooleanField(
        required=False, label="Internal note (never shown to the customer)"
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(label="File", help_text="PNG, JPEG, GIF, PDF, plain text or CSV.")


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="New status", choices=())
    note = forms.CharField(
        label="Note — sent to the customer",
        help_text="Optional; the customer's email about the change includes it.",
        required=False,
        max_length=5000,
        widget=forms.TextInput,
    )

    def __init__(self, *args, allowed: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s, s.replace("_", " ")) for s in allowed]


class ResolveForm(forms.Form):
    resolution = forms.CharField(
        label="Resolution — sent to the customer",
        help_text="The customer receives this text by email and sees it on their ticket.",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10000,
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label="Engineer", queryset=None, empty_label=None)

    def __init__(self, *args, engineers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = engineers
        self.fields["assignee"].label_from_instance = lambda u: (
            f"{u.get_full_name() or u.username} — {getattr(u, 'open_tickets', 0)} open"
        )


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=())
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=0, max_value=24 * 60, initial=0
    )
    notes = forms.CharField(
        label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=20000
    )

    def __init__(self, *args, **kwargs):
        from tickets.models import Interaction

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = Interaction.Kind.choices


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input; the tickets service checks each one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class TicketForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    description = forms.CharField(
        label="What happened?",
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=20000,
    )
    service_type = forms.ModelChoiceField(
        label="Service", queryset=None, required=False, empty_label="Not sure"
    )
    priority = forms.ChoiceField(label="Priority", choices=(), initial="medium")
    attachments = MultipleFileField(
        label="Photos or files (optional)",
        required=False,
        help_text="PNG, JPEG, GIF, PDF, plain text or CSV; up to 10 files.",
    )

    def __init__(self, *args, **kwargs):
        from customers.models import ServiceType
        from tickets.models import Priority

        super().__init__(*args, **kwargs)
        self.fields["service_type"].queryset = ServiceType.objects.order_by("name")
        self.fields["priority"].choices = Priority.choices


class TicketEditForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=20000,
    )
    priority = forms.ChoiceField(label="Priority", choices=())
    service_type = forms.ModelChoiceField(
        label="Service", queryset=None, required=False, empty_label="None"
    )

    def __init__(self, *args, **kwargs):
        from customers.models import ServiceType
        from tickets.models import Priority

        super().__init__(*args, **kwargs)
        self.fields["service_type"].queryset = ServiceType.objects.order_by("name")
        self.fields["priority"].choices = Priority.choices


class CustomerForm(forms.Form):
    """The shape of the customer form; the values are checked by the API's
    CustomerSerializer (customers.validation), the same rules as the API and import."""

    account_number = forms.CharField(label="Account number", max_length=64)
    name = forms.CharField(label="Name", max_length=200)
    email = forms.CharField(label="Email", required=False, widget=forms.EmailInput)
    phone = forms.CharField(
        label="Phone",
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
        help_text="Any common format, e.g. +7 900 123-45-67 or 79001234567.",
    )
    operator_code = forms.CharField(
        label="Operator code",
        required=False,
        help_text="Leave empty to derive it from the phone number.",
    )
    location = forms.CharField(label="Location", required=False)
    last_mile_site = forms.CharField(label="Last-mile site code", required=False)
    service_type = forms.CharField(label="Service type code", required=False)
    tags = forms.CharField(label="Tags", required=False, help_text="Separate tags with commas.")
    timezone = forms.CharField(
        label="Time zone", initial="UTC", help_text="IANA name, e.g. Europe/Moscow."
    )
    contact_window_start = forms.CharField(
        label="Contact from",
        initial="08:00",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "HH:MM"}),
    )
    contact_window_end = forms.CharField(
        label="Contact until",
        initial="22:00",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "HH:MM"}),
        help_text="A window may cross midnight, e.g. 22:00–06:00.",
    )
    email_opt_in = forms.BooleanField(label="Receives email", required=False, initial=True)
    sms_opt_in = forms.BooleanField(label="Receives SMS", required=False, initial=True)
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def payload(self) -> dict:
        data = dict(self.cleaned_data)
        data["tags"] = [t.strip() for t in data.get("tags", "").split(",") if t.strip()]
        for code in ("last_mile_site", "service_type"):
            if code in data:
                data[code] = data[code] or None
        return data

    def check_everything(self, make_serializer) -> None:
        """Collect every error at once (form and API rules), saving nothing."""
        self.is_valid()
        serializer = make_serializer(self.payload())
        if not serializer.is_valid():
            add_api_errors(
                self, {k: v for k, v in serializer.errors.items() if k not in self.errors}
            )

    def validated_serializer(self, make_serializer):
        """The API serializer built by `make_serializer(data)` once it accepts the
        form's values; None (with the errors on the form) otherwise."""
        if not self.is_valid():
            return None
        serializer = make_serializer(self.payload())
        if serializer.is_valid():
            return serializer
        add_api_errors(self, serializer.errors)
        return None


class ProfileForm(forms.Form):
    email = forms.EmailField(label="Email", required=False)
    phone = forms.CharField(
        label="Phone", required=False, widget=forms.TextInput(attrs={"type": "tel"})
    )
    timezone = forms.CharField(label="Time zone", help_text="IANA name, e.g. Europe/Moscow.")
    contact_window_start = forms.CharField(
        label="Contact me from", help_text="HH:MM, your local time."
    )
    contact_window_end = forms.CharField(
        label="Contact me until", help_text="HH:MM; may cross midnight."
    )
    email_opt_in = forms.BooleanField(label="Send me notifications by email", required=False)
    sms_opt_in = forms.BooleanField(label="Send me notifications by SMS", required=False)
    marketing_opt_in = forms.BooleanField(
        label="Send me news and offers",
        required=False,
        help_text="Outage and maintenance notices reach you either way.",
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, header row with the customer field names; tags separated by ';'.",
    )


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(";", ",").replace("\n", ",").split(",") if v.strip()]


class AudienceForm(forms.Form):
    """Whom a notification or an incident's notice goes to (as the audience
    filters of the API take them; the pages fill in the choices) and how."""

    channels = forms.MultipleChoiceField(
        label="Channels",
        choices=[("email", "Email"), ("sms", "SMS")],
        widget=forms.CheckboxSelectMultiple,
        initial=["email"],
    )
    respect_contact_window = forms.BooleanField(
        label="Deliver only inside each customer's contact hours", required=False, initial=True
    )

    last_mile_site = forms.MultipleChoiceField(
        label="Sites (with every site beneath)", required=False, choices=()
    )
    service_type = forms.MultipleChoiceField(
        label="Service types", required=False, choices=(), widget=forms.CheckboxSelectMultiple
    )
    location = forms.CharField(label="Locations", required=False, help_text="Comma-separated.")
    tag = forms.CharField(label="Tags", required=False, help_text="Comma-separated.")
    operator_code = forms.CharField(
        label="Operator codes", required=False, help_text="Comma-separated, e.g. 900, 903."
    )
    account_numbers = forms.CharField(
        label="Account numbers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "Paste account numbers (one per line or comma-separated); "
            "they are added to the filters' customers."
        ),
    )


class NotificationForm(AudienceForm):
    """The compose form. Values are checked by the API's NotificationSerializer."""

    kind = forms.ChoiceField(label="Kind", choices=())
    title = forms.CharField(label="Title (email subject)", max_length=200)
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 10}))
    category = forms.ChoiceField(
        label="Category",
        choices=[("service", "Service"), ("marketing", "Marketing")],
        initial="service",
        required=False,
        help_text=(
            "Service: outages, maintenance, root causes, account news; reaches everyone "
            "who has not opted out of the channel. Marketing: offers and news; reaches only "
            "customers who agreed to marketing, and each email carries a one-click unsubscribe."
        ),
    )
    fallback_channel = forms.ChoiceField(
        label="If a customer cannot be reached on these channels",
        choices=[
            ("", "Do nothing"),
            ("sms", "Send one SMS instead"),
            ("email", "Send one email instead"),
        ],
        required=False,
        help_text=(
            "Used when the customer has no address, opted out, is suppressed "
            "or the send fails for good."
        ),
    )
    everyone = forms.BooleanField(
        label="Every active customer",
        required=False,
        help_text="A general send to everyone waits for a second staff member's approval.",
    )
    start_at = forms.DateTimeField(
        label="Start (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: when you send it.",
    )
    end_at = forms.DateTimeField(
        label="End (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Nothing is delivered after this time.",
    )
    test_phone = forms.CharField(
        label="Phone for a test SMS",
        required=False,
        max_length=32,
        help_text="Test emails go to your own address.",
    )

    def __init__(self, *args, **kwargs):
        from customers.models import ServiceType, Site
        from notifications.models import Notification

        super().__init__(*args, **kwargs)
        # Django reads and shows these in the viewer's zone; say which one.
        zone = get_current_timezone_name()
        self.fields["start_at"].label = f"Start ({zone})"
        self.fields["end_at"].label = f"End ({zone})"
        self.fields["kind"].choices = Notification.Kind.choices
        self.fields["last_mile_site"].choices = [
            (code, f"{'  ' * depth}{'└ ' if depth else ''}{name} ({code})")
            for code, name, depth in Site.objects.order_by("path").values_list(
                "code", "name", "depth"
            )
        ]
        self.fields["service_type"].choices = list(
            ServiceType.objects.order_by("name").values_list("code", "name")
        )

    def audience(self) -> tuple[dict, list[str]]:
        """The audience spec, and the pasted account numbers nobody has."""
        from customers.models import Customer

        data = self.cleaned_data
        accounts = _split(data.get("account_numbers", ""))
        found = dict(
            Customer.objects.filter(account_number__in=accounts).values_list("account_number", "id")
        )
        unknown = [a for a in accounts if a not in found]
        spec = {
            "last_mile_site": list(data.get("last_mile_site") or []),
            "service_type": list(data.get("service_type") or []),
            "location": _split(data.get("location", "")),
            "tag": _split(data.get("tag", "")),
            "operator_code": _split(data.get("operator_code", "")),
            "customer_ids": sorted(found.values()),
        }
        if data.get("everyone"):
            spec["all"] = True
        return spec, unknown

    def payload(self) -> dict:
        spec, _ = self.audience()
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "title": data["title"],
            "body": data["body"],
            "channels": data["channels"],
            "category": data.get("category") or "service",
            "fallback_channel": data.get("fallback_channel") or None,
            "audience": spec,
            "start_at": data.get("start_at"),
            "end_at": data.get("end_at"),
            "respect_contact_window": data.get("respect_contact_window", False),
        }

    def validated_serializer(self, make_serializer):
        if not self.is_valid():
            return None
        _, unknown = self.audience()
        if unknown:
            self.add_error(
                "account_numbers",
                f"No customer has account number(s) {', '.join(unknown[:20])}; check them.",
            )
            return None
        serializer = make_serializer(self.payload())
        if serializer.is_valid():
            return serializer
        add_api_errors(self, serializer.errors, nested="audience")
        return None

    @staticmethod
    def initial_from(notification) -> dict:
        from customers.models import Customer

        audience = notification.audience or {}
        accounts = Customer.objects.filter(pk__in=audience.get("customer_ids") or []).values_list(
            "account_number", flat=True
        )
        return {
            "kind": notification.kind,
            "title": notification.title,
            "body": notification.body,
            "channels": notification.channels,
            "category": notification.category,
            "fallback_channel": notification.fallback_channel or "",
            "everyone": audience.get("all") is True,
            "last_mile_site": audience.get("last_mile_site", []),
            "service_type": audience.get("service_type", []),
            "location": ", ".join(audience.get("location", [])),
            "tag": ", ".join(audience.get("tag", [])),
            "operator_code": ", ".join(audience.get("operator_code", [])),
            "account_numbers": "\n".join(accounts),
            "start_at": notification.start_at,
            "end_at": notification.end_at,
            "respect_contact_window": notification.respect_contact_window,
        }


class SiteForm(forms.Form):
    code = forms.CharField(label="Code", max_length=64)
    name = forms.CharField(label="Name", max_length=200)
    location = forms.CharField(label="Location", max_length=200, required=False)
    parent = forms.ChoiceField(label="Parent site", required=False, choices=())

    def __init__(self, *args, exclude_path: str = "", **kwargs):
        from customers.models import Site

        super().__init__(*args, **kwargs)
        sites = Site.objects.order_by("path").values_list("code", "name", "depth", "path")
        self.fields["parent"].choices = [("", "None (top of the tree)")] + [
            (code, f"{'  ' * depth}{name} ({code})")
            for code, name, depth, path in sites
            if not (exclude_path and path.startswith(exclude_path))
        ]

    def payload(self) -> dict:
        data = dict(self.cleaned_data)
        data["parent"] = data["parent"] or None
        return data


class ServiceTypeForm(forms.Form):
    code = forms.CharField(label="Code", max_length=64)
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(label="Description", required=False, widget=forms.TextInput)


class TicketCancelForm(forms.Form):
    """A customer cancels their ticket, saying why if they like (kept as typed)."""

    note = forms.CharField(required=False, strip=False)


class TicketTextForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=20000,
    )
