import pytest

from conftest import client_for

PATHS = [
    "/api/tickets/",
    "/api/tickets/{id}/",
    "/api/tickets/{id}/accept/",
    "/api/tickets/{id}/assign/",
    "/api/tickets/{id}/status/",
    "/api/tickets/{id}/resolve/",
    "/api/tickets/{id}/comments/",
    "/api/tickets/{id}/attachments/",
    "/api/tickets/{id}/attachments/{attachment_id}/download/",
    "/api/tickets/{id}/events/",
    "/api/interactions/",
    "/api/interactions/recent/",
    "/api/interactions/stats/",
    "/api/engineers/",
    "/api/engineers/available/",
]


@pytest.mark.django_db
def test_the_schema_documents_every_ticket_endpoint(engineer):
    schema = client_for(engineer).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert set(PATHS) <= set(schema["paths"])
    list_parameters = {p["name"] for p in schema["paths"]["/api/tickets/"]["get"]["parameters"]}
    assert {
        "status",
        "priority",
        "assignee",
        "customer",
        "service_type",
        "active",
    } <= list_parameters
    assert {"created_after", "created_before", "search", "overdue", "scope"} <= list_parameters
    ticket = schema["components"]["schemas"]["Ticket"]["properties"]
    assert ticket["follows"]["nullable"] is True and ticket["follows"]["type"] == "integer"
    assert "follows up" in ticket["follows"]["description"]
    upload = schema["paths"]["/api/tickets/{id}/attachments/"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]
