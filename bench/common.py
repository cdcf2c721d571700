"""What several benchmarks set up the same way."""


def customer_account(customer, *, username: str):
    """The customer's own account, created approved and confirmed (with no
    usable password) if they have none yet."""
    from django.utils import timezone

    from accounts.models import ApprovalStatus, Role, User
    from customers.models import Customer

    if customer.user_id is not None:
        return customer.user
    user = User.objects.create(
        username=username,
        email=customer.email,
        role=Role.CUSTOMER,
        approval_status=ApprovalStatus.APPROVED,
        email_confirmed_at=timezone.now(),
        password="!",
    )
    Customer.objects.filter(pk=customer.pk).update(user=user)
    return user
