"""The customer list, detail, roles and the customer's own record."""

import pytest

from conftest import client_for
from customers.models import Customer
from customers.tests import helpers
from customers.validation import FIELDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def sites():
    return helpers.tree()


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {c["id"] for c in response.json()["results"]}


# ------------------------------------------------------------------ roles


def test_anonymous_callers_get_401(anon_client):
    for url in ("/api/customers/", "/api/customers/me/", "/api/customers/export/"):
        assert anon_client.get(url).status_code == 401
    assert anon_client.post("/api/customers/import/").status_code == 401


def test_a_customer_is_refused_the_staff_endpoints(customer_user):
    client = client_for(customer_user)
    other = helpers.customer()
    assert client.get("/api/customers/").status_code == 403
    assert client.get(f"/api/customers/{other.pk}/").status_code == 403
    assert client.get("/api/customers/export/").status_code == 403
    assert client.post("/api/customers/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"/api/customers/{other.pk}/").status_code == 403
    assert Customer.objects.filter(pk=other.pk).exists()


def test_a_pending_engineer_is_refused(pending_engineer):
    # Their token is refused outright (401); either way they see nothing.
    assert client_for(pending_engineer).get("/api/customers/").status_code in (401, 403)


def test_engineers_and_admins_manage_customers(engineer, admin_user, sites):
    helpers.service("dsl")
    for user, account in ((engineer, "E-1"), (admin_user, "A-1")):
        client = client_for(user)
        created = client.post(
            "/api/customers/",
            {"account_number": account, "name": "Max", "last_mile_site": "LM1"},
            format="json",
        )
        assert created.status_code == 201
        url = f"/api/customers/{created.json()['id']}/"
        assert client.get(url).json()["last_mile_site"] == "LM1"
        patched = client.patch(url, {"service_type": "dsl", "tags": ["vip"]}, format="json")
        assert patched.json()["service_type"] == "dsl"
        assert patched.json()["tags"] == ["vip"]
        put = client.put(url, {"account_number": account, "name": "Maxim"}, format="json")
        assert put.status_code == 200 and put.json()["name"] == "Maxim"
        assert put.json()["service_type"] == "dsl"  # PUT leaves what it does not name
        assert client.delete(url).status_code == 204
        assert client.get(url).status_code == 404


def test_put_needs_the_required_fields(admin_user):
    customer = helpers.customer()
    response = client_for(admin_user).put(
        f"/api/customers/{customer.pk}/", {"email": "x@example.com"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"account_number", "name"}


def test_the_customer_object_has_the_contract_fields(admin_user, sites):
    customer = helpers.customer(last_mile_site=sites["LM1"], tags=["b", "a"])
    body = client_for(admin_user).get(f"/api/customers/{customer.pk}/").json()
    # Every field an import or an edit writes, the opt-in only the customer sets, the timestamps.
    assert set(body) == {"id", *FIELDS, "marketing_opt_in", "created_at", "updated_at"}
    assert body["tags"] == ["a", "b"]
    assert body["marketing_opt_in"] is False
    assert body["created_at"].endswith("Z")


# --------------------------------------------------------------- filtering


def test_a_site_filter_includes_customers_three_levels_below(admin_user, sites):
    deep = helpers.customer(last_mile_site=sites["CAB1"])
    direct = helpers.customer(last_mile_site=sites["POP1"])
    sibling = helpers.customer(last_mile_site=sites["LM2"])
    elsewhere = helpers.customer(last_mile_site=sites["POP2"])
    client = client_for(admin_user)
    assert _ids(client.get("/api/customers/?last_mile_site=AN1")) == {deep.pk}
    assert _ids(client.get("/api/customers/?last_mile_site=POP1")) == {
        deep.pk,
        direct.pk,
        sibling.pk,
    }
    assert _ids(client.get("/api/customers/?last_mile_site=AN1,POP2")) == {deep.pk, elsewhere.pk}
    assert _ids(client.get("/api/customers/?last_mile_site=NOPE")) == set()


def test_moving_a_site_moves_its_customers_membership(admin_user, sites):
    deep = helpers.customer(last_mile_site=sites["CAB1"])
    client = client_for(admin_user)
    moved = client.patch(f"/api/sites/{sites['LM1'].pk}/", {"parent": "AN2"}, format="json")
    assert moved.status_code == 200, moved.json()
    assert _ids(client.get("/api/customers/?last_mile_site=AN2")) == {deep.pk}
    assert _ids(client.get("/api/customers/?last_mile_site=AN1")) == set()


def test_every_filter_takes_several_values(admin_user, sites):
    helpers.service("dsl")
    fibre = helpers.service("fibre")
    a = helpers.customer(
        location="Moscow",
        service_type=fibre,
        operator_code="900",
        timezone="Europe/Moscow",
        tags=["vip"],
    )
    b = helpers.customer(
        location="London",
        service_type=helpers.service("dsl"),
        operator_code="7911",
        timezone="Europe/London",
        tags=["school"],
        is_active=False,
    )
    c = helpers.customer(location="Paris", operator_code="601", timezone="Europe/Paris")
    client = client_for(admin_user)
    cases = {
        "location=Moscow,London": {a.pk, b.pk},
        "location=Paris": {c.pk},
        "service_type=fibre,dsl": {a.pk, b.pk},
        "service_type=dsl": {b.pk},
        "operator_code=900,601": {a.pk, c.pk},
        "timezone=Europe/London,Europe/Paris": {b.pk, c.pk},
        "tag=vip,school": {a.pk, b.pk},
        "tag=school": {b.pk},
        "is_active=false": {b.pk},
        "is_active=true": {a.pk, c.pk},
        "is_active=true,false": {a.pk, b.pk, c.pk},
        "location=Moscow,London&is_active=true": {a.pk},
    }
    for query, expected in cases.items():
        assert _ids(client.get(f"/api/customers/?{query}")) == expected, query


def test_search_finds_name_email_phone_and_account(admin_user):
    olga = helpers.customer(name="Olga Morozova", email="olga@example.com", phone="+79161234567")
    helpers.customer(name="Ivan Petrov", account_number="ZX-99")
    client = client_for(admin_user)
    for term in ("morozova", "OLGA@EXAMPLE", "+7916123", olga.account_number):
        assert _ids(client.get(f"/api/customers/?search={term.replace('+', '%2B')}")) == {
            olga.pk
        }, term
    assert len(_ids(client.get("/api/customers/?search=zx-99"))) == 1


def test_ordering_and_pagination(admin_user):
    for name in ("Charlie", "alpha", "Bravo"):
        helpers.customer(name=name)
    client = client_for(admin_user)
    names = [c["name"] for c in client.get("/api/customers/?ordering=-name").json()["results"]]
    assert names == sorted(names, reverse=True)
    page = client.get("/api/customers/?ordering=name&page_size=2").json()
    assert page["count"] == 3 and page["count_is_estimate"] is False
    assert len(page["results"]) == 2 and page["next"] and page["previous"] is None
    second = client.get(page["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert client.get("/api/customers/?page=9").status_code == 404
    assert client.get("/api/customers/?page=0").status_code == 404


def test_deep_page_numbers_point_to_cursor_pagination(admin_user):
    response = client_for(admin_user).get("/api/customers/?page=300&page_size=50")
    assert response.status_code == 400
    assert "cursor" in response.json()["page"][0]


def test_cursor_pagination_walks_the_whole_list(admin_user):
    made = {helpers.customer().pk for _ in range(5)}
    client = client_for(admin_user)
    seen, url = [], "/api/customers/?cursor=&page_size=2"
    while url:
        body = client.get(url).json()
        assert "count" not in body
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert len(seen) == 5 and set(seen) == made


# --------------------------------------------------------------------- me


def test_a_customer_reads_only_their_own_record(customer_user, other_customer_user):
    body = client_for(customer_user).get("/api/customers/me/").json()
    assert body["email"] == customer_user.email
    assert body["id"] == customer_user.customer.pk
    assert body["id"] != other_customer_user.customer.pk


def test_a_customer_edits_contact_details_and_opt_ins(customer_user):
    client = client_for(customer_user)
    response = client.patch(
        "/api/customers/me/",
        {"phone": "79001234567", "sms_opt_in": False, "timezone": "Asia/Novosibirsk"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    stored = Customer.objects.get(user=customer_user)
    assert (stored.phone, stored.operator_code, stored.sms_opt_in) == ("+79001234567", "900", False)
    assert stored.timezone == "Asia/Novosibirsk"


def test_a_customer_cannot_change_what_the_provider_owns(customer_user):
    client = client_for(customer_user)
    before = client.get("/api/customers/me/").json()
    response = client.patch(
        "/api/customers/me/", {"account_number": "FREE-1", "is_active": False}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"account_number", "is_active"}
    assert client.get("/api/customers/me/").json() == before
    same = client.patch("/api/customers/me/", before, format="json")  # round trip is fine
    assert same.status_code == 200


def test_a_customer_gets_a_clear_error_for_bad_contact_details(customer_user):
    response = client_for(customer_user).patch(
        "/api/customers/me/", {"email": "not-an-email"}, format="json"
    )
    assert response.status_code == 400 and "email" in response.json()


def test_staff_have_no_me_record(engineer, admin_user):
    assert client_for(engineer).get("/api/customers/me/").status_code == 403
    assert client_for(admin_user).patch("/api/customers/me/", {}, format="json").status_code == 403


def test_a_customer_without_a_record_gets_404(customer_user):
    Customer.objects.filter(user=customer_user).delete()
    assert client_for(customer_user).get("/api/customers/me/").status_code == 404


@pytest.mark.integration
def test_counts_on_postgresql_are_exact_for_small_lists(postgres, admin_user):
    for _ in range(3):
        helpers.customer(location="Moscow")
    body = client_for(admin_user).get("/api/customers/?location=Moscow").json()
    assert body["count"] == 3 and body["count_is_estimate"] is False


@pytest.mark.integration
def test_counts_on_postgresql_switch_to_the_estimate_for_large_lists(postgres, admin_user):
    from django.db import connection

    from customers.models import Customer

    Customer.objects.bulk_create(
        Customer(account_number=f"BULK-{n}", name=f"Bulk {n}", location="Tver")
        for n in range(12_000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    try:
        body = client_for(admin_user).get("/api/customers/?location=Tver").json()
        assert body["count_is_estimate"] is True
        assert 10_000 < body["count"] < 15_000
        assert len(body["results"]) == 50
    finally:
        # ANALYZE outlives the test's rollback: leave small statistics behind
        # for the tests that follow.
        Customer.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")


def test_counts_are_exact_while_the_table_is_small_or_unanalysed(postgres, admin_user):
    from customers.models import Customer

    Customer.objects.bulk_create(
        Customer(account_number=f"BULK-{n}", name=f"Bulk {n}", location="Tver")
        for n in range(1_500)
    )
    body = client_for(admin_user).get("/api/customers/?location=Tver").json()
    assert body["count_is_estimate"] is False
    assert body["count"] == 1_500


def test_search_terms_must_all_match_and_combine_with_filters(admin_user):
    fibre = helpers.service("fibre")
    olga = helpers.customer(name="Olga Morozova", email="o.m@example.com", service_type=fibre)
    helpers.customer(name="Olga Ivanova", service_type=fibre)
    helpers.customer(name="Morozova Anna")
    client = client_for(admin_user)
    assert _ids(client.get("/api/customers/?search=olga morozova")) == {olga.pk}
    both = client.get("/api/customers/?search=olga&service_type=fibre&ordering=name")
    assert len(_ids(both)) == 2


def test_a_phone_typed_with_spaces_and_dashes_is_found(admin_user):
    olga = helpers.customer(phone="+79161234567")
    helpers.customer(phone="+79160000000")
    client = client_for(admin_user)
    for typed in ("+7 916 123-45-67", "(916) 123-45", "9161234567"):
        assert _ids(client.get("/api/customers/", {"search": typed})) == {olga.pk}, typed


def test_search_treats_wildcards_literally(admin_user):
    helpers.customer(name="Plain name")
    percent = helpers.customer(name="100% fibre")
    client = client_for(admin_user)
    assert _ids(client.get("/api/customers/", {"search": "%"})) == {percent.pk}
    assert _ids(client.get("/api/customers/", {"search": "_"})) == set()


def test_filters_hold_on_every_page_of_a_longer_list(admin_user):
    tagged = {helpers.customer(name=f"Tagged {n:02d}", tags=["vip"]).pk for n in range(5)}
    for n in range(30):
        helpers.customer(name=f"Another {n:02d}")
    client = client_for(admin_user)
    seen, url = set(), "/api/customers/?tag=vip&page_size=2"
    while url:
        body = client.get(url).json()
        assert body["count"] == 5
        seen |= {c["id"] for c in body["results"]}
        url = body["next"]
    assert seen == tagged
    found = client.get("/api/customers/?search=tagged&page_size=3").json()
    assert found["count"] == 5 and {c["name"][:6] for c in found["results"]} == {"Tagged"}


def test_the_audience_works_inside_other_queries():
    from customers.selectors import customer_audience

    vip = helpers.customer(tags=["vip"])
    helpers.customer()
    audience = customer_audience(audience={"tag": ["vip"]})
    nested = Customer.objects.filter(pk__in=audience.values("pk")).order_by("name")[:10]
    assert list(nested) == [vip]


def test_a_customer_with_tickets_is_kept_and_can_be_deactivated(admin_user):
    from django.utils import timezone

    from tickets.models import Ticket

    customer = helpers.customer()
    Ticket.objects.create(title="No internet", customer=customer, due_at=timezone.now())
    client = client_for(admin_user)
    response = client.delete(f"/api/customers/{customer.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "customer_in_use"
    assert "is_active" in response.json()["detail"]
    assert Customer.objects.filter(pk=customer.pk).exists()
    patched = client.patch(f"/api/customers/{customer.pk}/", {"is_active": False}, format="json")
    assert patched.json()["is_active"] is False
