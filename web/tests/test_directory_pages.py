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


@pytest.mark.django_db
class TestSiteAdministration:
    def test_an_admin_adds_moves_and_deletes_sites(self, web_client, admin_user, tree):
        pop, node, leaf, sibling = tree
        from customers.models import Site

        client = web_client(admin_user)
        assert (
            client.post("/sites/new/", {"code": "POP-S", "name": "South POP", "parent": ""})[
                "Location"
            ]
            == "/sites/"
        )
        south = Site.objects.get(code="POP-S")
        duplicate = client.post("/sites/new/", {"code": "POP-S", "name": "Again", "parent": ""})
        assert duplicate.status_code == 400
        assert Site.objects.filter(code="POP-S").count() == 1
        client.post(
            f"/sites/{node.pk}/", {"code": "AN-1", "name": "Access node 1", "parent": "POP-S"}
        )
        node.refresh_from_db()
        leaf.refresh_from_db()
        assert node.parent == south
        assert leaf.path.startswith(south.path)
        page = client.get("/sites/").content.decode()
        assert 'href="/customers/?last_mile_site=POP-S">3 customers' in page
        refused = client.post(f"/sites/{leaf.pk}/delete/", follow=True)
        assert "cannot be deleted" in refused.content.decode()
        empty = site_create(code="EMPTY", name="Empty")
        client.post(f"/sites/{empty.pk}/delete/")
        assert not Site.objects.filter(code="EMPTY").exists()

    def test_an_admin_adds_and_deletes_service_types(self, web_client, admin_user, tree):
        client = web_client(admin_user)
        client.post("/service-types/new/", {"code": "dsl", "name": "DSL"})
        dsl = ServiceType.objects.get(code="dsl")
        bad = client.post("/service-types/new/", {"code": "dsl", "name": "Again"})
        assert bad.status_code == 400 and "already exists" in bad.content.decode()
        fibre = ServiceType.objects.get(code="fibre")
        refused = client.post(f"/service-types/{fibre.pk}/delete/", follow=True)
        assert "cannot be deleted" in refused.content.decode()
        client.post(f"/service-types/{dsl.pk}/delete/")
        assert not ServiceType.objects.filter(code="dsl").exists()

    def test_engineers_only_read_the_tree(self, web_client, engineer, tree):
        pop = tree[0]
        client = web_client(engineer)
        assert "Add a site" not in client.get("/sites/").content.decode()
        assert client.post("/sites/new/", {"code": "X", "name": "X"}).status_code == 403
        assert client.get(f"/sites/{pop.pk}/").status_code == 403
