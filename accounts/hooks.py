"""What accounts tells the layers above it (see config/hooks.py).

accounts is the lowest layer: it never imports the directory or the delivery
pipeline; they connect their services here in their AppConfig.ready()."""

from config.hooks import Hook

# A user proved they own `user.email`. Keyword arguments: user, previous_email.
# Runs inside the confirming transaction; raising refuses the confirmation.
# customers connects customer_on_email_confirmed (links or updates the record).
email_confirmed = Hook("accounts.email_confirmed")

# Queues one account email. Keyword arguments: to, subject, body. delivery
# connects transactional_email_enqueue (retries, outbox); with nothing
# connected, Django's email framework sends it after the commit.
send_email = Hook("accounts.send_email")

# An engineer became able to take tickets (approved, reactivated, available).
# No arguments; sent after the transaction commits. tickets connects
# tickets_assign_waiting in its ready().
engineer_available = Hook("accounts.engineer_available")
