"""What notifications asks the layers above it (see config/hooks.py)."""

from config.hooks import Question

# Who an incident's notice is for: (notification=, materialising=) → a
# queryset of customers from the incident's frozen audience. incidents
# answers with incident_notice_audience in its ready().
incident_audience = Question("notifications.incident_audience")
