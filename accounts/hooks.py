"""What accounts tells the layers above it (see config/hooks.py)."""

from config.hooks import Hook

# A customer account may now be linked to its directory record. Keyword
# argument: user. customers connects customer_link_user in its ready().
customer_account_ready = Hook("accounts.customer_account_ready")

# An engineer became able to take tickets (approved, reactivated, available).
# No arguments; sent after the transaction commits. tickets connects
# tickets_assign_waiting in its ready().
engineer_available = Hook("accounts.engineer_available")
