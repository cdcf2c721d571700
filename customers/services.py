"""Directory writes."""

from django.db import transaction

from customers.models import Customer


@transaction.atomic
def customer_link_user(*, user) -> Customer:
    """Link a customer account to its directory record, matched by email;
    create the record if the directory has none."""
    customer = (
        Customer.objects.select_for_update()
        .filter(email__iexact=user.email, user__isnull=True)
        .first()
    )
    if customer is None:
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
