"""Sites (a tree) and service types: who may read and write, moves, deletes."""

import pytest

from conftest import client_for
from customers.models import Site
from customers.tests import helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def sites():
    return helpers.tree()


def test_staff_read_sites_and_customers_do_not(engineer, customer_user, anon_client, sites):
    body = client_for(engineer).get("/api/sites/").json()
    assert body["count"] == 7
    lm1 = next(s for s in body["results"] if s["code"] == "LM1")
    assert lm1["parent"] == "AN1" and lm1["location"] == "Moscow"
    assert client_for(customer_user).get("/api/sites/").status_code == 403
    assert anon_client.get("/api/sites/").status_code == 401


def test_engineers_cannot_write_sites(engineer, sites):
    client = client_for(engineer)
    assert client.post("/api/sites/", {"code": "X", "name": "X"}, format="json").status_code == 403
    url = f"/api/sites/{sites['LM1'].pk}/"
    assert client.patch(url, {"name": "Renamed"}, format="json").status_code == 403
    assert client.delete(url).status_code == 403
    assert Site.objects.get(code="LM1").name == "Last mile 1"


def test_admins_create_sites_under_a_parent(admin_user, sites):
    client = client_for(admin_user)
    response = client.post(
        "/api/sites/", {"code": "CAB9", "name": "Cabinet 9", "parent": "LM2"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["parent"] == "LM2" and response.json()["depth"] == 3
    site = Site.objects.get(code="CAB9")
    assert site.path == f"{sites['LM2'].path}{site.pk}/"


def test_creating_with_an_unknown_parent_or_duplicate_code_is_rejected(admin_user, sites):
    client = client_for(admin_user)
    unknown = client.post("/api/sites/", {"code": "N", "name": "N", "parent": "ZZ"}, format="json")
    assert unknown.status_code == 400 and "ZZ" in unknown.json()["parent"][0]
    dup = client.post("/api/sites/", {"code": "LM1", "name": "again"}, format="json")
    assert dup.status_code == 400 and "code" in dup.json()
    spaces = client.post("/api/sites/", {"code": "A B", "name": "x"}, format="json")
    assert spaces.status_code == 400


def test_moving_a_site_rewrites_the_whole_subtree(admin_user, sites):
    client = client_for(admin_user)
    response = client.patch(f"/api/sites/{sites['AN1'].pk}/", {"parent": "POP2"}, format="json")
    assert response.status_code == 200, response.json()
    pop2 = sites["POP2"]
    an1, lm1, cab1 = (Site.objects.get(code=c) for c in ("AN1", "LM1", "CAB1"))
    assert an1.path == f"{pop2.path}{an1.pk}/" and an1.depth == 1
    assert lm1.path == f"{an1.path}{lm1.pk}/" and lm1.depth == 2
    assert cab1.path == f"{lm1.path}{cab1.pk}/" and cab1.depth == 3
    assert Site.objects.get(code="LM2").path.startswith(sites["POP1"].path)
    to_top = client.patch(f"/api/sites/{sites['LM2'].pk}/", {"parent": None}, format="json")
    assert to_top.json()["depth"] == 0 and to_top.json()["parent"] is None


def test_a_site_cannot_move_beneath_itself(admin_user, sites):
    client = client_for(admin_user)
    for parent in ("CAB1", "AN1"):
        response = client.patch(f"/api/sites/{sites['AN1'].pk}/", {"parent": parent}, format="json")
        assert response.status_code == 400
        assert "parent" in response.json()
    assert Site.objects.get(code="AN1").parent.code == "POP1"


def test_renaming_keeps_the_tree(admin_user, sites):
    response = client_for(admin_user).put(
        f"/api/sites/{sites['AN1'].pk}/",
        {"code": "AN1-NEW", "name": "Renamed", "location": "Moscow", "parent": "POP1"},
        format="json",
    )
    assert response.status_code == 200
    assert Site.objects.get(code="AN1-NEW").path == sites["AN1"].path


def test_a_site_with_customers_cannot_be_deleted(admin_user, sites):
    helpers.customer(last_mile_site=sites["CAB1"])
    helpers.customer(last_mile_site=sites["LM1"])
    response = client_for(admin_user).delete(f"/api/sites/{sites['AN1'].pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "site_in_use"
    assert "2 customers" in response.json()["detail"]
    assert Site.objects.filter(code="AN1").exists()


def test_a_site_with_children_but_no_customers_cannot_be_deleted(admin_user, sites):
    response = client_for(admin_user).delete(f"/api/sites/{sites['AN2'].pk}/")
    assert response.status_code == 409 and response.json()["code"] == "site_has_children"


def test_an_empty_leaf_site_is_deleted(admin_user, sites):
    assert client_for(admin_user).delete(f"/api/sites/{sites['LM2'].pk}/").status_code == 204
    assert not Site.objects.filter(code="LM2").exists()


def test_site_detail_counts_customers_beneath(engineer, sites):
    helpers.customer(last_mile_site=sites["CAB1"])
    helpers.customer(last_mile_site=sites["LM2"])
    body = client_for(engineer).get(f"/api/sites/{sites['POP1'].pk}/").json()
    assert body["customer_count"] == 2


def test_site_filters(engineer, sites):
    client = client_for(engineer)
    tops = client.get("/api/sites/?parent=none").json()["results"]
    assert {s["code"] for s in tops} == {"POP1", "POP2"}
    beneath = client.get("/api/sites/?beneath=AN1").json()["results"]
    assert {s["code"] for s in beneath} == {"AN1", "LM1", "CAB1"}
    children = client.get("/api/sites/?parent=POP1").json()["results"]
    assert {s["code"] for s in children} == {"AN1", "AN2"}


def test_service_types_read_by_staff_written_by_admins(engineer, admin_user, customer_user):
    admin = client_for(admin_user)
    created = admin.post(
        "/api/service-types/", {"code": "fibre", "name": "Fibre", "description": "FTTH"}
    )
    assert created.status_code == 201
    assert set(created.json()) == {"id", "code", "name", "description"}
    url = f"/api/service-types/{created.json()['id']}/"
    assert client_for(engineer).get("/api/service-types/").json()["count"] == 1
    assert client_for(engineer).patch(url, {"name": "x"}).status_code == 403
    assert client_for(customer_user).get("/api/service-types/").json()["count"] == 1
    assert client_for(customer_user).patch(url, {"name": "x"}).status_code == 403
    dup = admin.post("/api/service-types/", {"code": "fibre", "name": "Again"})
    assert dup.status_code == 400
    assert admin.patch(url, {"name": "Fibre 1G"}).json()["name"] == "Fibre 1G"


def test_a_service_type_in_use_cannot_be_deleted(admin_user):
    fibre = helpers.service("fibre")
    helpers.customer(service_type=fibre)
    response = client_for(admin_user).delete(f"/api/service-types/{fibre.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "service_type_in_use"
    unused = helpers.service("dsl")
    assert client_for(admin_user).delete(f"/api/service-types/{unused.pk}/").status_code == 204
