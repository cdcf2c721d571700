"""Directory writes: sites, service types, tags and customers."""

import logging
import time

from django.db import IntegrityError, connection, transaction
from django.db.models import F, ProtectedError, RestrictedError, Value
from django.db.models.functions import Concat, Substr
from rest_framework.exceptions import ValidationError

from accounts.tokens import ConfirmationRefused
from config.exceptions import Conflict
from customers.models import Customer, CustomerSearchEntry, ServiceType, Site, Tag

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------- sites


def _site_path(*, site_id: int, parent: Site | None) -> str:
    return f"{parent.path if parent else '/'}{site_id}/"


@transaction.atomic
def site_create(*, code: str, name: str, location: str = "", parent: Site | None = None) -> Site:
    if Site.objects.filter(code=code).exists():
        raise ValidationError({"code": [f"A site with code {code!r} already exists."]})
    site = Site.objects.create(code=code, name=name, location=location, parent=parent)
    site.path = _site_path(site_id=site.pk, parent=parent)
    site.depth = parent.depth + 1 if parent else 0
    site.save(update_fields=["path", "depth"])
    return site


def site_tree_bulk_create(*, sites: list[Site]) -> list[Site]:
    """Create many sites at once; each site's parent must come earlier in the
    list (or already exist). Used by the demo seed and imports of networks."""
    created: list[Site] = []
    level = [s for s in sites if s.parent is None or s.parent.pk is not None]
    pending = [s for s in sites if s not in level]
    while level:
        Site.objects.bulk_create(level, batch_size=500)
        for site in level:
            site.path = _site_path(site_id=site.pk, parent=site.parent)
            site.depth = site.parent.depth + 1 if site.parent else 0
        Site.objects.bulk_update(level, ["path", "depth"], batch_size=500)
        created.extend(level)
        level = [s for s in pending if s.parent.pk is not None]
        pending = [s for s in pending if s.parent.pk is None]
    return created


@transaction.atomic
def site_move(*, site: Site, parent: Site | None) -> Site:
    """Hang a site (and everything beneath it) under another parent. The
    paths and depths of the whole subtree change in one UPDATE."""
    site.refresh_from_db(fields=["path", "depth", "parent"])
    if parent is not None:
        parent.refresh_from_db(fields=["path", "depth"])
        if parent.path.startswith(site.path):
            raise ValidationError(
                {"parent": [f"Site {parent.code} lies beneath {site.code}; choose another parent."]}
            )
    old_path, old_depth = site.path, site.depth
    new_path = _site_path(site_id=site.pk, parent=parent)
    new_depth = parent.depth + 1 if parent else 0
    Site.objects.filter(pk=site.pk).update(parent=parent)
    Site.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        depth=F("depth") + (new_depth - old_depth),
    )
    site.refresh_from_db()
    return site


@transaction.atomic
def site_update(*, site: Site, data: dict) -> Site:
    """Change a site's code, name, location and (if given) its parent."""
    code = data.get("code")
    if code and code != site.code and Site.objects.filter(code=code).exists():
        raise ValidationError({"code": [f"A site with code {code!r} already exists."]})
    fields = [f for f in ("code", "name", "location") if f in data]
    for field in fields:
        setattr(site, field, data[field])
    if fields:
        site.save(update_fields=fields)
    if "parent" in data and data["parent"] != site.parent:
        site = site_move(site=site, parent=data["parent"])
    return site


@transaction.atomic
def site_delete(*, site: Site) -> None:
    customers = Customer.objects.filter(last_mile_site__path__startswith=site.path).count()
    if customers:
        raise Conflict(
            detail=(
                f"Site {site.code} cannot be deleted: {customers} customers are attached to it "
                "or to sites beneath it; move them first."
            ),
            code="site_in_use",
        )
    children = site.children.count()
    if children:
        raise Conflict(
            detail=(
                f"Site {site.code} cannot be deleted: it has {children} child sites; "
                "move or delete them first."
            ),
            code="site_has_children",
        )
    site.delete()


# ------------------------------------------------------------- service types


