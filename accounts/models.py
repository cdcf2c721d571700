import functools
import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    ENGINEER = "engineer", "Engineer"
    CUSTOMER = "customer", "Customer"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


@functools.cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    """An IANA time zone name, checked as customers' time zones are."""
    if value not in known_timezones():
        raise ValidationError(
            f"{value!r} is not a known time zone; give an IANA name such as Europe/Moscow."
        )


def default_timezone() -> str:
    return settings.TIME_ZONE


class ProactiveUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        extra_fields.setdefault("approval_status", ApprovalStatus.APPROVED)
        return super().create_superuser(username, email, password, **extra_fields)


# Who an account is, as every list of people shows it.
IDENTITY_FIELDS = ("id", "username", "email", "first_name", "last_name")


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    approval_status = models.CharField(
        max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    approval_note = models.TextField(blank=True)
    approved_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Ticket assignment: an engineer takes new tickets while available and
    # under their limit of open tickets.
    is_available = models.BooleanField(default=True)
    max_open_tickets = models.PositiveIntegerField(default=10)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # The website shows times in this zone (customers use their record's zone).
    timezone = models.CharField(
        max_length=64,
        default=default_timezone,
        validators=[validate_timezone],
        help_text="IANA name, e.g. Europe/Moscow.",
    )
    # A customer reaches the directory only once they prove they own the
    # address: until then this is empty. `pending_email` is a new address
    # waiting for the same proof; the account keeps the old one meanwhile.
    email_confirmed_at = models.DateTimeField(null=True, blank=True)
    pending_email = models.EmailField(max_length=254, blank=True)
    # "Sign out everywhere" counts up; every session signed before it no
    # longer matches (see _get_session_auth_hash).
    sessions_epoch = models.PositiveIntegerField(default=0)

    objects = ProactiveUserManager()

    class Meta:
        indexes = [models.Index(fields=["role", "approval_status"])]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN and self.is_approved

    @property
    def is_engineer(self) -> bool:
        return self.role == Role.ENGINEER and self.is_approved

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    def _get_session_auth_hash(self, secret=None):
        """Django keeps a session only while this hash matches the one stored
        in it: the password's, and after a "sign out everywhere" also the epoch."""
        if not self.sessions_epoch:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "accounts.User.session_auth_hash",
            f"{self.password}:{self.sessions_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def email_unconfirmed(self) -> bool:
        """A customer who has not yet proved they own their address."""
        return self.role == Role.CUSTOMER and self.email_confirmed_at is None

    @property
    def is_approved(self) -> bool:
        return self.approval_status == ApprovalStatus.APPROVED

    @property
    def is_staff_member(self) -> bool:
        """Admin or approved engineer: may use the directory, notifications and tickets."""
        return self.is_active and self.is_approved and self.role in (Role.ADMIN, Role.ENGINEER)


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API key, stored only as its SHA-256 hash, valid until `expires_at`."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash_key(key: str) -> str:
        return _hash_key(key)

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(32)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
