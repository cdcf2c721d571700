"""Alarms from Prometheus Alertmanager open draft outages; nothing is sent
until an engineer confirms."""

import pytest
from rest_framework.test import APIClient

from delivery.models import Message
from incidents.models import Incident, IncidentCustomer
from incidents.tests.helpers import URL

pytestmark = pytest.mark.django_db
HOOK = "/api/alerts/alertmanager/"
TOKEN = "alert-s3cret"


@pytest.fixture(autouse=True)
def token(settings):
    settings.ALERT_WEBHOOK_TOKEN = TOKEN


@pytest.fixture
def monitoring():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return client


@pytest.fixture
def network(make_customer):
    from customers.services import site_create

    node = site_create(code="NODE-1", name="North node")
    leaf = site_create(code="LM-1", name="Last mile", parent=node)
    south = site_create(code="SOUTH", name="South node")
    return {
        "north": make_customer(last_mile_site=leaf),
        "south": make_customer(last_mile_site=south),
    }


def payload(*alerts, group='{}:{alertname="LinkDown"}'):
    return {
        "version": "4",
        "groupKey": group,
        "status": "firing",
        "receiver": "proactive",
        "groupLabels": {"alertname": "LinkDown"},
        "commonLabels": {"alertname": "LinkDown"},
        "commonAnnotations": {"summary": "Uplink down"},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def alert(site, *, status="firing", fingerprint=None):
    return {
        "status": status,
        "labels": {"alertname": "LinkDown", "site": site, "severity": "critical"},
        "annotations": {"summary": "Uplink down"},
        "startsAt": "2026-11-30T10:00:00Z",
        "endsAt": "2026-11-30T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint or f"fp-{site}",
    }


def test_a_firing_alert_opens_a_draft_for_the_sites_subtree_and_sends_nothing(monitoring, network):
    response = monitoring.post(HOOK, payload(alert("NODE-1")), format="json")

    assert response.status_code == 202
    body = response.json()
    assert body["created"] is True and body["sites_added"] == ["NODE-1"]
    incident = Incident.objects.get(pk=body["incident"])
    assert incident.status == "draft"
    assert incident.title == "Alarm: Uplink down"
    assert incident.scope["last_mile_site"] == ["NODE-1"]
    audience = set(
        IncidentCustomer.objects.filter(incident=incident).values_list("customer_id", flat=True)
    )
    assert audience == {network["north"].pk}
    assert Message.objects.count() == 0


def test_a_repeated_alert_is_the_same_draft_and_a_new_site_extends_it(monitoring, network):
    first = monitoring.post(HOOK, payload(alert("NODE-1")), format="json").json()
    again = monitoring.post(HOOK, payload(alert("NODE-1")), format="json").json()
    assert again["incident"] == first["incident"]
    assert again["created"] is False and again["sites_added"] == []
    wider = monitoring.post(HOOK, payload(alert("NODE-1"), alert("SOUTH")), format="json").json()
    assert wider["incident"] == first["incident"]
    assert wider["sites_added"] == ["SOUTH"]
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert IncidentCustomer.objects.filter(incident=incident).count() == 2
    assert len(incident.alerts) == 2


def test_an_unknown_site_is_kept_on_the_draft(monitoring, network):
    response = monitoring.post(HOOK, payload(alert("NOWHERE-9")), format="json")
    assert response.status_code == 202
    assert response.json()["unknown_sites"] == ["NOWHERE-9"]
    incident = Incident.objects.get(pk=response.json()["incident"])
    [kept] = incident.alerts
    assert kept["site"] == "NOWHERE-9" and kept["note"] == "unknown site"
    assert IncidentCustomer.objects.filter(incident=incident).count() == 0


def test_a_resolved_alert_becomes_a_suggested_update(monitoring, network, engineer_client):
    opened = monitoring.post(HOOK, payload(alert("NODE-1")), format="json").json()
    monitoring.post(HOOK, payload(alert("NODE-1", status="resolved")), format="json")
    monitoring.post(HOOK, payload(alert("NODE-1", status="resolved")), format="json")

    detail = engineer_client.get(f"{URL}{opened['incident']}/").json()
    suggestions = [u for u in detail["updates"] if u["suggested"]]
    assert len(suggestions) == 1
    assert suggestions[0]["status"] == "monitoring"
    assert "resolved" in suggestions[0]["body"]
    assert suggestions[0]["notification"] is None
    assert Message.objects.count() == 0


def test_the_engineers_first_update_confirms_the_draft_and_tells_the_audience(
    monitoring, network, engineer_client
):
    opened = monitoring.post(HOOK, payload(alert("NODE-1")), format="json").json()
    response = engineer_client.post(
        f"{URL}{opened['incident']}/updates/", {"body": "We see the uplink down."}, format="json"
    )
    assert response.status_code == 201
    assert set(Message.objects.values_list("customer_id", flat=True)) == {network["north"].pk}
    later = monitoring.post(HOOK, payload(alert("SOUTH")), format="json").json()
    assert later["incident"] != opened["incident"]  # a confirmed outage is no longer a draft


def test_a_wrong_or_missing_token_is_401_and_changes_nothing(network):
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.post(HOOK, payload(alert("NODE-1")), format="json").status_code == 401
    response = APIClient().post(HOOK, payload(alert("NODE-1")), format="json")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    assert Incident.objects.count() == 0


def test_without_a_configured_token_the_webhook_is_off(monitoring, network, settings):
    settings.ALERT_WEBHOOK_TOKEN = ""
    response = monitoring.post(HOOK, payload(alert("NODE-1")), format="json")
    assert response.status_code == 403  # off: no token opens it, and it is no server fault
    assert "ALERT_WEBHOOK_TOKEN" in response.json()["detail"]


def test_a_malformed_payload_is_a_400_naming_the_field(monitoring, network):
    response = monitoring.post(HOOK, {"alerts": "many"}, format="json")
    assert response.status_code == 400
    assert "groupKey" in response.json()
    assert Incident.objects.count() == 0
