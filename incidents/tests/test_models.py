from incidents import selectors, services
from incidents.models import Incident, IncidentCustomer, IncidentUpdate


def _outage(**fields) -> Incident:
    values = {"kind": "outage", "title": "Fibre cut", "status": "investigating"}
    values.update(fields)
    return Incident.objects.create(**values)


def test_it_lists_the_active_outages_affecting_a_customer_newest_first(make_customer):
    carol, dave = make_customer(), make_customer()
    older, newer = _outage(title="Older"), _outage(title="Newer")
    finished = _outage(title="Done", status="resolved")
    draft = _outage(title="Alarm", status="draft")
    maintenance = Incident.objects.create(kind="maintenance", title="Works", status="in_progress")
    for incident in (older, newer, finished, draft, maintenance):
        IncidentCustomer.objects.create(incident=incident, customer=carol)
    IncidentUpdate.objects.create(incident=newer, status="investigating", body="Looking")
    latest = IncidentUpdate.objects.create(incident=newer, status="identified", body="Found it")

    found = selectors.incidents_active_for_customer(customer=carol)

    assert [i.title for i in found] == ["Newer", "Older"]
    assert found[0].latest_update == latest
    assert found[1].latest_update is None
    assert selectors.incidents_active_for_customer(customer=dave) == []


def test_it_counts_deflections(db):
    incident = _outage()
    services.incident_record_deflection(incident=incident)
    services.incident_record_deflection(incident=incident)
    incident.refresh_from_db()
    assert incident.deflected_count == 2
    assert incident.number == f"INC-{incident.pk:06d}"
