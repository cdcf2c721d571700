"""A notification's rows by status, but for cancelled and superseded ones:
the rows a cancel or a supersession marks in bulk no longer write an entry
into this index (delivery.models.Message). The new index is built before
the old one goes, so queries by notification and status always have one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0010_sent_mark"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "pending",
                            "sending",
                            "sent",
                            "deferred",
                            "failed",
                            "expired",
                            "suppressed",
                        ],
                    )
                ),
                fields=["notification", "status"],
                name="message_notification_live",
            ),
        ),
        migrations.RemoveIndex(
            model_name="message",
            name="message_notification_status",
        ),
    ]
