"""`__any_of`: the same rows as `__in`, on every database."""

import pytest

from customers.models import Customer


@pytest.mark.django_db
def test_any_of_matches_the_listed_rows_like_in():
    rows = [Customer.objects.create(account_number=f"ANY-{n}", name=f"C {n}") for n in range(5)]
    wanted = [rows[0].pk, rows[3].pk, None, rows[3].pk]
    assert set(Customer.objects.filter(pk__any_of=wanted)) == {rows[0], rows[3]}
    assert set(Customer.objects.filter(pk__any_of=wanted)) == set(
        Customer.objects.filter(pk__in=wanted)
    )
    assert not Customer.objects.filter(pk__any_of=[]).exists()
    assert Customer.objects.filter(account_number__any_of=["ANY-1", "ANY-2"]).count() == 2
    assert Customer.objects.exclude(pk__any_of=[rows[1].pk]).count() == 4