@transaction.atomic
def service_type_delete(*, service_type: ServiceType) -> None:
    customers = service_type.customers.count()
    if customers:
        raise Conflict(
            detail=(
                f"Service type {service_type.code} cannot be deleted: {customers} customers "
                "use it; change their service type first."
            ),
            code="service_type_in_use",
        )
    service_type.delete()


# ---------------------------------------------------------------------- tags


def tag_ids_for_names(*, names: set[str]) -> dict[str, int]:
    """Tag name → id, creating the tags that do not exist yet."""
    if not names:
        return {}
    existing = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    missing = names - existing.keys()
    if missing:
        Tag.objects.bulk_create([Tag(name=n) for n in missing], ignore_conflicts=True)
        existing.update(Tag.objects.filter(name__in=missing).values_list("name", "id"))
    return existing


def customer_set_tags(*, customer: Customer, names: list[str]) -> None:
    ids = tag_ids_for_names(names=set(names))
    customer.tags.set(list(ids.values()))


# ----------------------------------------------------------------- customers


def _unique_errors(*, data: dict, exclude_pk: int | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    others = Customer.objects.exclude(pk=exclude_pk) if exclude_pk else Customer.objects.all()
    account = data.get("account_number")
    if account and others.filter(account_number=account).exists():
        errors["account_number"] = [f"Account number {account} is already used by a customer."]
    email = data.get("email")
    if email and others.filter(email=email).exists():
        errors["email"] = [f"Email {email} is already used by another customer."]
    return errors


def _save_customer(*, customer: Customer, data: dict) -> Customer:
    errors = _unique_errors(data=data, exclude_pk=customer.pk)
    if errors:
        raise ValidationError(errors)
    tags = data.pop("tags", None)
    for field, value in data.items():
        setattr(customer, field, value)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:  # a concurrent write took the number or email
        raise ValidationError(
            {"non_field_errors": ["Account number or email is already used; reload and retry."]}
        ) from exc
    if tags is not None:
        customer_set_tags(customer=customer, names=tags)
    return customer


@transaction.atomic
def customer_create(*, data: dict) -> Customer:
    """Create a customer from validated data (see customers.validation)."""
    return _save_customer(customer=Customer(), data=dict(data))


@transaction.atomic
def customer_update(*, customer: Customer, data: dict) -> Customer:
    """Apply validated changes to a customer."""
    return _save_customer(customer=customer, data=dict(data))


@transaction.atomic
def customer_update_own(*, customer: Customer, data: dict) -> Customer:
    """A customer changes their own record. A new email address is not taken
    until its owner follows the link emailed to it; the record keeps the old
    one meanwhile."""
    from accounts.services import email_change_request

    data = dict(data)
    email = data.pop("email", None)
    if email is not None and customer.user_id is not None:
        if not email:
            raise ValidationError(
                {"email": ["Give an email address: your account signs in and hears from us there."]}
            )
        if Customer.objects.filter(email__iexact=email).exclude(pk=customer.pk).exists():
            raise ValidationError(
                {"email": [f"Email {email} is already used by another customer."]}
            )
        email_change_request(user=customer.user, email=email)
    return _save_customer(customer=customer, data=data)


@transaction.atomic
def customer_delete(*, customer: Customer) -> None:
    """Delete a customer; one with tickets or delivery records is kept (409),
    as those are history: deactivate it instead."""
    try:
        with transaction.atomic():
            customer.delete()
    except (ProtectedError, RestrictedError) as exc:
        kept = len(exc.protected_objects if hasattr(exc, "protected_objects") else [])
        raise Conflict(
            detail=(
                f"Customer {customer.account_number} cannot be deleted: {kept} tickets or "
                "other records refer to it; set is_active to false instead."
            ),
            code="customer_in_use",
        ) from None


def _email_taken_refusal(email: str) -> ConfirmationRefused:
    return ConfirmationRefused(
        f"Another customer record already uses {email}; ask support to link your account.",
        code="email_in_use",
    )


@transaction.atomic
def customer_link_user(*, user) -> Customer:
    """Link a customer account to its directory record, matched by email;
    create the record if the directory has none. Called once the account has
    proved it owns the address (or by staff, who vouch for it)."""
    customer = (
        Customer.objects.select_for_update()
        .filter(email__iexact=user.email, user__isnull=True)
        .first()
    )
    if customer is None:
        if Customer.objects.filter(email__iexact=user.email).exists():
            raise _email_taken_refusal(user.email)
        customer = Customer.objects.create(
            account_number=f"WEB-{user.pk:08d}",
            name=user.get_full_name() or user.username,
            email=user.email.lower(),
            user=user,
        )
    else:
        customer.user = user
        customer.save(update_fields=["user", "updated_at"])
    return customer


@transaction.atomic
def customer_on_email_confirmed(*, user, previous_email: str) -> Customer | None:
    """A customer proved they own `user.email`: their record takes the new
    address, or (first confirmation) the account is linked to its record."""
    if not user.is_customer:
        return None
    customer = Customer.objects.select_for_update().filter(user=user).first()
    if customer is None:
        return customer_link_user(user=user)
    email = user.email.lower()
    if customer.email.lower() != email:
        if Customer.objects.filter(email__iexact=email).exclude(pk=customer.pk).exists():
            raise _email_taken_refusal(email)
        customer.email = email
        customer.save(update_fields=["email", "updated_at"])
    return customer


@transaction.atomic
def customer_link_user_by_staff(*, customer: Customer, user, actor) -> Customer:
    """Staff link an account to a record by hand, vouching for the address;
    recorded in the audit log (the admin's history of the record)."""
    from django.contrib.admin.models import CHANGE, LogEntry

    from accounts.services import user_email_vouch

    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if not user.is_customer:
        raise ValidationError({"user": [f"{user.username} is not a customer account."]})
    if customer.user_id == user.pk:
        return customer
    if customer.user_id is not None:
        raise Conflict(
            detail=(
                f"Customer {customer.account_number} is already linked to another account; "
                "unlink it in the admin first."
            ),
            code="customer_already_linked",
        )
    already = Customer.objects.filter(user=user).first()
    if already is not None:
        raise Conflict(
            detail=(
                f"{user.username} is already linked to customer {already.account_number}; "
                "unlink it in the admin first."
            ),
            code="account_already_linked",
        )
    customer.user = user
    customer.save(update_fields=["user", "updated_at"])
    user_email_vouch(user=user)
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[customer],
        action_flag=CHANGE,
        change_message=f"Linked account {user.username} (id {user.pk}) by hand.",
        single_object=True,
    )
    logger.info(
        "customer linked by staff",
        extra={"customer_id": customer.pk, "user_id": user.pk, "actor_id": actor.pk},
    )
    return customer


