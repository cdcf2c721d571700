"""The permission matrix: anonymous, customer A (owner), customer B, engineer
X (assignee), engineer Y, admin — for every ticket endpoint and list."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tickets import services
from tickets.models import Comment, Interaction, Status, Ticket
from tickets.tests.conftest import PNG, open_ticket

ROLES = ["anonymous", "customer_a", "customer_b", "engineer_x", "engineer_y", "admin"]


def _expect(*statuses: int) -> dict[str, int]:
    """Expected status codes in the order of ROLES."""
    return dict(zip(ROLES, statuses, strict=True))


# (name, method, path, body, format, expected status per role)
MATRIX = [
    ("detail", "get", "/api/tickets/{t}/", None, _expect(401, 200, 404, 200, 200, 200)),
    (
        "edit title",
        "patch",
        "/api/tickets/{t}/",
        {"title": "Still no internet"},
        _expect(401, 200, 404, 200, 403, 200),
    ),
    ("accept", "post", "/api/tickets/{t}/accept/", {}, _expect(401, 403, 403, 200, 403, 403)),
    (
        "assign",
        "post",
        "/api/tickets/{t}/assign/",
        {"assignee": "{y}"},
        _expect(401, 403, 403, 403, 403, 200),
    ),
    (
        "put on hold",
        "post",
        "/api/tickets/{t}/status/",
        {"status": "on_hold"},
        _expect(401, 403, 404, 200, 403, 200),
    ),
    (
        "cancel",
        "post",
        "/api/tickets/{t}/status/",
        {"status": "cancelled"},
        _expect(401, 200, 404, 200, 403, 200),
    ),
    (
        "resolve",
        "post",
        "/api/tickets/{t}/resolve/",
        {"resolution": "Replaced the ONT"},
        _expect(401, 403, 403, 200, 403, 200),
    ),
    (
        "read comments",
        "get",
        "/api/tickets/{t}/comments/",
        None,
        _expect(401, 200, 404, 200, 200, 200),
    ),
    (
        "comment",
        "post",
        "/api/tickets/{t}/comments/",
        {"body": "Any news?"},
        _expect(401, 201, 404, 201, 201, 201),
    ),
    (
        "internal note",
        "post",
        "/api/tickets/{t}/comments/",
        {"body": "Check the splitter", "internal": True},
        _expect(401, 403, 404, 201, 201, 201),
    ),
    (
        "list attachments",
        "get",
        "/api/tickets/{t}/attachments/",
        None,
        _expect(401, 200, 404, 200, 200, 200),
    ),
    (
        "upload",
        "post",
        "/api/tickets/{t}/attachments/",
        "FILE",
        _expect(401, 201, 404, 201, 201, 201),
    ),
    (
        "download",
        "get",
        "/api/tickets/{t}/attachments/{a}/download/",
        None,
        _expect(401, 200, 404, 200, 200, 200),
    ),
    ("events", "get", "/api/tickets/{t}/events/", None, _expect(401, 200, 404, 200, 200, 200)),
    # A customer lists only their own interactions (B's list is empty).
    ("interactions", "get", "/api/interactions/", None, _expect(401, 200, 200, 200, 200, 200)),
    (
        "log interaction",
        "post",
        "/api/interactions/",
        {"ticket": "{t}", "kind": "call", "duration_seconds": 60},
        _expect(401, 403, 403, 201, 201, 201),
    ),
    (
        "interaction detail",
        "get",
        "/api/interactions/{i}/",
        None,
        _expect(401, 200, 404, 200, 200, 200),
    ),
    ("recent", "get", "/api/interactions/recent/", None, _expect(401, 403, 403, 200, 200, 200)),
    ("stats", "get", "/api/interactions/stats/", None, _expect(401, 403, 403, 200, 200, 200)),
    ("engineers", "get", "/api/engineers/", None, _expect(401, 403, 403, 200, 200, 200)),
    ("available", "get", "/api/engineers/available/", None, _expect(401, 403, 403, 200, 200, 200)),
]


def _fill(value, ids):
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,method,path,body,expected", MATRIX, ids=[row[0] for row in MATRIX])
def test_it_enforces_the_matrix(
    people,
    ticket_of_a,
    customer_user,
    engineer,
    other_engineer,
    role,
    name,
    method,
    path,
    body,
    expected,
):
    attachment = services.attachment_create(
        ticket=ticket_of_a,
        uploaded_by=customer_user,
        upload=SimpleUploadedFile("photo.png", PNG),
    )
    interaction = Interaction.objects.create(
        customer=ticket_of_a.customer, ticket=ticket_of_a, kind="call", created_by=engineer
    )
    ids = {"t": ticket_of_a.pk, "a": attachment.pk, "i": interaction.pk, "y": other_engineer.pk}
    url = path.format(**ids)
    client = people[role]
    if body == "FILE":
        response = client.post(
            url, {"file": SimpleUploadedFile("screen.png", PNG)}, format="multipart"
        )
    elif body is None:
        response = getattr(client, method)(url)
    else:
        response = getattr(client, method)(url, _fill(body, ids), format="json")
    assert response.status_code == expected[role], (role, name, getattr(response, "data", None))


@pytest.mark.django_db
class TestWhoSeesWhat:
    def test_it_shows_customers_only_their_own_tickets(
        self, people, ticket_of_a, other_customer_user
    ):
        theirs = open_ticket(other_customer_user, title="Slow line")
        a = people["customer_a"].get("/api/tickets/").json()
        b = people["customer_b"].get("/api/tickets/").json()
        assert [t["id"] for t in a["results"]] == [ticket_of_a.pk]
        assert [t["id"] for t in b["results"]] == [theirs.pk]

    def test_it_shows_engineers_theirs_and_unassigned_unless_scope_all(
        self, people, ticket_of_a, other_engineer, other_customer_user
    ):
        other_engineer.is_available = False
        other_engineer.save()
        Ticket.objects.filter(pk=ticket_of_a.pk)  # assigned to X
        waiting = Ticket.objects.create(
            title="w", customer=other_customer_user.customer, due_at=ticket_of_a.due_at
        )
        y_default = people["engineer_y"].get("/api/tickets/").json()
        y_all = people["engineer_y"].get("/api/tickets/?scope=all").json()
        x_default = people["engineer_x"].get("/api/tickets/").json()
        assert [t["id"] for t in y_default["results"]] == [waiting.pk]
        assert {t["id"] for t in y_all["results"]} == {waiting.pk, ticket_of_a.pk}
        assert {t["id"] for t in x_default["results"]} == {waiting.pk, ticket_of_a.pk}

    def test_it_shows_admins_every_ticket(self, people, ticket_of_a, other_customer_user):
        theirs = open_ticket(other_customer_user)
        ids = {t["id"] for t in people["admin"].get("/api/tickets/").json()["results"]}
        assert ids == {ticket_of_a.pk, theirs.pk}

    def test_it_refuses_anonymous_lists_with_401(self, people):
        assert people["anonymous"].get("/api/tickets/").status_code == 401
        assert people["anonymous"].post("/api/tickets/", {"title": "x"}).status_code == 401

    def test_it_refuses_engineers_waiting_for_approval(self, pending_engineer, ticket_of_a):
        client = APIClient()
        client.force_authenticate(pending_engineer)
        assert client.get("/api/tickets/").status_code == 403
        assert client.get(f"/api/tickets/{ticket_of_a.pk}/").status_code == 403
        assert client.get("/api/engineers/").status_code == 403

    def test_it_hides_internal_notes_from_the_customer(self, people, ticket_of_a, engineer):
        services.comment_create(ticket=ticket_of_a, author=engineer, body="Public reply")
        services.comment_create(
            ticket=ticket_of_a, author=engineer, body="Customer owes money", internal=True
        )
        seen = people["customer_a"].get(f"/api/tickets/{ticket_of_a.pk}/comments/").json()
        staff = people["engineer_y"].get(f"/api/tickets/{ticket_of_a.pk}/comments/").json()
        assert [c["body"] for c in seen["results"]] == ["Public reply"]
        assert [c["body"] for c in staff["results"]] == ["Public reply", "Customer owes money"]
        events = people["customer_a"].get(f"/api/tickets/{ticket_of_a.pk}/events/").json()
        assert all("Internal" not in e["note"] for e in events["results"])

    def test_it_does_not_let_customers_open_tickets_for_others(self, people, other_customer_user):
        response = people["customer_a"].post(
            "/api/tickets/", {"title": "x", "customer": other_customer_user.customer.pk}
        )
        assert response.status_code == 403
        assert not Ticket.objects.exists()

    def test_it_lets_customers_change_only_title_and_description(self, people, ticket_of_a):
        response = people["customer_a"].patch(
            f"/api/tickets/{ticket_of_a.pk}/", {"priority": "critical"}
        )
        assert response.status_code == 403
        ticket_of_a.refresh_from_db()
        assert ticket_of_a.priority == "medium"

    def test_it_refuses_a_customer_patching_the_status(self, people, ticket_of_a):
        response = people["customer_a"].patch(
            f"/api/tickets/{ticket_of_a.pk}/", {"status": "resolved"}
        )
        assert response.status_code == 403
        assert "cancelled with POST" in response.json()["detail"]
        ticket_of_a.refresh_from_db()
        assert ticket_of_a.status == Status.ASSIGNED

    def test_it_stops_customer_edits_once_work_started(self, people, ticket_of_a, engineer):
        services.ticket_accept(ticket=ticket_of_a, actor=engineer)
        url = f"/api/tickets/{ticket_of_a.pk}/"
        edit = people["customer_a"].patch(url, {"title": "changed"})
        cancel = people["customer_a"].post(url + "status/", {"status": "cancelled"})
        assert edit.status_code == 409
        assert cancel.status_code == 409
        assert cancel.json()["allowed"] == []
        ticket_of_a.refresh_from_db()
        assert (ticket_of_a.title, ticket_of_a.status) == ("No internet", Status.IN_PROGRESS)

    def test_it_hides_another_customers_attachment_and_comment_objects(
        self, people, ticket_of_a, customer_user
    ):
        attachment = services.attachment_create(
            ticket=ticket_of_a,
            uploaded_by=customer_user,
            upload=SimpleUploadedFile("photo.png", PNG),
        )
        url = f"/api/tickets/{ticket_of_a.pk}/attachments/{attachment.pk}/download/"
        assert people["customer_b"].get(url).status_code == 404
        assert (
            people["customer_b"]
            .post(f"/api/tickets/{ticket_of_a.pk}/comments/", {"body": "hi"})
            .status_code
            == 404
        )
        assert not Comment.objects.exists()
