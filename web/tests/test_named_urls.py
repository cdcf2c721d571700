"""Every website address has a name, and views redirect by name (reverse()),
never to a hard-coded path, so moving a page is one change in web/urls.py."""

import ast
from pathlib import Path

import pytest

from web.urls import urlpatterns

VIEWS = Path(__file__).resolve().parents[1] / "views"


def test_it_names_every_website_address():
    unnamed = [str(p.pattern) for p in urlpatterns if not p.name]
    assert unnamed == []


def hard_coded_redirects(source: str) -> list[int]:
    """Lines where redirect() is given a path literal ("/…" or an f-string)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "redirect"):
            continue
        target = node.args[0] if node.args else None
        literal = isinstance(target, ast.Constant) and str(target.value).startswith("/")
        if literal or isinstance(target, ast.JoinedStr):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", sorted(VIEWS.glob("*.py")), ids=lambda p: p.name)
def test_views_redirect_by_name(path):
    assert hard_coded_redirects(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    ['redirect("/customers/")', 'redirect(f"/tickets/{ticket.pk}/")'],
)
def test_the_check_catches_a_hard_coded_path(source):
    assert hard_coded_redirects(source) == [1]
