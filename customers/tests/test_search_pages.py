"""A search's pages on a large directory: the page is looked for along the
list's order first and, when it is not near the start, found by the search
indexes instead. Either way a client gets the same rows in the same order."""

import pytest
from django.db import connection

from conftest import client_for
from customers import selectors
from customers.models import Customer
from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory():
    # "Aaron …" customers first in the order, none of them an Olga; then a
    # block of "Olga …" (as every first name's customers sit together), and
    # a few whose surname holds the word, spread through the order.
    for n in range(12):
        CustomerFactory(name=f"Aaron Smith{n:02d}", email=f"aaron{n}@example.com")
    for n in range(9):
        CustomerFactory(name=f"Olga Ivanova{n:02d}", email=f"olga.ivanova{n}@example.com")
    CustomerFactory(name="Boris Olgin", email="boris@example.com")
    CustomerFactory(name="Zoe Volga", email="zoe@example.com")
    CustomerFactory(name="Pavel Smirnov", email="olga.friend@example.com")


def _expected(term: str) -> list[int]:
    rows = Customer.objects.values_list("name", "id", "email")
    hits = [(name, pk) for name, pk, mail in rows if term in name.lower() or mail.startswith(term)]
    return [pk for _, pk in sorted(hits)]


def _pages(client, term: str, size: int) -> list[int]:
    found, page = [], 1
    while True:
        response = client.get(f"/api/customers/?search={term}&page_size={size}&page={page}")
        assert response.status_code == 200, response.content
        body = response.json()
        found += [row["id"] for row in body["results"]]
        if not body["next"]:
            return found
        page += 1


@pytest.mark.parametrize(("walk", "sort"), [(5, 0), (15, 0), (10_000, 0), (5, 5_000)])
def test_every_page_of_a_search_is_the_same_whichever_way_it_is_found(
    admin_user, directory, monkeypatch, walk, sort
):
    # walk=5 : the first five names hold no match, the indexes answer;
    # walk=15: some pages lie within the walked names, the rest do not;
    # walk=10_000: the whole directory is walked;
    # sort=5_000: few matches expected, the indexes answer at once.
    monkeypatch.setattr(selectors, "SEARCH_WALK_ROWS", walk)
    monkeypatch.setattr(selectors, "SEARCH_SORT_ROWS", sort)
    client = client_for(admin_user)
    for term, size in (("olga", 4), ("olga", 50), ("aaron", 5), ("nobody", 5)):
        assert _pages(client, term, size) == _expected(term), (term, size)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_a_search_whose_matches_sit_far_into_the_order_is_answered_by_its_indexes(
    admin_user, directory, monkeypatch
):
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(selectors, "SEARCH_WALK_ROWS", 5)
    monkeypatch.setattr(selectors, "SEARCH_SORT_ROWS", 0)
    with CaptureQueriesContext(connection) as queries:
        response = client_for(admin_user).get("/api/customers/?search=olga&page_size=4")
    assert [row["name"] for row in response.json()["results"]][:2] == [
        "Olga Ivanova00",
        "Olga Ivanova01",
    ]
    # The page's ids come from the walk over the first five names (nothing
    # there), then from a query ordered by an expression no B-tree gives.
    page_queries = [q["sql"] for q in queries if "LIKE" in q["sql"] and "LIMIT" in q["sql"]]
    assert any("||" in sql or "CONCAT" in sql.upper() for sql in page_queries), page_queries
