"""The narrow, name-ordered copy of what a search reads (CustomerSearchEntry).

PostgreSQL only (the table stays empty on SQLite): the same search indexes as
the customer table's (migration 0004), a (name, id) index to lay the table
out by, statement-level triggers with transition tables that copy inserted,
changed and deleted customers (one statement per import batch, not one call
per row; an update that changes none of the four fields writes nothing), and
the existing customers copied in name order. The triggers and the copy run in
this migration's transaction, behind the triggers' lock on the customer
table, so nothing is missed."""

# Only the constant table and column names below are interpolated into the SQL.
# ruff: noqa: S608

from django.db import migrations, models

CUSTOMERS = "customers_customer"
SEARCH = "customers_search"
FIELDS = "name, email, phone, account_number"

# The search's own indexes (a bulk load may drop and rebuild them).
SEARCH_INDEXES = {
    "customers_search_name_trgm": f"CREATE INDEX customers_search_name_trgm ON {SEARCH} "
    "USING gin (UPPER(name) gin_trgm_ops)",
    "customers_search_phone_trgm": f"CREATE INDEX customers_search_phone_trgm ON {SEARCH} "
    "USING gin (phone gin_trgm_ops)",
    "customers_search_email_prefix": f"CREATE INDEX customers_search_email_prefix ON {SEARCH} "
    "(email varchar_pattern_ops)",
    "customers_search_account_prefix": f"CREATE INDEX customers_search_account_prefix ON {SEARCH} "
    "(UPPER(account_number) text_pattern_ops)",
}

POSTGRES_CREATE = [
    # The order the table is laid out in (customers.services.customer_search_reorder).
    f"CREATE INDEX customers_search_name_id ON {SEARCH} (name, id)",
    *SEARCH_INDEXES.values(),
    f"""
CREATE FUNCTION customers_search_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {SEARCH} (id, {FIELDS})
    SELECT id, {FIELDS} FROM new_rows ORDER BY name, id
    ON CONFLICT (id) DO UPDATE SET
        name = excluded.name, email = excluded.email,
        phone = excluded.phone, account_number = excluded.account_number;
    RETURN NULL;
END
$$""",
    f"""
CREATE FUNCTION customers_search_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {SEARCH} AS s
    SET name = n.name, email = n.email, phone = n.phone, account_number = n.account_number
    FROM new_rows AS n
    WHERE s.id = n.id
      AND (s.name, s.email, s.phone, s.account_number)
          IS DISTINCT FROM (n.name, n.email, n.phone, n.account_number);
    RETURN NULL;
END
$$""",
    f"""
CREATE FUNCTION customers_search_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {SEARCH} AS s USING old_rows AS o WHERE s.id = o.id;
    RETURN NULL;
END
$$""",
    f"""
CREATE TRIGGER customers_search_insert AFTER INSERT ON {CUSTOMERS}
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION customers_search_insert()""",
    f"""
CREATE TRIGGER customers_search_update AFTER UPDATE ON {CUSTOMERS}
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION customers_search_update()""",
    f"""
CREATE TRIGGER customers_search_delete AFTER DELETE ON {CUSTOMERS}
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION customers_search_delete()""",
    f"INSERT INTO {SEARCH} (id, {FIELDS}) SELECT id, {FIELDS} FROM {CUSTOMERS} ORDER BY name, id",
    f"ANALYZE {SEARCH}",
]

POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS customers_search_insert ON {CUSTOMERS}",
    f"DROP TRIGGER IF EXISTS customers_search_update ON {CUSTOMERS}",
    f"DROP TRIGGER IF EXISTS customers_search_delete ON {CUSTOMERS}",
    "DROP FUNCTION IF EXISTS customers_search_insert()",
    "DROP FUNCTION IF EXISTS customers_search_update()",
    "DROP FUNCTION IF EXISTS customers_search_delete()",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_CREATE:
            schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("customers", "0008_merge_0007_customer_marketing_opt_in_0007_site_public")]

    operations = [
        migrations.CreateModel(
            name="CustomerSearchEntry",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=200)),
                ("email", models.CharField(max_length=254)),
                ("phone", models.CharField(max_length=20)),
                ("account_number", models.CharField(max_length=64)),
            ],
            options={"db_table": "customers_search"},
        ),
        migrations.RunPython(create, drop),
    ]
