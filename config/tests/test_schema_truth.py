"""The served schema describes what the API really returns (each of these
was a violation schemathesis found), and documents the errors every
operation can give."""

import pytest

from conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(admin_user):
    return client_for(admin_user).get("/api/schema/?format=json").json()


def _component(schema, name):
    return schema["components"]["schemas"][name]


def test_times_of_day_are_hh_mm_strings_not_openapi_times(schema):
    window = _component(schema, "Customer")["properties"]["contact_window_start"]
    assert window["type"] == "string" and "format" not in window
    assert window["pattern"] == r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def test_an_empty_email_is_allowed_where_it_is_returned(schema):
    for component in ("Customer", "User"):
        email = _component(schema, component)["properties"]["email"]
        assert {"type": "string", "maxLength": 0} in email["anyOf"], component


def test_a_tickets_service_type_may_be_null(schema):
    assert _component(schema, "Ticket")["properties"]["service_type"]["nullable"] is True


def test_recent_interactions_are_a_page_of_many(schema):
    response = schema["paths"]["/api/interactions/recent/"]["get"]["responses"]["200"]
    page = _component(
        schema, response["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    )
    assert page["properties"]["results"]["type"] == "array"


def test_a_cursor_page_of_customers_need_not_have_a_count(schema):
    response = schema["paths"]["/api/customers/"]["get"]["responses"]["200"]
    page = _component(
        schema, response["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    )
    assert "count" not in page.get("required", [])


def test_every_operation_documents_the_errors_the_framework_gives(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in ("post", "put", "patch"):
                assert {"400", "413"} <= codes, (method, path)
    login = schema["paths"]["/api/login/"]["post"]["responses"]
    assert "401" not in login  # anyone may call it
    assert "401" in schema["paths"]["/api/me/"]["get"]["responses"]
    conflict = schema["paths"]["/api/tickets/{id}/comments/"]["post"]["responses"]
    assert "409" in conflict


def test_names_of_people_who_may_be_gone_may_be_null(schema):
    # System events (automatic assignment) and comments of deleted accounts have no person.
    for component, field in (("TicketEvent", "actor_username"), ("Comment", "author_username")):
        assert _component(schema, component)["properties"][field]["nullable"] is True
