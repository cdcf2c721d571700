"""Search indexes shaped like the search (customers.filters.search_condition):
names are matched anywhere (trigrams), phones by any run of digits
(trigrams of digits), emails and account numbers from their beginning
(B-tree pattern indexes). One trigram index over all four columns was slow
on a million rows: the trigrams every email shares ("exa", "com") make each
look-up read hundreds of thousands of entries."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS customer_name_trgm ON customers_customer "
    "USING gin (UPPER(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS customer_phone_trgm ON customers_customer "
    "USING gin (phone gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS customer_email_prefix ON customers_customer "
    "(email varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS customer_account_prefix ON customers_customer "
    "(UPPER(account_number) text_pattern_ops)",
)
DROP = (
    "customer_name_trgm",
    "customer_phone_trgm",
    "customer_email_prefix",
    "customer_account_prefix",
)
COMBINED = (
    "CREATE INDEX IF NOT EXISTS customer_search_trgm ON customers_customer USING gin "
    "((UPPER(name || ' ' || email || ' ' || phone || ' ' || account_number)) gin_trgm_ops)"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS customer_search_trgm")
    for sql in CREATE:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in DROP:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute(COMBINED)


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_search_one_trigram_index")]

    operations = [migrations.RunPython(create, drop)]
