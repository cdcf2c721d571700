"""CSV import (upsert by account number) and export of customers.

The import streams the file (one batch of rows in memory at a time),
validates each row with the same functions as the API, and writes each batch
with a few set-based statements, so 100,000 rows take seconds. The whole
import is one transaction: a file that turns out to be malformed halfway
stores nothing."""

import csv
import datetime
import functools
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from customers.models import CONTACT_FIELDS, PREFERENCE_FIELDS, Customer, ServiceType, Site
from customers.services import customer_search_reorder_after_import, tag_ids_for_names
from customers.validation import (
    BOOLEAN_FIELDS,
    DEFAULTS,
    FIELDS,
    REQUIRED,
    CodeLookups,
    customer_clean,
)

BATCH_SIZE = 2000
READ_ONLY_COLUMNS = {"id", "created_at", "updated_at"}
# Model columns written by the import, in a fixed order.
COLUMNS = (
    *CONTACT_FIELDS,
    "last_mile_site_id",
    "service_type_id",
    *PREFERENCE_FIELDS,
    "is_active",
)
NEW_ROW_DEFAULTS: dict[str, Any] = {
    "email": "",
    "phone": "",
    "operator_code": "",
    "location": "",
    "last_mile_site_id": None,
    "service_type_id": None,
    "tags": [],
    **DEFAULTS,
}


class MalformedFile(ValidationError):
    """The file as a whole cannot be read as a customer CSV."""

    def __init__(self, sentence: str):
        super().__init__({"file": [sentence]})


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


@dataclass
class _Row:
    line: int
    values: dict[str, Any]


