"""The search copy (CustomerSearchEntry): on PostgreSQL a search with no
other filter reads it, so it must follow every change to the directory, and
answer exactly what the customer table would."""

import io

from django.db import connection

from conftest import client_for
from customers import services
from customers.csv_io import customer_import
from customers.models import Customer, CustomerSearchEntry
from customers.tests import helpers


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def copied() -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in CustomerSearchEntry.objects.values_list(
            "id", "name", "email", "phone", "account_number"
        )
    }


def in_directory() -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in Customer.objects.values_list("id", "name", "email", "phone", "account_number")
    }


def test_the_copy_follows_creates_changes_imports_and_deletes(postgres, admin_user):
    client = client_for(admin_user)
    olga = helpers.customer(name="Olga Morozova", email="olga@example.org")
    anna = helpers.customer(name="Anna Bolgarova")
    assert copied() == in_directory()

    services.customer_update(customer=olga, data={"name": "Olga Petrova", "location": "Tver"})
    services.customer_update(customer=anna, data={"location": "Tver"})  # no search field
    Customer.objects.filter(pk=anna.pk).update(phone="+79160000001")
    csv = "account_number,name,email\nIMP-1,Olga Import,imp1@example.org\nIMP-2,Ivan Import,\n"
    customer_import(stream=io.BytesIO(csv.encode()))
    assert copied() == in_directory()

    found = names(client.get("/api/customers/", {"search": "olga"}))
    assert found == ["Anna Bolgarova", "Olga Import", "Olga Petrova"]
    assert names(client.get("/api/customers/", {"search": "morozova"})) == []
    assert names(client.get("/api/customers/", {"search": "9160000001"})) == ["Anna Bolgarova"]

    client.delete(f"/api/customers/{olga.pk}/")
    Customer.objects.filter(account_number="IMP-2").delete()
    assert copied() == in_directory()
    assert names(client.get("/api/customers/", {"search": "olga"})) == [
        "Anna Bolgarova",
        "Olga Import",
    ]


def test_a_search_alone_finds_what_the_customer_table_finds_in_the_same_order(postgres, admin_user):
    client = client_for(admin_user)
    for n in range(30):
        helpers.customer(name=f"{['Olga', 'Ivan', 'Volga'][n % 3]} Name{n:02d}")
    helpers.customer(name="Nobody", email="olga.n@example.org")
    helpers.customer(name="Account", account_number="OLGA-1")
    for term in ("olga", "OLGA", "name1", "olga name2", "%", "ga n"):
        alone = names(client.get("/api/customers/", {"search": term, "page_size": 500}))
        # A filter that keeps everyone sends the search to the customer table.
        table = names(
            client.get("/api/customers/", {"search": term, "page_size": 500, "is_active": "true"})
        )
        assert alone == table, term
    paged = [
        names(client.get("/api/customers/", {"search": "olga", "page_size": 4, "page": page}))
        for page in (1, 2, 3)
    ]
    everyone = names(client.get("/api/customers/", {"search": "olga", "page_size": 500}))
    assert sum(paged, []) == everyone[:12]
    # Which table answered: emptied (by hand, here only), the copy finds nobody.
    CustomerSearchEntry.objects.all().delete()
    assert names(client.get("/api/customers/", {"search": "olga"})) == []
    assert names(client.get("/api/customers/", {"search": "olga", "is_active": "true"}))


def test_reordering_keeps_every_row_and_the_answers(postgres, admin_user):
    client = client_for(admin_user)
    for name in ("Zoe Olga", "Olga Adams", "Max Olgin", "Amy Olgova"):
        helpers.customer(name=name)
    before = names(client.get("/api/customers/", {"search": "olg"}))
    assert services.customer_search_reorder() is True
    assert copied() == in_directory()
    assert names(client.get("/api/customers/", {"search": "olg"})) == before == sorted(before)


def test_only_postgresql_has_a_copy_to_reorder(db):
    assert services.customer_search_reorder() is (connection.vendor == "postgresql")


def test_a_large_import_queues_a_reorder(postgres, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(services, "SEARCH_REORDER_AFTER_ROWS", 3)
    small = "account_number,name\nA-1,One\nA-2,Two\n"
    large = "account_number,name\nB-1,One\nB-2,Two\nB-3,Three\n"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        customer_import(stream=io.BytesIO(small.encode()))
    assert queued == []
    with django_capture_on_commit_callbacks(execute=False) as queued:
        customer_import(stream=io.BytesIO(large.encode()))
    assert len(queued) == 1
