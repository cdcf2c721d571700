"""Limits on what a notification may hold and use: field lengths, the
rendered size, and an allow-list of template tags and filters."""

import pytest

from notifications.models import Notification

pytestmark = pytest.mark.django_db

URL = "/api/notifications/"


def _create(client, **fields):
    payload = {"title": "Hi", "body": "Dear {{ customer.name }}", "channels": ["email"]}
    payload.update(fields)
    return client.post(URL, payload, format="json")


@pytest.mark.parametrize("field, limit", [("title", 200), ("body", 20_000), ("body_html", 100_000)])
def test_it_refuses_a_field_over_its_maximum_length(engineer_client, field, limit):
    response = _create(engineer_client, **{field: "x" * (limit + 1)})
    assert response.status_code == 400
    assert f"no more than {limit} characters" in response.json()[field][0]
    assert not Notification.objects.exists()
    assert _create(engineer_client, **{field: "x" * limit}).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        "{% debug %}",
        "{% lorem 10000 p %}",
        "{% load static %}",
        "{% url 'web-home' %}",
        "{% csrf_token %}",
        "{% include 'base.html' %}",
        "{{ customer|pprint }}",
        '{{ customer.name|ljust:"99999999" }}',
        "{% filter center:'99999999' %}x{% endfilter %}",
    ],
)
def test_it_refuses_tags_and_filters_outside_the_allow_list(engineer_client, body):
    response = _create(engineer_client, body=body)
    assert response.status_code == 400, body
    assert "does not compile" in response.json()["body"][0]


def test_the_allowed_tags_and_filters_still_work(engineer_client):
    body = (
        "{% if customer.name %}Dear {{ customer.name|title }},{% endif %} "
        "{% for word in 'ab' %}{{ word|upper }}{% endfor %} "
        "{{ customer.location|default:'your area' }} {{ end_at|default:'soon' }}"
    )
    response = _create(engineer_client, body=body)
    assert response.status_code == 201, response.json()
    assert response.json()["sms_preview"] is None


def test_it_refuses_a_template_whose_sample_renders_over_the_size_cap(engineer_client):
    # "Sample Customer" is 15 characters: 15⁴ × 10 bytes ≈ 500 KB.
    loop = "{% for c in customer.name %}"
    body = loop * 4 + "xxxxxxxxxx" + "{% endfor %}" * 4
    response = _create(engineer_client, body=body)
    assert response.status_code == 400
    assert "too large" in response.json()["body"][0]
    assert "262144 bytes" in response.json()["body"][0]
