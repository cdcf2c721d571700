"""The unique index of a notification's messages by customer and channel,
conditioned on the notification only: it then serves every query by
notification alone, which the index by notification and status (0011) no
longer does for all statuses. A NULL customer never conflicted, so nothing
it accepts changes. A partial index, so SQLite creates it in place (an
unconditional one would rebuild the table, and its tally triggers with it)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0011_message_notification_live"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="message",
            name="message_one_per_recipient_channel",
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                condition=models.Q(("notification__isnull", False)),
                fields=("notification", "customer", "channel"),
                name="message_one_per_recipient_channel",
            ),
        ),
    ]
