import pytest

from customers.models import Customer, ServiceType
from customers.services import site_create


@pytest.fixture
def tree(db):
    pop = site_create(code="POP-N", name="North POP", location="North")
    node = site_create(code="AN-1", name="Access node 1", parent=pop)
    leaf = site_create(code="LM-1", name="Street 1", parent=node)
    sibling = site_create(code="LM-2", name="Street 2", parent=node)
    fibre = ServiceType.objects.create(code="fibre", name="Fibre")
    Customer.objects.create(
        account_number="A1", name="Ann", last_mile_site=leaf, service_type=fibre
    )
    Customer.objects.create(account_number="A2", name="Bob", last_mile_site=leaf)
    Customer.objects.create(account_number="A3", name="Cid", last_mile_site=sibling)
    return pop, node, leaf, sibling


@pytest.mark.django_db
class TestSites:
    def test_it_counts_customers_of_every_site_beneath(self, web_client, engineer, tree):
        page = web_client(engineer).get("/sites/").content.decode()
        assert 'href="/customers/?last_mile_site=POP-N">3 customers' in page
        assert 'href="/customers/?last_mile_site=AN-1">3 customers' in page
        assert 'href="/customers/?last_mile_site=LM-1">2 customers' in page
        assert 'href="/customers/?last_mile_site=LM-2">1 customer<' in page
        assert 'href="/customers/?service_type=fibre">1<' in page
