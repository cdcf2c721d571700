"""Trigram indexes so that searching titles and descriptions (`icontains`,
which PostgreSQL runs as UPPER(col::text) LIKE UPPER('%term%')) stays fast on
large tables. PostgreSQL only; SQLite scans, which is fine at its scale."""

from django.db import migrations

INDEXES = {
    "ticket_title_trgm": "title",
    "ticket_description_trgm": "description",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON tickets_ticket "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
