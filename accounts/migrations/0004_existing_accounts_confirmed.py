from django.db import migrations
from django.db.models.functions import Now


def mark_existing_confirmed(apps, schema_editor):
    """Accounts created before confirmation existed were linked at sign-up
    already; they keep working as they did."""
    User = apps.get_model("accounts", "User")
    User.objects.filter(email_confirmed_at__isnull=True).update(email_confirmed_at=Now())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_email_confirmation"),
    ]

    operations = [
        migrations.RunPython(mark_existing_confirmed, migrations.RunPython.noop),
    ]
