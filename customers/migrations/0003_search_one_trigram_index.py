"""One trigram index over the four searchable columns instead of four: a
search term is then one GIN look-up, not four OR-ed ones (see
customers.filters.CustomerSearchFilter, whose expression this must match)."""

from django.db import migrations

OLD_FIELDS = ("name", "email", "phone", "account_number")
SEARCH_EXPRESSION = "UPPER(name || ' ' || email || ' ' || phone || ' ' || account_number)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for field in OLD_FIELDS:
        schema_editor.execute(f"DROP INDEX IF EXISTS customer_{field}_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS customer_search_trgm ON customers_customer "
        f"USING gin (({SEARCH_EXPRESSION}) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS customer_search_trgm")
    for field in OLD_FIELDS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS customer_{field}_trgm ON customers_customer "
            f"USING gin (UPPER({field}) gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_search_trigram_indexes")]

    operations = [migrations.RunPython(create, drop)]
