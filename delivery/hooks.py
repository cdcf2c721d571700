"""What delivery tells the layers above it (see config/hooks.py)."""

from config.hooks import Hook

# After a batch has recorded messages of these notifications (some may have
# nothing left to send now). Keyword argument: notification_ids (sorted ids).
# notifications connects notification_finish_if_done in its ready().
notifications_touched = Hook("delivery.notifications_touched")
