"""A customer's consents, changed by the customer from a link in an email
(no sign-in): the preferences page and one-click unsubscribe (RFC 8058)."""

import logging

from django.db import transaction

from customers.models import Customer
from customers.tokens import customer_token_read

logger = logging.getLogger("proactive.customers")

CONSENT_FIELDS = ("email_opt_in", "sms_opt_in", "marketing_opt_in")


def customer_from_token(*, token: str) -> Customer | None:
    """The customer a preferences or unsubscribe link was made for."""
    customer_id = customer_token_read(token=token)
    if customer_id is None:
        return None
    return Customer.objects.filter(pk=customer_id).first()


@transaction.atomic
def customer_consent_update(*, customer: Customer, **consents: bool) -> Customer:
    """Set any of email_opt_in, sms_opt_in and marketing_opt_in."""
    unknown = set(consents) - set(CONSENT_FIELDS)
    if unknown:
        raise ValueError(f"Not a consent: {', '.join(sorted(unknown))}")
    changed = [name for name, value in consents.items() if getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, consents[name])
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
        logger.info(
            "customer consent changed",
            extra={"customer_id": customer.pk, "fields": changed},
        )
    return customer


def customer_unsubscribe_marketing(*, customer: Customer) -> Customer:
    """One-click unsubscribe: marketing consent off. Service messages
    (outages, maintenance) keep reaching the customer."""
    return customer_consent_update(customer=customer, marketing_opt_in=False)
