"""One trigram index over title and description together (as
tickets.selectors.TitleAndDescription writes it) instead of one each: a
search scans one index and rechecks one expression, and a new ticket updates
one GIN index instead of two. PostgreSQL only."""

from django.db import migrations

COMBINED = (
    "CREATE INDEX IF NOT EXISTS ticket_search_trgm ON tickets_ticket "
    "USING gin ((UPPER(title::text || E'\\x1f' || description)) gin_trgm_ops)"
)
SEPARATE = {
    "ticket_title_trgm": "title",
    "ticket_description_trgm": "description",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(COMBINED)
    for name in SEPARATE:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in SEPARATE.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON tickets_ticket "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )
    schema_editor.execute("DROP INDEX IF EXISTS ticket_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_covered_foreign_key_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
