"""Input built to crash the service gets a 4xx that says what to fix:
ids beyond what a database integer holds, JSON nested thousands of levels
deep, bodies over the size cap."""

import json
import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from conftest import client_for
from customers.tests import helpers
from notifications.models import Notification

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/api/tickets/?customer=" + HUGE, "customer"),
        ("/api/tickets/?customer=1," + HUGE, "customer"),
        ("/api/tickets/?assignee=" + HUGE, "assignee"),
        ("/api/tickets/?service_type=" + HUGE, "service_type"),
        ("/api/interactions/?customer=" + HUGE, "customer"),
        ("/api/interactions/?ticket=" + HUGE, "ticket"),
        ("/api/interactions/?created_by=" + HUGE, "created_by"),
        ("/api/notifications/?created_by=" + HUGE, "created_by"),
        ("/api/notifications/{notification}/messages/?customer=" + HUGE, "customer"),
        ("/api/notifications/{notification}/messages/?customer=-" + HUGE, "customer"),
        ("/api/notifications/{notification}/messages/?customer=1e30", "customer"),
    ],
)
def test_it_refuses_an_out_of_range_id_in_a_filter_naming_the_parameter(admin_user, url, parameter):
    notification = Notification.objects.create(title="Hi", body="x", created_by=admin_user)
    response = client_for(admin_user).get(url.format(notification=notification.pk))
    assert response.status_code == 400, response.content
    assert parameter in response.json()


def test_it_still_filters_by_ordinary_ids(admin_user, customer_user):
    response = client_for(admin_user).get(f"/api/tickets/?customer={customer_user.customer.pk}")
    assert response.status_code == 200


def _api_detail_paths(admin_user) -> list[str]:
    schema = client_for(admin_user).get("/api/schema/?format=json").json()
    paths = []
    for path, operations in schema["paths"].items():
        if "get" in operations and "{" in path:
            paths.append(re.sub(r"\{[^}]+\}", HUGE, path))
    return paths


def test_it_answers_404_for_every_api_path_with_an_out_of_range_id(admin_user):
    paths = _api_detail_paths(admin_user)
    assert "/api/tickets/" + HUGE + "/" in paths
    client = client_for(admin_user)
    for path in paths:
        assert client.get(path).status_code == 404, path


def _website_paths_with_ids() -> list[str]:
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and "<int:" in route:
                found.append(
                    "/" + re.sub(r"<int:[^>]+>", HUGE, route).replace("<str:decision>", "x")
                )

    walk(get_resolver().url_patterns)
    return [path for path in found if not path.startswith(("/api/", "/admin/"))]


def test_it_answers_404_for_every_website_page_with_an_out_of_range_id(admin_user, customer_user):
    paths = _website_paths_with_ids()
    assert "/tickets/" + HUGE + "/" in paths
    for user in (admin_user, customer_user):
        browser = Client()
        browser.force_login(user)
        for path in paths:
            for method in (browser.get, browser.post):
                status = method(path).status_code
                assert status in (302, 403, 404, 405), (user.username, method, path, status)


def test_website_filters_ignore_an_out_of_range_id(admin_user):
    notification = Notification.objects.create(title="Hi", body="x", created_by=admin_user)
    browser = Client()
    browser.force_login(admin_user)
    for path in (
        f"/tickets/?assignee={HUGE}",
        f"/customers/?after={HUGE}",
        f"/notifications/{notification.pk}/?customer={HUGE}",
        f"/interactions/?days={HUGE}",
    ):
        assert browser.get(path).status_code == 200, path


def test_anonymous_login_refuses_json_nested_5000_deep(anon_client):
    response = anon_client.post("/api/login/", deep_json(5000), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    assert "32 levels" in response.json()["detail"]


def test_a_body_nested_just_over_the_limit_is_refused_and_one_within_it_is_read(
    customer_client,
):
    too_deep = {"title": "x", "description": json.loads(deep_json(33))}
    response = customer_client.post("/api/tickets/", too_deep, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    within = {"title": "x", "description": json.loads(deep_json(31))}
    response = customer_client.post("/api/tickets/", within, format="json")
    assert response.json().get("code") != "json_too_deep"


@pytest.mark.parametrize("path", ["/api/notifications/", "/api/customers/", "/api/users/{me}/"])
def test_every_endpoint_refuses_deep_json(admin_user, path):
    client = client_for(admin_user)
    method = client.patch if "{me}" in path else client.post
    response = method(
        path.format(me=admin_user.pk), deep_json(5000), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"


def test_website_forms_survive_a_deeply_nested_body(customer_user, admin_user):
    for user, path in (
        (None, "/login/"),
        (None, "/signup/"),
        (customer_user, "/portal/tickets/new/"),
        (admin_user, "/customers/new/"),
        (admin_user, "/notifications/new/"),
    ):
        browser = Client()
        if user is not None:
            browser.force_login(user)
        for content_type in ("application/json", "application/x-www-form-urlencoded"):
            response = browser.post(path, deep_json(5000), content_type=content_type)
            assert response.status_code < 500, (path, content_type)


def test_a_json_body_over_the_size_cap_is_a_413_with_a_sentence(anon_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = json.dumps({"username": "x" * 5000, "password": "y"})
    response = anon_client.post("/api/login/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is over 4096 bytes; send less data in one request.",
        "code": "request_too_large",
    }
    small = anon_client.post("/api/login/", {"username": "x", "password": "y"}, format="json")
    assert small.status_code == 400


def test_a_form_body_over_the_size_cap_is_a_413(admin_user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    response = client_for(admin_user).post(
        "/api/sites/",
        "code=x&name=" + "y" * 5000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413


def test_an_upload_over_the_upload_cap_is_a_413(admin_user, settings):
    settings.UPLOAD_REQUEST_MAX_BYTES = 4096
    helpers.service("fibre")
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile("c.csv", b"account_number,name\n" + b"A,b\n" * 2000)
    response = client_for(admin_user).post(
        "/api/customers/import/", {"file": file}, format="multipart"
    )
    assert response.status_code == 413
    assert "4096 bytes" in response.json()["detail"]


@pytest.mark.parametrize(
    "path, body, field",
    [
        (
            "/api/notifications/send/",
            {"notification": "{n}", "customers": [int(HUGE)]},
            "customers",
        ),
        ("/api/audiences/preview/", {"audience": {"customer_ids": [int(HUGE)]}}, "audience"),
        (
            "/api/notifications/",
            {"title": "a", "body": "b", "audience": {"customer_ids": [int(HUGE)]}},
            "audience",
        ),
        ("/api/tickets/", {"title": "x", "customer": int(HUGE)}, "customer"),
        ("/api/interactions/", {"customer": int(HUGE), "kind": "call"}, "customer"),
    ],
)
def test_it_refuses_an_out_of_range_id_in_a_body_naming_the_field(admin_user, path, body, field):
    notification = Notification.objects.create(title="Hi", body="x", created_by=admin_user)
    if body.get("notification") == "{n}":
        body = {**body, "notification": notification.pk}
    response = client_for(admin_user).post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