@dataclass
class _Importer:
    columns: list[str]
    result: ImportResult = field(default_factory=ImportResult)
    lookups: CodeLookups = field(default_factory=lambda: CodeLookups().preload())
    accounts_seen: dict[str, int] = field(default_factory=dict)
    emails_seen: dict[str, tuple[int, str]] = field(default_factory=dict)
    tag_ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.site_codes = {v: k for k, v in self.lookups.sites.items()}
        self.service_codes = {v: k for k, v in self.lookups.service_types.items()}

    def reject(self, line: int, errors: dict[str, list[str]]) -> None:
        self.result.rejected.append({"row": line, "errors": errors})

    def process(self, pending: list[tuple[int, list[str]]]) -> None:
        """Validate and store one batch of raw rows. A row identical to what
        an export of the stored customer would say changes nothing, so it is
        counted as unchanged without validating it again."""
        at = self.columns.index("account_number")
        accounts = [cells[at].strip() for _, cells in pending if len(cells) > at]
        existing = self._existing(accounts)
        tags = self._tags_of([c["id"] for c in existing.values()])
        rows: list[_Row] = []
        for line, cells in pending:
            stored = existing.get(cells[at].strip()) if len(cells) > at else None
            if stored is not None and self._same(cells, stored, tags):
                errors = self._file_duplicates(line, stored)
                if errors:
                    self.reject(line, errors)
                else:
                    self.result.unchanged += 1
                continue
            row = self.validate(line, cells)
            if row is not None:
                rows.append(row)
        self.write(rows)

    def _same(self, cells: list[str], stored: dict, tags: dict[int, list[str]]) -> bool:
        if len(cells) != len(self.columns):
            return False
        shown = {
            **stored,
            "last_mile_site": self.site_codes.get(stored["last_mile_site_id"]),
            "service_type": self.service_codes.get(stored["service_type_id"]),
            "tags": ";".join(tags.get(stored["id"], [])),
        }
        return all(
            not name or cell == _format(shown[name])
            for name, cell in zip(self.columns, cells, strict=True)
        )

    def _existing(self, accounts: list[str]) -> dict[str, dict]:
        if not accounts:
            return {}
        # Raw SQL: building this query through the ORM costs more than running it.
        names = ("id", *COLUMNS)
        quoted = ", ".join(connection.ops.quote_name(n) for n in names)
        where, params = _in("account_number", accounts)
        sql = f"SELECT {quoted} FROM {Customer._meta.db_table} WHERE {where}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        convert = connection.ops.convert_timefield_value if connection.vendor == "sqlite" else None
        for row in rows:
            for name in ("contact_window_start", "contact_window_end"):
                value = row[name]
                if convert and isinstance(value, str):
                    row[name] = _parse_db_time(value)
            for name in BOOLEAN_FIELDS:
                row[name] = bool(row[name])
        return {row["account_number"]: row for row in rows}

    def validate(self, line: int, cells: list[str]) -> _Row | None:
        if len(cells) != len(self.columns):
            self.reject(
                line,
                {
                    "non_field_errors": [
                        f"This row has {len(cells)} values but the header has "
                        f"{len(self.columns)}; check for a missing or extra comma."
                    ]
                },
            )
            return None
        raw = {name: value for name, value in zip(self.columns, cells, strict=True) if name}
        values, errors = customer_clean(raw, lookups=self.lookups, creating=False)
        if not errors:
            errors = self._file_duplicates(line, values)
        if errors:
            self.reject(line, errors)
            return None
        return _Row(line, values)

    def _file_duplicates(self, line: int, values: dict) -> dict[str, list[str]]:
        account = values["account_number"]
        first = self.accounts_seen.setdefault(account, line)
        if first != line:
            return {"account_number": [f"Account number {account} already appears on row {first}."]}
        email = values.get("email")
        if email:
            other_line, owner = self.emails_seen.setdefault(email, (line, account))
            if owner != account:
                return {"email": [f"Email {email} is also given on row {other_line}."]}
        return {}

    # ------------------------------------------------------------ batches

    def write(self, rows: list[_Row]) -> None:
        if not rows:
            return
        try:
            with transaction.atomic():
                self._write(rows)
        except IntegrityError:
            # Two rows of the batch collide in a way the checks could not see
            # (e.g. swapped emails): store row by row, rejecting the losers.
            for row in rows:
                try:
                    with transaction.atomic():
                        self._write([row])
                except IntegrityError:
                    self.reject(
                        row.line,
                        {"email": ["This email or account number is already used by a customer."]},
                    )

    def _write(self, rows: list[_Row]) -> None:
        existing = self._existing([r.values["account_number"] for r in rows])
        current_tags = self._tags_of([c["id"] for c in existing.values()])
        taken = self._emails_taken(rows)
        inserts, updates, tag_changes = [], [], {}
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for row in rows:
            values = row.values
            stored = existing.get(values["account_number"])
            owner = taken.get(values.get("email") or "")
            if owner is not None and owner != values["account_number"]:
                self.reject(row.line, {"email": [f"Email {values['email']} is already used."]})
                continue
            merged = {**(stored or NEW_ROW_DEFAULTS), **values}
            if stored is not None:
                merged.setdefault("tags", current_tags.get(stored["id"], []))
            if merged["contact_window_start"] == merged["contact_window_end"]:
                self.reject(
                    row.line,
                    {"contact_window_end": ["The contact window may not start and end together."]},
                )
                continue
            if stored is None:
                inserts.append(merged)
                counts["created"] += 1
                continue
            old_tags = current_tags.get(stored["id"], [])
            changed = any(merged[c] != stored[c] for c in COLUMNS)
            if changed:
                updates.append({**merged, "id": stored["id"]})
            if merged["tags"] != old_tags:
                tag_changes[stored["id"]] = merged["tags"]
            counts["updated" if changed or stored["id"] in tag_changes else "unchanged"] += 1
        self._insert(inserts)
        self._update(updates)
        self._set_tags(tag_changes, inserts)
        for key, value in counts.items():
            setattr(self.result, key, getattr(self.result, key) + value)

    def _tags_of(self, ids: list[int]) -> dict[int, list[str]]:
        tags: dict[int, list[str]] = {}
        through = Customer.tags.through.objects.filter(customer_id__in=ids)
        for customer_id, name in through.values_list("customer_id", "tag__name"):
            tags.setdefault(customer_id, []).append(name)
        return {k: sorted(v) for k, v in tags.items()}

    def _emails_taken(self, rows: list[_Row]) -> dict[str, str]:
        emails = [r.values["email"] for r in rows if r.values.get("email")]
        if not emails:
            return {}
        where, params = _in("email", emails)
        sql = f"SELECT email, account_number FROM {Customer._meta.db_table} WHERE {where}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return dict(cursor.fetchall())

    def _insert(self, rows: list[dict]) -> None:
        if not rows:
            return
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        names = ", ".join(connection.ops.quote_name(c) for c in (*COLUMNS, "created_at"))
        table = Customer._meta.db_table
        if connection.vendor == "postgresql":
            # COPY: one round trip for the whole batch instead of one per row.
            with connection.cursor() as cursor:
                copy_sql = f"COPY {table} ({names}, updated_at) FROM STDIN"
                with cursor.cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row((*_db_values(row), now, now))
            return
        marks = ", ".join(["%s"] * (len(COLUMNS) + 2))
        sql = f"INSERT INTO {table} ({names}, updated_at) VALUES ({marks})"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(sql, [(*_db_values(r), now, now) for r in rows])

    def _update(self, rows: list[dict]) -> None:
        if not rows:
            return
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        sets = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in COLUMNS)
        sql = f"UPDATE {Customer._meta.db_table} SET {sets}, updated_at = %s WHERE id = %s"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(sql, [(*_db_values(r), now, r["id"]) for r in rows])

    def _set_tags(self, changes: dict[int, list[str]], inserts: list[dict]) -> None:
        tagged_new = [r for r in inserts if r["tags"]]
        if tagged_new:
            ids = dict(
                Customer.objects.filter(
                    account_number__in=[r["account_number"] for r in tagged_new]
                ).values_list("account_number", "id")
            )
            for r in tagged_new:
                changes[ids[r["account_number"]]] = r["tags"]
        if not changes:
            return
        missing = {n for names in changes.values() for n in names} - self.tag_ids.keys()
        self.tag_ids.update(tag_ids_for_names(names=missing))
        through = Customer.tags.through
        through.objects.filter(customer_id__in=list(changes)).delete()
        through.objects.bulk_create(
            [
                through(customer_id=cid, tag_id=self.tag_ids[name])
                for cid, names in changes.items()
                for name in names
            ],
            batch_size=2000,
        )


