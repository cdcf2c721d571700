import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q


class Site(models.Model):
    """A node of the network tree: POP → access node → last-mile site.

    `path` is the materialised path of ids ("/3/17/42/"), so "this site and
    everything beneath it" is one indexed prefix match.
    """

    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    location = models.CharField(max_length=200, blank=True, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=1000, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    # The public status page may name this site's code only when set.
    public = models.BooleanField(default=False)

    class Meta:
        ordering = ["path"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class ServiceType(models.Model):
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


DEFAULT_WINDOW_START = datetime.time(8, 0)
DEFAULT_WINDOW_END = datetime.time(22, 0)
# The parts every list of a customer's fields is built from: who they are and
# how to reach them; when and on which channels they want to hear from us.
CONTACT_FIELDS = ("account_number", "name", "email", "phone", "operator_code", "location")
PREFERENCE_FIELDS = (
    "timezone",
    "contact_window_start",
    "contact_window_end",
    "email_opt_in",
    "sms_opt_in",
)


class Customer(models.Model):
    account_number = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +79001234567")
    operator_code = models.CharField(max_length=10, blank=True)
    location = models.CharField(max_length=200, blank=True)
    last_mile_site = models.ForeignKey(
        Site, null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    service_type = models.ForeignKey(
        ServiceType, null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    timezone = models.CharField(max_length=64, default="UTC")
    contact_window_start = models.TimeField(default=DEFAULT_WINDOW_START)
    contact_window_end = models.TimeField(default=DEFAULT_WINDOW_END)
    email_opt_in = models.BooleanField(default=True)
    sms_opt_in = models.BooleanField(default=True)
    # Consent to marketing (offers, newsletters): off until the customer turns
    # it on. Service messages (outages, maintenance, tickets) do not need it.
    marketing_opt_in = models.BooleanField(default=False, db_default=False)
    is_active = models.BooleanField(default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=~Q(email=""), name="customer_email_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["location", "id"]),
            models.Index(fields=["operator_code", "id"]),
            models.Index(fields=["timezone", "id"]),
            models.Index(fields=["is_active", "id"]),
            # (name, id), the list's default order, is created by migration
            # 0006: on PostgreSQL it also covers email, phone and account
            # number, which SQLite indexes cannot.
            models.Index(fields=["phone"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_number})"


class CustomerSearchEntry(models.Model):
    """What a search reads of each customer, narrow and, on PostgreSQL, laid
    out in name order, so the many matches of a common word ("olga") sit on
    a few pages instead of one page each. Triggers on the customer table
    keep it (migration 0009); `customers.services.customer_search_reorder`
    puts it back in name order (nightly, and after a large import). Unused
    on SQLite, where the customer table is searched directly."""

    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254)
    phone = models.CharField(max_length=20)
    account_number = models.CharField(max_length=64)

    class Meta:
        db_table = "customers_search"

    def __str__(self) -> str:
        return f"{self.name} ({self.account_number})"
