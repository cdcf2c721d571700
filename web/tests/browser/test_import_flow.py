import pytest
from playwright.sync_api import expect

from customers.models import Customer
from customers.services import site_create
from web.tests.browser.conftest import check_landmarks, screenshot, sign_in

pytestmark = pytest.mark.browser

CSV = (
    "account_number,name,email,phone,last_mile_site,timezone\n"
    "IMP-1,Good One,good1@example.com,79001112233,LM-1,Europe/Moscow\n"
    "IMP-2,Bad Zone,,,LM-1,Mars/Olympus\n"
    "IMP-3,Unknown Site,,,NOWHERE,UTC\n"
    "IMP-4,Good Two,good2@example.com,,,UTC\n"
)


def test_an_import_with_bad_rows_shows_the_rejected_rows(page, engineer, tmp_path):
    site_create(code="LM-1", name="Birch Street")
    upload = tmp_path / "customers.csv"
    upload.write_text(CSV, encoding="utf-8")

    sign_in(page, engineer.username)
    page.goto("/customers/")
    page.get_by_role("link", name="Import CSV").click()
    check_landmarks(page)
    page.get_by_label("CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()

    result = page.get_by_test_id("import-result")
    expect(result).to_contain_text("2 created")
    expect(result).to_contain_text("2 rejected")
    rejected = result.get_by_role("table", name="Rejected rows")
    expect(rejected.get_by_role("row").filter(has_text="Mars/Olympus")).to_contain_text("3")
    expect(rejected.get_by_role("row").filter(has_text="NOWHERE")).to_contain_text("4")
    screenshot(page, "import-result")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the rejected rows (CSV)").click()
    report = download_info.value.path().read_text(encoding="utf-8")
    assert report.splitlines()[0] == "row,field,error"
    assert "NOWHERE" in report
    assert set(Customer.objects.values_list("account_number", flat=True)) == {"IMP-1", "IMP-4"}
