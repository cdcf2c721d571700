"""What incidents tells the layers above it (see config/hooks.py)."""

from config.hooks import Hook

# An outage was resolved. Keyword arguments: incident, actor. Runs inside the
# resolving transaction. tickets connects tickets_resolve_with_incident
# (its linked open tickets are resolved with it).
incident_resolved = Hook("incidents.incident_resolved")
