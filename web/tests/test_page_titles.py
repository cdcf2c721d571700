"""Every page's <title> is plain text: a template block that leaks markup
into it shows up as raw tags in the browser tab and in bookmarks."""

import re
from html import unescape

import pytest

from web.tests.test_permissions import (
    ADMIN_OBJECT_PAGES,
    ADMIN_PAGES,
    PORTAL_OBJECT_PAGES,
    PORTAL_PAGES,
    STAFF_OBJECT_PAGES,
    STAFF_PAGES,
    objects,  # noqa: F401  (the fixture the object pages need)
)

TITLE = re.compile(rb"<title>(.*?)</title>", re.S)
PUBLIC_PAGES = ["/login/", "/signup/"]


def plain_title(content: bytes) -> str:
    found = TITLE.findall(content)
    assert len(found) == 1, "a page has exactly one <title>"
    text = unescape(found[0].decode()).strip()
    assert text.endswith("— Proactive"), text
    assert "<" not in text and ">" not in text and "{" not in text, text
    assert "\n" not in text, text
    return text


@pytest.mark.django_db
class TestTitles:
    @pytest.mark.parametrize(
        "url", [*STAFF_PAGES, *ADMIN_PAGES, *STAFF_OBJECT_PAGES, *ADMIN_OBJECT_PAGES]
    )
    def test_it_gives_every_staff_page_a_plain_title(self, web_client, admin_user, objects, url):  # noqa: F811
        response = web_client(admin_user).get(url.format(**objects))
        assert response.status_code == 200
        if response["Content-Type"].startswith("text/html") and b"<html" in response.content:
            plain_title(response.content)

    @pytest.mark.parametrize("url", [*PORTAL_PAGES, *PORTAL_OBJECT_PAGES])
    def test_it_gives_every_portal_page_a_plain_title(
        self,
        web_client,
        customer_user,
        objects,  # noqa: F811
        url,
    ):
        response = web_client(customer_user).get(url.format(**objects))
        assert response.status_code == 200
        if b"<html" in response.content:
            plain_title(response.content)

    @pytest.mark.parametrize("url", PUBLIC_PAGES)
    def test_it_gives_the_public_pages_a_plain_title(self, client, url):
        plain_title(client.get(url).content)

    def test_the_compose_page_title_names_the_page_only(self, web_client, engineer):
        title = plain_title(web_client(engineer).get("/notifications/new/").content)
        assert title == "New notification — Proactive"


def test_the_check_catches_markup_in_a_title():
    with pytest.raises(AssertionError):
        plain_title(
            b"<title>New notification<script src=x></script> \xe2\x80\x94 Proactive</title>"
        )
