"""Incident rules: declaring, updating, resolving, maintenance automation,
the root-cause report, alarms."""

from django.db.models import F

from incidents.models import Incident


def incident_record_deflection(*, incident: Incident) -> None:
    """A customer saw "we already know about this outage" and did not raise
    a ticket. One atomic increment, safe under concurrent visitors."""
    Incident.objects.filter(pk=incident.pk).update(deflected_count=F("deflected_count") + 1)