# -------------------------------------------------------------------- search

# An import that writes at least this many customers queues a reorder of the
# search copy at once rather than leaving its rows out of order until night.
SEARCH_REORDER_AFTER_ROWS = 50_000


def customer_search_reorder() -> bool:
    """PostgreSQL: lay the search copy (CustomerSearchEntry) out in name
    order again; new and renamed customers go to the table's end meanwhile
    and are found all the same, a little slower. CLUSTER rewrites the copy
    holding its lock: searches and customer changes wait for it (a few
    seconds at a million customers), hence at night and after a large
    import. Returns False where there is nothing to do (SQLite)."""
    if connection.vendor != "postgresql":
        return False
    table = CustomerSearchEntry._meta.db_table
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(f"CLUSTER {table} USING customers_search_name_id")  # noqa: S608
        cursor.execute(f"ANALYZE {table}")  # noqa: S608
    logger.info(
        "search copy put in name order",
        extra={"seconds": round(time.monotonic() - started, 1)},
    )
    return True


def customer_search_reorder_after_import(*, written: int) -> None:
    """After an import commits: a large one has its search rows reordered
    by a task now. Losing the task costs only search time until the night."""
    if written < SEARCH_REORDER_AFTER_ROWS or connection.vendor != "postgresql":
        return
    from customers.tasks import reorder_search

    def queue() -> None:
        try:
            reorder_search.delay()
        except Exception as exc:
            logger.warning("could not queue the search reorder: %s", exc)

    transaction.on_commit(queue)
