"""Trigram indexes for `?search=` on PostgreSQL: icontains becomes
UPPER(col::text) LIKE UPPER('%term%'), which a GIN index on UPPER(col) with
gin_trgm_ops answers without scanning the table. SQLite (the embedded,
small setup) gets nothing: there a scan is fast enough."""

from django.db import migrations

FIELDS = ("name", "email", "phone", "account_number")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for field in FIELDS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS customer_{field}_trgm ON customers_customer "
            f"USING gin (UPPER({field}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for field in FIELDS:
        schema_editor.execute(f"DROP INDEX IF EXISTS customer_{field}_trgm")


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
