"""Starting texts for each kind of notification, offered on the compose page."""

STARTERS: dict[str, dict[str, str]] = {
    "general": {"title": "", "body": ""},
    "outage": {
        "title": "Service interruption at {{ customer.last_mile_site }}",
        "body": (
            "Dear {{ customer.name }},\n\n"
            "We are aware of an interruption of your {{ customer.service_type }} service "
            "(account {{ customer.account_number }}) since {{ start_at }}. "
            "Our engineers are working on it; we will tell you as soon as it is restored.\n\n"
            "We are sorry for the inconvenience."
        ),
    },
    "maintenance": {
        "title": "Planned maintenance at {{ customer.last_mile_site }}",
        "body": (
            "Dear {{ customer.name }},\n\n"
            "To improve your {{ customer.service_type }} service we will carry out planned "
            "maintenance starting {{ start_at }}. The service may be unavailable for short "
            "periods until the work is complete.\n\n"
            "Thank you for your patience."
        ),
    },
    "rca": {
        "title": "What caused the recent interruption at {{ customer.last_mile_site }}",
        "body": (
            "Dear {{ customer.name }},\n\n"
            "Your {{ customer.service_type }} service (account {{ customer.account_number }}) "
            "was interrupted recently. Cause: [describe the root cause]. "
            "What we changed so it does not happen again: [describe the fix].\n\n"
            "We apologise for the disruption."
        ),
    },
}

VARIABLES = [
    ("{{ customer.name }}", "the customer's name"),
    ("{{ customer.account_number }}", "account number"),
    ("{{ customer.last_mile_site }}", "their last-mile site"),
    ("{{ customer.service_type }}", "their service"),
    ("{{ customer.location }}", "their location"),
    ("{{ start_at }}", "start, in the customer's time zone"),
    ("{{ end_at }}", "end, in the customer's time zone"),
]


def is_starter_or_empty(title: str, body: str) -> bool:
    """True when the engineer has not written anything of their own yet."""
    if not title.strip() and not body.strip():
        return True
    return any(s["title"] == title and s["body"] == body for s in STARTERS.values())
