"""The (name, id) index of the list's default order, per database: on
PostgreSQL it carries email, phone and account number too (INCLUDE), so the
search's tests on them run on the index alone; SQLite has no such indexes
and would warn about the model option, hence SQL here."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS customer_name_covering ON customers_customer "
            "(name, id) INCLUDE (email, phone, account_number)"
        )
    else:
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS customer_name_covering ON customers_customer (name, id)"
        )


def drop(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS customer_name_covering")


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_name_index_covering")]

    operations = [
        migrations.RemoveIndex(model_name="customer", name="customer_name_covering"),
        migrations.RunPython(create, drop),
    ]
