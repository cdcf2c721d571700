"""Hooks through which the apps above accounts learn of account events.

accounts is the lowest layer: it never imports the directory or the delivery
pipeline. Those register themselves here in their AppConfig.ready()."""

from collections.abc import Callable

# Called inside the confirming transaction with (user, previous_email) once a
# user has proved they own `user.email`; raising refuses the confirmation.
email_confirmed_handlers: list[Callable] = []

# Queues one transactional email: (to=..., subject=..., body=...). Without a
# registered sender Django's email framework sends it after the commit.
email_senders: list[Callable] = []


def on_email_confirmed(handler: Callable) -> Callable:
    if handler not in email_confirmed_handlers:
        email_confirmed_handlers.append(handler)
    return handler


def register_email_sender(sender: Callable) -> Callable:
    email_senders[:] = [sender]
    return sender
