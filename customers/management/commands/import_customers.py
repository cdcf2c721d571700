"""manage.py import_customers FILE: the CSV import of the API, with a
progress bar."""

import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import ValidationError

from customers.csv_io import customer_import


class Command(BaseCommand):
    help = "Import customers from a CSV file (upsert by account_number)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the CSV file")
        parser.add_argument(
            "--show-rejected", type=int, default=20, help="how many rejected rows to print"
        )

    def handle(self, *args, **options) -> None:
        path = options["file"]
        try:
            size = os.path.getsize(path)
            stream = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        started = time.perf_counter()

        def progress(rows: int) -> None:
            done = stream.tell() / size if size else 1.0
            bar = "#" * int(done * 30)
            self.stdout.write(f"\r[{bar:<30}] {done:4.0%} {rows} rows", ending="")
            self.stdout.flush()

        try:
            result = customer_import(stream=stream, progress=progress)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.detail.get("file", [str(exc.detail)]))) from None
        finally:
            stream.close()
        elapsed = time.perf_counter() - started
        self.stdout.write("")
        self.stdout.write(
            f"created {result.created}, updated {result.updated}, "
            f"unchanged {result.unchanged}, rejected {len(result.rejected)} in {elapsed:.1f} s"
        )
        for rejected in result.rejected[: options["show_rejected"]]:
            reasons = "; ".join(f"{k}: {' '.join(v)}" for k, v in rejected["errors"].items())
            self.stderr.write(f"  row {rejected['row']}: {reasons}")
        if len(result.rejected) > options["show_rejected"]:
            self.stderr.write(f"  … and {len(result.rejected) - options['show_rejected']} more")
        sys.stdout.flush()
