"""Customers for tests: one definition of a valid, reachable customer whom
every contact window lets through, shared by every app's tests."""

import datetime

import factory

from customers.models import Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    account_number = factory.Sequence(lambda n: f"ACC-{n:06d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"+7900{n:07d}")
    timezone = "UTC"
    # A window that closes when it opens is open all day.
    contact_window_start = datetime.time(0, 0)
    contact_window_end = datetime.time(0, 0)
