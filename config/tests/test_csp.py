"""HTML pages carry a Content-Security-Policy that allows scripts only from our
own files, and no page or template relies on inline script."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory

from config.csp import ContentSecurityPolicyMiddleware


class ScriptAudit(HTMLParser):
    """Collects inline scripts and inline event handlers in a page."""

    def __init__(self):
        super().__init__()
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and not names.get("src") and names.get("type") != "application/json":
            self.inline_scripts.append(str(attrs))
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def audit(html: str) -> ScriptAudit:
    parser = ScriptAudit()
    parser.feed(html)
    return parser


def test_the_policy_allows_scripts_only_from_our_own_origin():
    policy = directives(settings.CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in settings.CONTENT_SECURITY_POLICY


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/signup/", "/docs/", "/admin/login/"])
def test_anonymous_pages_send_it_and_have_no_inline_script(path):
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    found = audit(response.content.decode())
    assert found.inline_scripts == []
    assert found.handlers == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/customers/", "/notifications/new/", "/tickets/"])
def test_staff_pages_send_it_and_have_no_inline_script(path, engineer):
    client = Client()
    client.force_login(engineer)
    response = client.get(path)
    assert response.status_code == 200
    assert "Content-Security-Policy" in response
    found = audit(response.content.decode())
    assert (found.inline_scripts, found.handlers) == ([], [])


@pytest.mark.django_db
def test_json_answers_do_not_need_it(customer_client):
    response = customer_client.get("/api/me/")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response


def test_a_page_that_sets_its_own_policy_keeps_it():
    sandboxed = HttpResponse("<p>file</p>", content_type="text/html")
    sandboxed["Content-Security-Policy"] = "sandbox"
    middleware = ContentSecurityPolicyMiddleware(lambda request: sandboxed)
    response = middleware(RequestFactory().get("/"))
    assert response["Content-Security-Policy"] == "sandbox"


def test_no_template_has_inline_script_or_event_handlers():
    offenders = []
    for template in Path(settings.BASE_DIR).glob("*/templates/**/*.html"):
        found = audit(template.read_text())
        inline = [s for s in found.inline_scripts if "{%" not in s]
        if inline or found.handlers:
            offenders.append(f"{template}: {inline + found.handlers}")
        if re.search(r"hx-on|hx-vars|[\"']js:", template.read_text()):
            offenders.append(f"{template}: htmx attribute that needs eval")
    assert offenders == []