def _in(column: str, values: list) -> tuple[str, list]:
    """`column IN (...)`; on PostgreSQL one array parameter, which is much
    cheaper to send than thousands of placeholders."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


@functools.lru_cache(maxsize=2048)
def _parse_db_time(value: str) -> datetime.time:
    return datetime.time.fromisoformat(value)


@functools.lru_cache(maxsize=2048)
def _db_time(vendor: str, value: datetime.time):
    return connection.ops.adapt_timefield_value(value)


def _db_values(row: dict) -> tuple:
    vendor = connection.vendor
    return (
        row["account_number"],
        row["name"],
        row["email"],
        row["phone"],
        row["operator_code"],
        row["location"],
        row["last_mile_site_id"],
        row["service_type_id"],
        row["timezone"],
        _db_time(vendor, row["contact_window_start"]),
        _db_time(vendor, row["contact_window_end"]),
        row["email_opt_in"],
        row["sms_opt_in"],
        row["is_active"],
    )


def _header(cells: list[str]) -> list[str]:
    columns = [c.strip().lower() for c in cells]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise MalformedFile(
            f"The header row must name the columns {', '.join(missing)}; "
            f"expected a CSV with a header such as {','.join(FIELDS[:4])},…"
        )
    unknown = [c for c in columns if c not in FIELDS and c not in READ_ONLY_COLUMNS]
    if unknown:
        raise MalformedFile(
            f"Unknown column(s) {', '.join(unknown)}; use only {', '.join(FIELDS)}."
        )
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise MalformedFile(f"The column(s) {', '.join(duplicated)} appear more than once.")
    # Read-only columns (an export's id and times) are read but ignored.
    return ["" if c in READ_ONLY_COLUMNS else c for c in columns]


def customer_import(
    *, stream: IO[bytes], progress: Callable[[int], None] | None = None
) -> ImportResult:
    """Upsert customers from a CSV byte stream (UTF-8, optional BOM, any
    line endings) by account number. Rows that fail validation are reported,
    the rest stored. `progress` is called with the number of rows read."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        with transaction.atomic():
            importer = _read(reader, progress)
    except UnicodeDecodeError:
        raise MalformedFile(
            "The file is not UTF-8 text; save it as 'CSV UTF-8' and upload it again."
        ) from None
    except csv.Error as exc:
        raise MalformedFile(
            f"The file is not a readable CSV (line {reader.line_num}: {exc}); "
            "check its quoting and upload it again."
        ) from None
    finally:
        text.detach()
    customer_search_reorder_after_import(written=importer.result.created + importer.result.updated)
    return importer.result


