"""The per-notification message counts (MessageTally) and the triggers on
the message table that keep them.

PostgreSQL: one statement-level trigger per INSERT and per UPDATE, with
transition tables: the statement's new rows counted by (notification,
channel, status), minus its old rows, added in one upsert to the shard of
the session's backend. A set-based cancel of a million rows pays one
grouped pass over its rows, not a million trigger calls. SQLite: row
triggers (it has no transition tables), only when a status changes.

No trigger on DELETE: retention deletes old rows and keeps the counts.
The existing messages are counted here, in the migration's transaction,
behind the trigger's lock on the table, so nothing is counted twice or
missed."""

# Only the constant table and column names below are interpolated into the SQL.
# ruff: noqa: S608

from django.db import migrations, models

TABLE = "delivery_message"
TALLY = "delivery_messagetally"
COLUMNS = "notification_id, channel, status, shard, n, first_sent_at, last_sent_at"
KEY = "notification_id, channel, status, shard"

POSTGRES_UPSERT = f"""
    ON CONFLICT ({KEY}) DO UPDATE SET
        n = t.n + excluded.n,
        first_sent_at = LEAST(t.first_sent_at, excluded.first_sent_at),
        last_sent_at = GREATEST(t.last_sent_at, excluded.last_sent_at)
"""

POSTGRES_CREATE = [
    f"""
CREATE FUNCTION delivery_message_tally_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TALLY} AS t ({COLUMNS})
    SELECT notification_id, channel, status, pg_backend_pid() % 16, count(*),
           min(sent_at) FILTER (WHERE status = 'sent'),
           max(sent_at) FILTER (WHERE status = 'sent')
    FROM new_rows
    WHERE notification_id IS NOT NULL
    GROUP BY notification_id, channel, status
    ORDER BY notification_id, channel, status
    {POSTGRES_UPSERT};
    RETURN NULL;
END
$$""",
    f"""
CREATE FUNCTION delivery_message_tally_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TALLY} AS t ({COLUMNS})
    SELECT notification_id, channel, status, pg_backend_pid() % 16, sum(delta)::bigint,
           min(first_sent_at), max(last_sent_at)
    FROM (
        SELECT notification_id, channel, status, count(*) AS delta,
               min(sent_at) FILTER (WHERE status = 'sent') AS first_sent_at,
               max(sent_at) FILTER (WHERE status = 'sent') AS last_sent_at
        FROM new_rows
        WHERE notification_id IS NOT NULL
        GROUP BY notification_id, channel, status
        UNION ALL
        SELECT notification_id, channel, status, -count(*), NULL, NULL
        FROM old_rows
        WHERE notification_id IS NOT NULL
        GROUP BY notification_id, channel, status
    ) AS change
    GROUP BY notification_id, channel, status
    HAVING sum(delta) <> 0
    ORDER BY notification_id, channel, status
    {POSTGRES_UPSERT};
    RETURN NULL;
END
$$""",
    f"""
CREATE TRIGGER delivery_message_tally_insert AFTER INSERT ON {TABLE}
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION delivery_message_tally_insert()""",
    f"""
CREATE TRIGGER delivery_message_tally_update AFTER UPDATE ON {TABLE}
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION delivery_message_tally_update()""",
]

POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS delivery_message_tally_insert ON {TABLE}",
    f"DROP TRIGGER IF EXISTS delivery_message_tally_update ON {TABLE}",
    "DROP FUNCTION IF EXISTS delivery_message_tally_insert()",
    "DROP FUNCTION IF EXISTS delivery_message_tally_update()",
]


def _sqlite_add(row: str, step: str) -> str:
    """One upsert adding `step` to the tally row of the trigger's old or new row."""
    sent_at = f"CASE WHEN {row}.status = 'sent' THEN {row}.sent_at END"
    return f"""
    INSERT INTO {TALLY} ({COLUMNS})
    SELECT {row}.notification_id, {row}.channel, {row}.status, 0, {step}, {sent_at}, {sent_at}
    WHERE {row}.notification_id IS NOT NULL
    ON CONFLICT ({KEY}) DO UPDATE SET
        n = n + excluded.n,
        first_sent_at = coalesce(
            min(first_sent_at, excluded.first_sent_at), first_sent_at, excluded.first_sent_at
        ),
        last_sent_at = coalesce(
            max(last_sent_at, excluded.last_sent_at), last_sent_at, excluded.last_sent_at
        );"""


SQLITE_CREATE = [
    f"""
CREATE TRIGGER delivery_message_tally_insert AFTER INSERT ON {TABLE}
FOR EACH ROW WHEN new.notification_id IS NOT NULL
BEGIN {_sqlite_add("new", "1")}
END""",
    f"""
CREATE TRIGGER delivery_message_tally_update
AFTER UPDATE OF status, notification_id, channel ON {TABLE}
FOR EACH ROW WHEN old.status IS NOT new.status
    OR old.notification_id IS NOT new.notification_id
    OR old.channel IS NOT new.channel
BEGIN {_sqlite_add("old", "-1")} {_sqlite_add("new", "1")}
END""",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS delivery_message_tally_insert",
    "DROP TRIGGER IF EXISTS delivery_message_tally_update",
]

BACKFILL = f"""
INSERT INTO {TALLY} ({COLUMNS})
SELECT notification_id, channel, status, 0, count(*),
       min(CASE WHEN status = 'sent' THEN sent_at END),
       max(CASE WHEN status = 'sent' THEN sent_at END)
FROM {TABLE}
WHERE notification_id IS NOT NULL
GROUP BY notification_id, channel, status
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRES_CREATE, "sqlite": SQLITE_CREATE}.get(vendor)
    if statements is None:
        raise RuntimeError(f"No message tally triggers for the {vendor} database.")
    for sql in [*statements, BACKFILL]:
        schema_editor.execute(sql, params=None)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0006_delivery_counter"),
        ("notifications", "0004_merge_20261130_1144"),
    ]

    operations = [
        migrations.CreateModel(
            name="MessageTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "channel",
                    models.CharField(choices=[("email", "Email"), ("sms", "SMS")], max_length=8),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("deferred", "Deferred"),
                            ("failed", "Failed"),
                            ("expired", "Expired"),
                            ("cancelled", "Cancelled"),
                            ("suppressed", "Suppressed"),
                            ("superseded", "Superseded"),
                        ],
                        max_length=16,
                    ),
                ),
                ("shard", models.SmallIntegerField(default=0)),
                ("n", models.BigIntegerField(default=0)),
                ("first_sent_at", models.DateTimeField(blank=True, null=True)),
                ("last_sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "notification",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="message_tallies",
                        to="notifications.notification",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("notification", "channel", "status", "shard"),
                        name="message_tally_one_per_shard",
                    )
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
