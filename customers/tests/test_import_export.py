"""CSV import (upsert by account number) and export through the API."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import client_for
from customers.models import Customer
from customers.tests import helpers

pytestmark = pytest.mark.django_db

HEADER = (
    "account_number,name,email,phone,operator_code,location,last_mile_site,service_type,"
    "tags,timezone,contact_window_start,contact_window_end,email_opt_in,sms_opt_in,is_active"
)


@pytest.fixture
def directory():
    helpers.service("fibre")
    return helpers.tree()


def _upload(user, content: bytes | str, name: str = "customers.csv"):
    if isinstance(content, str):
        content = content.encode()
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client_for(user).post("/api/customers/import/", {"file": file}, format="multipart")


def _csv(*rows: str, header: str = HEADER, newline: str = "\n") -> str:
    return newline.join([header, *rows]) + newline


GOOD = [
    "ACC-1,Olga Morozova,olga@example.com,79001234567,,Moscow,LM1,fibre,vip;hospital,"
    "Europe/Moscow,22:00,06:00,true,false,true",
    "ACC-2,Ivan Petrov,,+44 7911 123456,,London,,,,Europe/London,08:00,20:00,yes,no,1",
]


def test_good_rows_are_created(engineer, directory):
    response = _upload(engineer, _csv(*GOOD))
    assert response.status_code == 200, response.json()
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0, "rejected": []}
    olga = Customer.objects.get(account_number="ACC-1")
    assert (olga.phone, olga.operator_code, olga.last_mile_site.code) == (
        "+79001234567",
        "900",
        "LM1",
    )
    assert sorted(olga.tags.values_list("name", flat=True)) == ["hospital", "vip"]
    assert olga.sms_opt_in is False and str(olga.contact_window_start) == "22:00:00"
    ivan = Customer.objects.get(account_number="ACC-2")
    assert ivan.operator_code == "7911" and ivan.last_mile_site is None


def test_bad_rows_are_reported_and_good_ones_stored(admin_user, directory):
    rows = [
        GOOD[0],
        "ACC-3,No Phone,bad-email,12,,,NOWHERE,teleport,,Mars/Base,25:00,06:00,maybe,,",
        ",Missing Account,,,,,,,,,,,,,",
        "ACC-1,Twice,,,,,,,,,,,,,",
        "ACC-4,Same Email,olga@example.com,,,,,,,,,,,,",
        "ACC-5,Short row",
        GOOD[1],
    ]
    body = _upload(admin_user, _csv(*rows)).json()
    assert (body["created"], body["updated"], body["unchanged"]) == (2, 0, 0)
    rejected = {r["row"]: r["errors"] for r in body["rejected"]}
    assert set(rejected) == {3, 4, 5, 6, 7}
    assert set(rejected[3]) == {
        "email",
        "phone",
        "last_mile_site",
        "service_type",
        "timezone",
        "contact_window_start",
        "email_opt_in",
    }
    assert "NOWHERE" in rejected[3]["last_mile_site"][0]
    assert "account_number" in rejected[4]
    assert "row 2" in rejected[5]["account_number"][0]
    assert "row 2" in rejected[6]["email"][0]
    assert "header" in rejected[7]["non_field_errors"][0]
    assert set(Customer.objects.values_list("account_number", flat=True)) == {"ACC-1", "ACC-2"}


def test_an_email_held_by_a_stored_customer_is_rejected(admin_user, directory):
    helpers.customer(account_number="OLD-1", email="olga@example.com")
    body = _upload(admin_user, _csv(GOOD[0])).json()
    assert body["created"] == 0
    assert "already used" in body["rejected"][0]["errors"]["email"][0]


def test_unknown_site_codes_are_not_created(admin_user, directory):
    row = "ACC-9,X,,,,,NEW-SITE,,,,,,,,"
    body = _upload(admin_user, _csv(row)).json()
    assert body["rejected"][0]["row"] == 2
    assert not Customer.objects.exists()
    from customers.models import Site

    assert not Site.objects.filter(code="NEW-SITE").exists()


def test_a_bom_and_windows_line_endings_are_fine(admin_user, directory):
    content = "\ufeff" + _csv(*GOOD, newline="\r\n")
    body = _upload(admin_user, content.encode("utf-8")).json()
    assert body["created"] == 2 and body["rejected"] == []
    assert Customer.objects.get(account_number="ACC-2").is_active is True


def test_reimporting_the_same_file_changes_nothing(admin_user, directory):
    _upload(admin_user, _csv(*GOOD))
    before = list(Customer.objects.order_by("id").values("id", "updated_at"))
    body = _upload(admin_user, _csv(*GOOD)).json()
    assert body == {"created": 0, "updated": 0, "unchanged": 2, "rejected": []}
    assert list(Customer.objects.order_by("id").values("id", "updated_at")) == before


def test_a_changed_row_updates_only_what_it_names(admin_user, directory):
    _upload(admin_user, _csv(*GOOD))
    partial = "account_number,name,tags,sms_opt_in\nACC-1,Olga M.,vip,true\nACC-2,Ivan Petrov,,no\n"
    body = _upload(admin_user, partial).json()
    assert (body["updated"], body["unchanged"]) == (1, 1)
    olga = Customer.objects.get(account_number="ACC-1")
    assert olga.name == "Olga M." and olga.sms_opt_in is True
    assert list(olga.tags.values_list("name", flat=True)) == ["vip"]
    assert olga.email == "olga@example.com"  # not in the file: kept


def test_export_then_import_round_trips(engineer, directory):
    _upload(engineer, _csv(*GOOD))
    helpers.customer(name='Quote "and, comma"', last_mile_site=directory["CAB1"], tags=["x"])
    exported = client_for(engineer).get("/api/customers/export/")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    content = b"".join(exported.streaming_content)
    assert content.decode().splitlines()[0] == HEADER
    body = _upload(engineer, content).json()
    assert body == {"created": 0, "updated": 0, "unchanged": 3, "rejected": []}
    Customer.objects.all().delete()
    body = _upload(engineer, content).json()
    assert body["created"] == 3 and body["rejected"] == []
    assert Customer.objects.get(name='Quote "and, comma"').last_mile_site.code == "CAB1"


def test_it_exports_formula_cells_neutralised_and_imports_them_back(engineer, directory):
    planted = helpers.customer(
        name='=HYPERLINK("http://x","click")', phone="+79001234567", location="@SUM(A1)"
    )
    dashed = helpers.customer(name="-2+3", location="'=already quoted")
    content = b"".join(client_for(engineer).get("/api/customers/export/").streaming_content)
    rows = {r[0]: r for r in csv.reader(io.StringIO(content.decode()))}
    header = rows.pop("account_number")
    first = dict(zip(header, rows[planted.account_number], strict=True))
    assert first["name"] == '\'=HYPERLINK("http://x","click")'
    assert first["location"] == "'@SUM(A1)"
    assert first["phone"] == "+79001234567"  # a number, not a formula: still importable
    second = dict(zip(header, rows[dashed.account_number], strict=True))
    assert (second["name"], second["location"]) == ("'-2+3", "''=already quoted")
    assert not [cell for row in rows.values() for cell in row if cell[:1] in ("=", "@", "\t", "\r")]

    body = _upload(engineer, content).json()
    assert body == {"created": 0, "updated": 0, "unchanged": 2, "rejected": []}
    Customer.objects.all().delete()
    body = _upload(engineer, content).json()
    assert body["created"] == 2 and body["rejected"] == []
    restored = Customer.objects.get(account_number=planted.account_number)
    assert (restored.name, restored.location, restored.phone) == (
        '=HYPERLINK("http://x","click")',
        "@SUM(A1)",
        "+79001234567",
    )
    again = Customer.objects.get(account_number=dashed.account_number)
    assert (again.name, again.location) == ("-2+3", "'=already quoted")


def test_export_takes_the_list_filters(admin_user, directory):
    helpers.customer(account_number="IN-1", last_mile_site=directory["CAB1"])
    helpers.customer(account_number="OUT-1", last_mile_site=directory["LM2"])
    content = b"".join(
        client_for(admin_user).get("/api/customers/export/?last_mile_site=AN1").streaming_content
    )
    accounts = [line.split(",")[0] for line in content.decode().splitlines()[1:]]
    assert accounts == ["IN-1"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UTF-8"),
        (b"name,email\nOlga,o@example.com\n", "account_number"),
        (b"account_number,name,colour\nA,B,red\n", "colour"),
        (b"account_number,name,name\nA,B,C\n", "more than once"),
        (_csv(*GOOD).encode("utf-16"), "UTF-8"),
        (_csv(*GOOD).encode() + b"\xff\xfe broken tail", "UTF-8"),
        (b"account_number,name\nA,B\x00C\n", "binary"),
    ],
)
def test_a_malformed_file_is_refused_and_nothing_stored(admin_user, directory, content, words):
    response = _upload(admin_user, content)
    assert response.status_code == 400
    assert words in response.json()["file"][0]
    assert not Customer.objects.exists()


def test_import_needs_a_file(admin_user):
    response = client_for(admin_user).post("/api/customers/import/", {}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()


def test_customers_cannot_import_or_export(customer_user):
    assert _upload(customer_user, _csv(*GOOD)).status_code == 403
    assert client_for(customer_user).get("/api/customers/export/").status_code == 403


def test_a_large_upload_streams_from_a_temporary_file(admin_user, directory, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # force a file on disk
    rows = [
        f"BULK-{n},Customer {n},c{n}@example.com,+7900{n:07d},,,LM1,,,,,,,," for n in range(300)
    ]
    body = _upload(admin_user, _csv(*rows)).json()
    assert body["created"] == 300 and body["rejected"] == []


def test_the_command_imports_with_a_progress_bar(tmp_path, directory):
    from django.core.management import call_command

    path = tmp_path / "customers.csv"
    path.write_text(_csv(*GOOD, "ACC-3,Bad,,1,,,,,,,,,,,"))
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", str(path), stdout=out, stderr=err)
    assert "100%" in out.getvalue()
    assert "created 2, updated 0, unchanged 0, rejected 1" in out.getvalue()
    assert "row 4: phone" in err.getvalue()


def test_the_command_names_an_unreadable_file(tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_customers", str(tmp_path / "missing.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(CommandError, match="account_number"):
        call_command("import_customers", str(bad))