def _read(reader, progress: Callable[[int], None] | None) -> _Importer:
    try:
        cells = next(reader)
    except StopIteration:
        raise MalformedFile("The file is empty; upload a CSV with a header row.") from None
    if any("\x00" in c for c in cells):
        raise MalformedFile("The file is binary, not CSV text; upload a CSV file.")
    importer = _Importer(columns=_header(cells))
    batch: list[tuple[int, list[str]]] = []
    rows_read = 0
    line = reader.line_num
    for cells in reader:
        row_line, line = line + 1, reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if any("\x00" in c for c in cells):
            raise MalformedFile(f"Line {row_line} holds binary data; upload a CSV text file.")
        batch.append((row_line, [csv_cell_restore(cell) for cell in cells]))
        rows_read += 1
        if len(batch) >= BATCH_SIZE:
            importer.process(batch)
            batch = []
            if progress:
                progress(rows_read)
    importer.process(batch)
    if progress:
        progress(rows_read)
    importer.result.rejected.sort(key=lambda r: r["row"])
    return importer


# ------------------------------------------------------------------- export


# A spreadsheet runs a cell that starts with one of these as a formula
# (OWASP "CSV injection"); the export prefixes such a cell with a quote.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain number (an E.164 phone such as +79001234567, or -5) is no formula
# and is written as it is, so it stays a phone number to every reader.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def csv_cell_neutralise(text: str) -> str:
    """The cell as the export writes it. Text that already starts with
    quotes before a trigger gets one more, so the import's unquoting is
    exact for every value."""
    if text.lstrip("'").startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_cell_restore(cell: str) -> str:
    """What the export had before neutralising the cell."""
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_TRIGGERS):
        return cell[1:]
    return cell


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    return str(value)


def customer_export_rows(*, queryset: QuerySet[Customer]) -> Iterator[list[str]]:
    """The header, then one row per customer of the queryset (streamed in
    chunks), in the import's format so the file re-imports unchanged."""
    yield list(FIELDS)
    sites = dict(Site.objects.values_list("id", "code"))
    services = dict(ServiceType.objects.values_list("id", "code"))
    chunk: list[dict] = []
    for row in queryset.values("id", *COLUMNS).iterator(chunk_size=BATCH_SIZE):
        chunk.append(row)
        if len(chunk) == BATCH_SIZE:
            yield from _export_chunk(chunk, sites, services)
            chunk = []
    yield from _export_chunk(chunk, sites, services)


def _export_chunk(chunk: list[dict], sites: dict, services: dict) -> Iterable[list[str]]:
    if not chunk:
        return
    tags: dict[int, list[str]] = {}
    through = Customer.tags.through.objects.filter(customer_id__in=[r["id"] for r in chunk])
    for customer_id, name in through.values_list("customer_id", "tag__name"):
        tags.setdefault(customer_id, []).append(name)
    for row in chunk:
        row["last_mile_site"] = sites.get(row["last_mile_site_id"])
        row["service_type"] = services.get(row["service_type_id"])
        row["tags"] = ";".join(sorted(tags.get(row["id"], [])))
        yield [csv_cell_neutralise(_format(row[name])) for name in FIELDS]


class Echo:
    """A file-like object whose write returns the text, for streaming csv."""

    def write(self, value: str) -> str:
        return value


def customer_export_csv(*, queryset: QuerySet[Customer]) -> Iterator[str]:
    writer = csv.writer(Echo(), lineterminator="\r\n")
    for row in customer_export_rows(queryset=queryset):
        yield writer.writerow(row)
